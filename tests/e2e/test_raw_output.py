"""Random bytes through the faithful sandbox agent (its pacing and its EF BF BD alteration)
arrive exact, carried as raw output records (docs/output-records.md#3-raw-records)."""

from __future__ import annotations

import json
import os

from tests.clihelpers import run_in_process

WEB = ["--cluster", "demo", "--service-name", "web"]
FFFD = b"\xef\xbf\xbd"


def random_without_fffd(size: int) -> bytes:
    data = os.urandom(size)
    while FFFD in data:  # about 2% of 300 kB draws: those frames would go as base64
        data = data.replace(FFFD, os.urandom(3))
    return data


def test_random_bytes_arrive_exact_and_raw(faithful_sandbox, env_for, tmp_path):
    data = random_without_fffd(300_000)
    mix = os.urandom(10_000) + FFFD + os.urandom(10_000) + FFFD
    (tmp_path / "blob").write_bytes(data)
    (tmp_path / "mix").write_bytes(mix)
    script = f"cat {tmp_path}/blob; cat {tmp_path}/mix >&2"
    frames = tmp_path / "frames.jsonl"
    faithful_sandbox.set_default_faults({"frameLog": str(frames)})
    try:
        result = run_in_process([*WEB, "--pipe", script], env_for(faithful_sandbox))
    finally:
        faithful_sandbox.set_default_faults({})
    assert result.code == 0, result.err
    assert (result.stdout, result.stderr) == (data, mix)
    records = [json.loads(line) for line in frames.read_text().splitlines()]
    wire = sum(
        r["length"]
        for r in records
        if r.get("dir") == "out" and r.get("type") == "output_stream_data"
    )
    # stdout in raw frames, a header each (as base64 it would be 4/3 of the data); stderr,
    # which holds EF BF BD, as base64.
    assert len(data) + len(mix) * 4 / 3 < wire < len(data) * 1.02 + len(mix) * 1.4


def test_an_altered_raw_frame_ends_the_command_with_one_error_line(fast_sandbox, env_for):
    # The command forges a raw record with a wrong MD5 on the terminal, using the session
    # nonce it reads from the wrapper script's argv: the client must refuse it.
    forge = (
        "import os; n = open(f'/proc/{os.getppid()}/cmdline', 'rb').read().split(b'\\0')[4]; "
        "t = open('/dev/tty', 'wb'); t.write(b'\\n@' + n + b':Ob=5,' + b'0' * 32 + b'\\nabcde.')"
    )
    result = run_in_process([*WEB, "--", "python3", "-c", forge], env_for(fast_sandbox))
    assert result.code == 255
    assert result.stdout == b""
    assert result.err.count("\n") == 1
    assert "raw output frame from the container arrived altered" in result.err
