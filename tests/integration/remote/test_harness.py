"""The emulator really applies the agent's UTF-8 handling, so framing tests mean something."""

from __future__ import annotations

import pytest

from ecs_exec.remote import build_interactive_command
from tests.integration.remote.harness import AgentEmulator, AgentUtf8


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"plain ascii"], b"plain ascii"),
        ([b"a\xef\xbf\xbdb"], b"a\xefb"),  # real U+FFFD loses two bytes
        ([b"caf\xc3", b"\xa9!"], b"caf\xc3\xa9!"),  # incomplete tail held back
        ([b"\xff\xfe", b"0123"], b"\xff\xfe0123"),  # invalid bytes pass one at a time
        ([b"\xe2\x82\xac"], b"\xe2\x82\xac"),
        ([b"\xe0\x80\x80", b"0123"], b"\xe0\x80\x800123"),  # overlong: invalid, passed through
        ([b"\xf0\x9f\x98"], b""),  # held until more arrives
        ([b"x\xff"], b"x"),  # an invalid byte in the last 3 is held back too
        ([b"x\xff", b"yzw"], b"x\xffyzw"),
        ([b"\xef\xbf\xbd", b"!"], b"\xef!"),  # so is a whole U+FFFD
    ],
)
def test_agent_utf8(chunks: list[bytes], expected: bytes) -> None:
    utf8 = AgentUtf8()
    assert b"".join(utf8.feed(chunk) for chunk in chunks) == expected


def test_raw_pty_output_is_mangled() -> None:
    # Without framing, the PTY's ONLCR and the agent's U+FFFD bug both show.
    agent = AgentEmulator("printf 'a\\n\\357\\277\\275b'")
    out = b""
    while (item := agent.output.get(timeout=5)) is not None:
        out += item[1]
    agent.close()
    assert out == b"a\r\n\xefb"


def test_interactive_wrapper_prints_marker() -> None:
    from ecs_exec.remote import ExitMarkerFilter

    nonce = "0011223344556677"
    agent = AgentEmulator(build_interactive_command(["sh", "-c", "echo hi; exit 5"], nonce=nonce))
    flt = ExitMarkerFilter(nonce)
    shown = b""
    confirmed = False
    while (item := agent.output.get(timeout=5)) is not None:
        shown += flt.feed(item[1])
        if flt.exit_code is not None and not confirmed:
            # Type-ahead first: the wrapper skips lines until the one with the nonce.
            agent.write(b"ls -l\r" + flt.confirmation)
            confirmed = True
    shown += flt.flush()
    assert agent.close() == 5
    assert shown == b"hi\r\n"
    assert flt.exit_code == 5
    assert not agent.leftover_processes
