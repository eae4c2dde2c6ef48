"""ExitMarkerFilter: marker removal across chunk boundaries, minimal hold-back."""

from __future__ import annotations

import random

import pytest

from ecs_exec.remote import ExitMarkerFilter

NONCE = "feedface00112233"
MARKER = b"\x1b]7770;" + NONCE.encode() + b";"


def run(chunks: list[bytes]) -> tuple[bytes, int | None]:
    flt = ExitMarkerFilter(NONCE)
    out = b"".join(flt.feed(chunk) for chunk in chunks) + flt.flush()
    return out, flt.exit_code


STREAM = b"$ exit\r\nlogout\r\n" + MARKER + b"130\x07" + b"after"


def test_marker_removed_and_code_seen() -> None:
    assert run([STREAM]) == (b"$ exit\r\nlogout\r\nafter", 130)


@pytest.mark.parametrize("seed", range(10))
def test_any_split(seed: int) -> None:
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(STREAM)), 8))
    chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
    assert run(chunks) == (b"$ exit\r\nlogout\r\nafter", 130)


def test_byte_by_byte() -> None:
    assert run([STREAM[i : i + 1] for i in range(len(STREAM))]) == (
        b"$ exit\r\nlogout\r\nafter",
        130,
    )


def test_only_a_possible_prefix_is_held() -> None:
    flt = ExitMarkerFilter(NONCE)
    assert flt.feed(b"prompt$ ") == b"prompt$ "
    assert flt.feed(b"x\x1b]77") == b"x"
    assert flt.feed(b"70;feed") == b""
    assert flt.feed(b"other") == b"\x1b]7770;feedother"
    assert flt.exit_code is None


def test_other_osc_passes() -> None:
    title = b"\x1b]0;my title\x07"
    assert run([title, MARKER[:-1] + b"x\x07"]) == (title + MARKER[:-1] + b"x\x07", None)


def test_same_prefix_without_status_is_shown() -> None:
    assert run([MARKER + b"abc"]) == (MARKER + b"abc", None)


def test_unfinished_marker_released_at_end() -> None:
    assert run([b"a" + MARKER + b"12"]) == (b"a" + MARKER + b"12", None)
