"""Raw output records from the real script under dash, bash and busybox, through the agent
emulator's UTF-8 walk (docs/output-records.md#3-raw-records)."""

from __future__ import annotations

import os
import queue
import random
from pathlib import Path

import pytest

from ecs_exec.errors import RemoteProtocolError
from ecs_exec.remote import (
    Exited,
    StdinEncoder,
    StreamDecoder,
    build_oneoff_command,
    new_nonce,
)
from tests.integration.remote.conftest import busybox_dir
from tests.integration.remote.harness import AgentEmulator, run_oneoff

FFFD = b"\xef\xbf\xbd"


def fffd_mix(size: int, seed: int) -> bytes:
    """Random bytes with U+FFFD sprinkled in, a run of them, and one at each 64 KiB edge."""
    rnd = random.Random(seed)
    data = bytearray(rnd.randbytes(size))
    for at in sorted(rnd.sample(range(size), 20), reverse=True):
        data[at:at] = FFFD
    for edge in (65535, 65536 * 2 - 2, 65536 * 3 - 1):
        data[edge:edge] = FFFD
    return bytes(data[:100_000]) + FFFD * 5000 + bytes(data[100_000:])


def test_ef_bf_bd_anywhere_arrives_exact(shell_path: str, tmp_path: Path) -> None:
    # Uncompressed, so the frames holding the sequence must travel as base64.
    data = fffd_mix(600_000, 1)
    (tmp_path / "mix").write_bytes(data)
    result = run_oneoff(
        ["sh", "-c", f"cat {tmp_path}/mix; cat {tmp_path}/mix >&2"],
        compress=False,
        path=shell_path,
        timeout=60,
    )
    assert (result.stdout, result.stderr, result.code) == (data, data, 0)
    assert result.noise == b""


def test_only_the_read_holding_the_sequence_goes_as_base64(shell_path: str, tmp_path: Path) -> None:
    clean = os.urandom(640_000)
    while FFFD in clean:
        clean = clean.replace(FFFD, os.urandom(3))
    data = clean[:300_000] + FFFD + clean[300_000:]
    (tmp_path / "blob").write_bytes(data)
    result = run_oneoff(["cat", str(tmp_path / "blob")], compress=False, path=shell_path)
    assert result.stdout == data
    # At most one read (64 KiB) pays base64's third, not its whole batch (up to 896 KiB).
    assert result.wire_bytes < len(data) + 65536 // 3 + 8000


def test_without_md5sum_output_is_base64(tmp_path: Path) -> None:
    path = busybox_dir(tmp_path / "bin", without=("md5sum",))
    data = os.urandom(300_000)
    result = run_oneoff(["cat"], stdin=data, path=path)
    assert result.stdout == data
    assert result.wire_bytes > len(data) * 4 / 3


def test_a_grep_that_misses_the_sequence_is_caught_by_the_client(tmp_path: Path) -> None:
    # A grep that always counts 0 lets a frame holding EF BF BD go raw: the agent shortens
    # it, and the decoder must refuse the frame rather than pass on altered bytes.
    path = busybox_dir(tmp_path / "bin", without=("grep",))
    fake = Path(path) / "grep"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 0\n")
    fake.chmod(0o755)
    data = os.urandom(50_000) + FFFD + os.urandom(50_000)
    (tmp_path / "blob").write_bytes(data)
    nonce = new_nonce()
    command = build_oneoff_command(
        ["cat", str(tmp_path / "blob")],
        nonce=nonce,
        stdin_mode="none",
        compress=False,
        raw_output=True,
    )
    agent = AgentEmulator(command, path=path)
    decoder = StreamDecoder(nonce)
    passed = bytearray()

    def decode_all() -> None:
        while (item := agent.output.get(timeout=30)) is not None:
            for event in decoder.feed(item[1]):
                assert not isinstance(event, Exited), "the altered frame went unnoticed"
                passed.extend(getattr(event, "data", b""))

    try:
        with pytest.raises(RemoteProtocolError, match="altered"):
            decode_all()
    except queue.Empty:
        pytest.fail("no output within 30 s")
    finally:
        agent.write(StdinEncoder.confirm_exit())  # lets the script exit once it is done
        try:
            while agent.output.get(timeout=10) is not None:
                pass
        finally:
            agent.close()
    assert data.startswith(passed)
    assert len(passed) < len(data)
