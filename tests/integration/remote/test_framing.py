"""End to end: the framing script run by the agent emulator under dash, bash and busybox."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from ecs_exec.remote import Event, Stdout
from ecs_exec.remote.command import OUTPUT_CHUNK, OUTPUT_FRAME
from tests.integration.remote.conftest import busybox_dir
from tests.integration.remote.harness import AgentEmulator, Result, run_oneoff

AWKWARD_ARGV = [
    "",
    "two words",
    "it's",
    'say "hi"',
    "$HOME",
    "a;b|c&d",
    "back\\slash",
    "line1\nline2",
    "#not-a-comment",
    "tab\there",
    "ünïcødé ✓",
    "*",
    "  padded  ",
    "",
]


def log_text(size: int, seed: int = 7) -> bytes:
    """Application-log-like text: timestamps, levels, loggers, ids and numbers per line."""
    rnd = random.Random(seed)
    levels = ["INFO"] * 8 + ["DEBUG"] * 4 + ["WARN", "ERROR"]
    loggers = ["app.http", "app.db.pool", "app.worker", "uvicorn.access"]
    paths = ["/api/v1/users", "/api/v1/orders", "/healthz", "/api/v1/items/search"]
    lines, total, now = [], 0, 1_700_000_000.0
    while total < size:
        now += rnd.random() * 0.05
        line = (
            f"2024-05-{int(now // 86400) % 28 + 1:02d}T{int(now // 3600) % 24:02d}:"
            f"{int(now // 60) % 60:02d}:{now % 60:06.3f}Z {rnd.choice(levels):5} "
            f"[{rnd.choice(loggers)}] {rnd.choice(['GET', 'POST'])} {rnd.choice(paths)}"
            f"?page={rnd.randint(1, 50)} -> {rnd.choice([200, 200, 201, 404])} "
            f"in {rnd.random() * 120:.1f}ms user={rnd.randint(1, 500)}\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def check_clean(result: Result) -> None:
    assert result.leftover_processes is False
    assert result.noise == b""


def test_argv_is_exact(shell_path: str) -> None:
    # printf '%s\0' prints each argument NUL-terminated, so the split is unambiguous.
    result = run_oneoff(["printf", "%s\\0", *AWKWARD_ARGV], path=shell_path)
    assert result.code == 0
    assert result.stdout.split(b"\0")[:-1] == [word.encode() for word in AWKWARD_ARGV]
    check_clean(result)


def test_stdout_and_stderr_are_separate_and_byte_exact(shell_path: str) -> None:
    script = (
        "printf 'out\\000\\357\\277\\275\\r\\n\\377end'; "
        "printf 'err\\000\\357\\277\\275\\n' >&2; printf 'more\\n'"
    )
    result = run_oneoff(["sh", "-c", script], path=shell_path)
    assert result.stdout == b"out\x00\xef\xbf\xbd\r\n\xffendmore\n"
    assert result.stderr == b"err\x00\xef\xbf\xbd\n"
    assert result.code == 0
    check_clean(result)


def test_all_byte_values_pass_through(shell_path: str) -> None:
    data = bytes(range(256)) * 4
    result = run_oneoff(["cat"], stdin=data, path=shell_path)
    assert result.stdout == data
    check_clean(result)


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["true"], 0),
        (["sh", "-c", "exit 3"], 3),
        (["no-such-command-ecs-exec"], 127),
        (["sh", "-c", "kill -TERM $$"], 128 + 15),
    ],
)
def test_exit_codes(shell_path: str, argv: list[str], code: int) -> None:
    result = run_oneoff(argv, path=shell_path)
    assert result.code == code
    check_clean(result)


def test_missing_command_reports_on_stderr(shell_path: str) -> None:
    result = run_oneoff(["no-such-command-ecs-exec"], path=shell_path)
    assert b"no-such-command-ecs-exec" in result.stderr
    assert result.stdout == b""


@pytest.mark.parametrize("size", [0, 1, 5, 4095, 70_000])
def test_stdin_sizes_and_eof(shell_path: str, size: int) -> None:
    result = run_oneoff(["wc", "-c"], stdin=os.urandom(size), path=shell_path)
    assert result.stdout.split() == [str(size).encode()]
    assert result.code == 0
    check_clean(result)


@pytest.mark.parametrize("mode", ["raw", "base64"])
def test_large_binary_stdin(shell_path: str, mode: str) -> None:
    data = os.urandom(5 * 1024 * 1024)
    chunks = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    result = run_oneoff(["sha256sum"], stdin=chunks, stdin_mode=mode, path=shell_path)  # type: ignore[arg-type]
    assert result.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert result.code == 0
    check_clean(result)


def test_no_stdin_gives_eof_at_once(shell_path: str) -> None:
    result = run_oneoff(["wc", "-c"], path=shell_path, timeout=5)
    assert result.stdout.split() == [b"0"]


def test_output_streams_as_produced(shell_path: str, tmp_path: Path) -> None:
    """Each line arrives while the command still waits to print the next one: the command
    prints line k+1 only once the test, having received line k, creates file k."""
    script = (
        f'cd "{tmp_path}"; for i in 1 2 3 4; do echo line$i; '
        "while [ ! -e $i ]; do sleep 0.01; done; done"
    )

    def on_event(event: Event, agent: AgentEmulator) -> None:
        if isinstance(event, Stdout):
            for line in event.data.decode().split():
                (tmp_path / line.removeprefix("line")).touch()

    result = run_oneoff(["sh", "-c", script], path=shell_path, on_event=on_event)
    assert result.stdout == b"line1\nline2\nline3\nline4\n"
    assert [e.data for _, e in result.events if isinstance(e, Stdout)] == [
        b"line1\n",
        b"line2\n",
        b"line3\n",
        b"line4\n",
    ]


def test_log_text_is_compressed(shell_path: str) -> None:
    data = log_text(1_000_000)
    result = run_oneoff(["cat"], stdin=data, path=shell_path)
    assert result.stdout == data
    assert result.wire_bytes < len(data) / 5  # bzip2 is present in all three environments


def test_fast_output_is_batched_into_large_frames(shell_path: str, tmp_path: Path) -> None:
    data = log_text(8_000_000)
    (tmp_path / "log").write_bytes(data)
    result = run_oneoff(["cat", str(tmp_path / "log")], path=shell_path, timeout=60)
    assert result.stdout == data
    frames = [event for _, event in result.events if isinstance(event, Stdout)]
    # 64 KiB reads gathered up to OUTPUT_FRAME per frame: far fewer frames than reads.
    assert len(frames) < len(data) / OUTPUT_CHUNK / 3
    assert max(len(frame.data) for frame in frames) <= OUTPUT_FRAME
    assert result.wire_bytes < len(data) / 7  # about 9x in 64 KiB pieces, about 10x batched
    check_clean(result)


def test_both_streams_at_full_speed_stay_apart(shell_path: str, tmp_path: Path) -> None:
    text, noise = log_text(3_000_000), os.urandom(3_000_000)
    (tmp_path / "text").write_bytes(text)
    (tmp_path / "noise").write_bytes(noise)
    script = f"cat {tmp_path}/noise >&2 & cat {tmp_path}/text; wait"
    result = run_oneoff(["sh", "-c", script], path=shell_path, timeout=60)
    assert result.stdout == text
    assert result.stderr == noise
    assert result.code == 0
    check_clean(result)


def test_compressible_after_incompressible(shell_path: str, tmp_path: Path) -> None:
    data = os.urandom(3_000_000) + log_text(6_000_000)
    (tmp_path / "mixed").write_bytes(data)
    result = run_oneoff(["cat", str(tmp_path / "mixed")], path=shell_path, timeout=60)
    assert result.stdout == data
    # The random part travels raw (3 MB); the text is compressed again within about
    # 2 MiB (all of it raw would be 6 MB more).
    assert result.wire_bytes < 3_100_000 + 2_100_000 + 4_000_000 / 7
    check_clean(result)


def test_gzip_used_without_bzip2(tmp_path: Path) -> None:
    path = busybox_dir(tmp_path / "bin", without=("bzip2",))
    data = log_text(1_000_000)
    result = run_oneoff(["cat"], stdin=data, path=path)
    assert result.stdout == data
    assert result.wire_bytes < len(data) / 4
    check_clean(result)


def test_compression_not_used_for_random_data(shell_path: str) -> None:
    data = os.urandom(1_000_000)
    result = run_oneoff(["cat"], stdin=data, path=shell_path)
    assert result.stdout == data
    # Raw frames (a header each; base64 for the rare frame holding EF BF BD), not gzip on top.
    assert len(data) < result.wire_bytes < len(data) * 1.05


def test_random_data_as_base64_without_raw_output(shell_path: str) -> None:
    data = os.urandom(300_000)
    result = run_oneoff(["cat"], stdin=data, raw_output=False, path=shell_path)
    assert result.stdout == data
    # Plain base64 (4/3 plus line breaks and headers), not gzip on top.
    assert len(data) * 4 / 3 < result.wire_bytes < len(data) * 1.4


def test_compression_can_be_turned_off(shell_path: str) -> None:
    data = log_text(200_000)
    result = run_oneoff(["cat"], stdin=data, compress=False, path=shell_path)
    assert result.stdout == data
    assert result.wire_bytes > len(data)


def test_missing_tool_is_reported(tmp_path: Path) -> None:
    path = busybox_dir(tmp_path / "bin", without=("base64",))
    result = run_oneoff(["true"], path=path)
    assert result.setup_failed == "base64"
    assert result.code is None
    check_clean(result)


def test_compression_is_optional(tmp_path: Path) -> None:
    path = busybox_dir(tmp_path / "bin", without=("gzip", "bzip2"))
    data = log_text(300_000)
    result = run_oneoff(["cat"], stdin=data, path=path)
    assert result.stdout == data
    assert result.wire_bytes > len(data)
    check_clean(result)


def test_unread_stdin_does_not_hang(shell_path: str) -> None:
    result = run_oneoff(["true"], stdin=os.urandom(5 * 1024 * 1024), path=shell_path, timeout=10)
    assert result.code == 0
    check_clean(result)


def test_partly_read_stdin(shell_path: str) -> None:
    chunks = [os.urandom(100_000) for _ in range(20)]
    result = run_oneoff(["head", "-c", "10"], stdin=chunks, path=shell_path, timeout=10)
    assert result.stdout == chunks[0][:10]
    assert result.code == 0
    check_clean(result)
