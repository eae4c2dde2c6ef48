"""One-off commands through the real CLI and the sandbox: argv, streams, exit codes, stdin."""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import subprocess
import time

import pytest

from tests.clihelpers import ECS_EXEC, ROOT, run_cli

WEB = ["--cluster", "demo", "--service-name", "web"]
WORKER = ["--cluster", "demo", "--service-name", "worker"]
needs_busybox = pytest.mark.skipif(shutil.which("busybox") is None, reason="needs Debian's busybox")
TARGETS = [
    pytest.param(WEB, id="coreutils"),
    pytest.param(WORKER, id="busybox", marks=needs_busybox),
]


@pytest.mark.parametrize("target", TARGETS)
def test_argv_arrives_exactly(fast_sandbox, env_for, target):
    args = ["a b", '"double"', "'single'", "$HOME", "a;b", "x\ny", "ünïcødé ✓", "", "\\n", "*"]
    result = run_cli([*target, "--", "printf", "<%s>", *args], env_for(fast_sandbox))
    assert result.code == 0, result.err
    assert result.stdout == "".join(f"<{a}>" for a in args).encode()
    assert result.stderr == b""


@pytest.mark.parametrize("target", TARGETS)
def test_streams_are_separate_and_binary_exact(fast_sandbox, env_for, target):
    script = r"printf 'a\000b\357\277\275c\r\n'; printf 'E\000\357\277\275\n' >&2; exit 3"
    result = run_cli([*target, "--pipe", script], env_for(fast_sandbox))
    assert result.code == 3, result.err
    assert result.stdout == b"a\0b\xef\xbf\xbdc\r\n"
    assert result.stderr == b"E\0\xef\xbf\xbd\n"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["sh", "-c", "exit 0"], 0),
        (["sh", "-c", "exit 42"], 42),
        (["no-such-command-anywhere"], 127),
        (["sh", "-c", "kill -TERM $$"], 143),
        (["sh", "-c", "kill -KILL $$"], 137),
    ],
)
def test_exit_codes(fast_sandbox, env_for, target, argv, code):
    result = run_cli([*target, "--", *argv], env_for(fast_sandbox))
    assert result.code == code, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("target", TARGETS)
def test_piped_stdin_binary_exact_with_eof(fast_sandbox, env_for, target):
    data = os.urandom(3 * 1024 * 1024) + b"\0\xef\xbf\xbd\r\n\x03\x04\x1a"
    script = 't=$(mktemp); cat > "$t"; sha256sum < "$t"; wc -c < "$t"; rm -f "$t"'
    result = run_cli([*target, "--pipe", script], env_for(fast_sandbox), stdin=data)
    assert result.code == 0, result.err
    digest, count = result.out.split("\n")[:2]
    assert digest.split()[0] == hashlib.sha256(data).hexdigest()
    assert int(count.strip()) == len(data)


def test_empty_stdin(fast_sandbox, env_for):
    result = run_cli([*WEB, "--pipe", "wc -c"], env_for(fast_sandbox), stdin=b"")
    assert (result.code, result.out.strip()) == (0, "0")


def test_twenty_megabytes_of_stdin(fast_sandbox, env_for):
    data = os.urandom(20 * 1024 * 1024)
    result = run_cli([*WEB, "--pipe", "sha256sum"], env_for(fast_sandbox), stdin=data, timeout=120)
    assert result.code == 0, result.err
    assert result.out.split()[0] == hashlib.sha256(data).hexdigest()


def test_twenty_megabytes_of_output(fast_sandbox, env_for, tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(20 * 1024 * 1024))
    result = run_cli([*WEB, "--", "cat", str(blob)], env_for(fast_sandbox), timeout=120)
    assert result.code == 0, result.err
    assert (
        hashlib.sha256(result.stdout).hexdigest() == hashlib.sha256(blob.read_bytes()).hexdigest()
    )


def test_output_streams_as_produced(faithful_sandbox, env_for):
    script = "for i in 1 2 3 4; do echo line$i; sleep 0.5; done"
    proc = subprocess.Popen(
        [*ECS_EXEC, *WEB, "--pipe", script],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env_for(faithful_sandbox),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        seen: list[float] = []
        for expected in (b"line1\n", b"line2\n", b"line3\n", b"line4\n"):
            assert proc.stdout.readline() == expected
            seen.append(time.monotonic())
        gaps = [b - a for a, b in itertools.pairwise(seen)]
        # Lines printed 0.5 s apart arrive about 0.5 s apart: nothing waits for the end.
        assert all(gap < 1.0 for gap in gaps), gaps
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_stdin_is_not_in_the_command_line(fast_sandbox, env_for):
    """hoop's script breaks at ~98 KB because stdin travels in argv; here it streams."""
    data = b"x" * 300_000
    fast_sandbox.requests.clear()
    result = run_cli([*WEB, "--pipe", "wc -c"], env_for(fast_sandbox), stdin=data)
    assert result.out.strip() == str(len(data))
    (body,) = fast_sandbox.requests.bodies("ExecuteCommand")
    assert len(body["command"]) < 10_000


def test_log_text_is_compressed_past_the_agent_pace(faithful_sandbox, env_for, tmp_path):
    lines = []
    for i in range(250_000):
        lines.append(
            f"2026-11-22T10:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z INFO "
            f"request_id={i * 7919 % 1000003:07d} GET /api/v1/items/{i % 977} 200 {i % 83}ms\n"
        )
    text = "".join(lines).encode()[: 20 * 1024 * 1024]
    log = tmp_path / "app.log"
    log.write_bytes(text)
    started = time.monotonic()
    result = run_cli([*WEB, "--", "cat", str(log)], env_for(faithful_sandbox), timeout=120)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.err
    assert result.stdout == text
    assert elapsed < 6.0, f"20 MB of log text took {elapsed:.1f} s"


FAULTS = {
    # Five drops each: every drop loses the frames in flight, and the faithful agent resends
    # only its oldest unacknowledged message every 100 ms, so each drop costs seconds.
    "drop every 200 messages": {"dropAfterMessages": 200, "dropTimes": 5},
    "drop every second": {"dropEverySeconds": 1.0, "dropTimes": 5},
    "duplicates": {"duplicateEvery": 3},
    "reordering": {"reorderEvery": 4},
    "50 ms latency": {"latencyMs": 50},
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
def test_exact_both_ways_under_faults(faithful_sandbox, env_for, tmp_path, faults):
    """stdin in and stdout/stderr out stay byte-exact while the data channel misbehaves."""
    data = os.urandom(2 * 1024 * 1024)
    blob = tmp_path / "out.bin"
    blob.write_bytes(os.urandom(512 * 1024))
    script = f"sha256sum >&2; cat {blob}; exit 9"
    faithful_sandbox.set_default_faults(faults)
    try:
        result = run_cli(
            [*WEB, "--pipe", script], env_for(faithful_sandbox), stdin=data, timeout=120
        )
    finally:
        faithful_sandbox.set_default_faults({})
    assert result.code == 9, result.err
    assert result.stderr.split()[0].decode() == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(blob.read_bytes()).digest()


def test_ctrl_c_ends_the_remote_command_too(fast_sandbox, env_for):
    """Ctrl-C on a one-off: exit 130 at once, and the remote process does not linger."""
    import signal

    before = set(fast_sandbox.pids)
    proc = subprocess.Popen(
        [*ECS_EXEC, *WEB, "--", "sh", "-c", "echo started; exec sleep 60"],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env_for(fast_sandbox),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"started\n"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 130
        assert time.monotonic() - started < 10
        new = set(fast_sandbox.pids) - before
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in new):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in new)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_debug_logs_never_show_the_session_token(fast_sandbox, env_for):
    result = run_cli(["--debug", *WEB, "--pipe", "cat"], env_for(fast_sandbox), stdin=b"x")
    assert (result.code, result.stdout) == (0, b"x")
    assert b"ecs_exec.transports.native" in result.stderr  # the protocol log is there...
    tokens = [s.token for s in fast_sandbox.state.sessions.sessions()]
    assert tokens
    assert not any(token.encode() in result.stderr for token in tokens)  # ...the token is not
