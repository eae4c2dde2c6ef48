"""One-off commands through the real CLI and the sandbox: argv, streams, exit codes, stdin."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess

import pytest

from ecs_exec.sandbox.agent import AgentOptions
from ecs_exec.sandbox.server import running_sandbox
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


def test_output_streams_as_produced(faithful_sandbox, env_for, tmp_path):
    """Line k arrives while the command still waits for the test to see it: the command
    prints line k+1 only once the test, having read line k, creates file k."""
    script = (
        f'cd "{tmp_path}"; for i in 1 2 3; do echo line$i; '
        "while [ ! -e $i ]; do sleep 0.01; done; done"
    )
    proc = subprocess.Popen(
        [*ECS_EXEC, *WEB, "--pipe", script],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env_for(faithful_sandbox),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        for i in (1, 2, 3):
            assert proc.stdout.readline() == f"line{i}\n".encode()
            (tmp_path / str(i)).touch()
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


def test_log_text_is_compressed_on_the_wire(faithful_sandbox, env_for, tmp_path):
    """Log text crosses the agent's slow link compressed: far fewer bytes than the text."""
    lines = []
    for i in range(60_000):
        lines.append(
            f"2026-11-22T10:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z INFO "
            f"request_id={i * 7919 % 1000003:07d} GET /api/v1/items/{i % 977} 200 {i % 83}ms\n"
        )
    text = "".join(lines).encode()
    log = tmp_path / "app.log"
    log.write_bytes(text)
    frames = tmp_path / "frames.jsonl"
    faithful_sandbox.set_default_faults({"frameLog": str(frames)})
    try:
        result = run_cli([*WEB, "--", "cat", str(log)], env_for(faithful_sandbox), timeout=120)
    finally:
        faithful_sandbox.set_default_faults({})
    assert result.code == 0, result.err
    assert result.stdout == text
    records = [json.loads(line) for line in frames.read_text().splitlines()]
    wire = sum(
        r["length"]
        for r in records
        if r.get("dir") == "out" and r.get("type") == "output_stream_data"
    )
    assert wire < len(text) / 5


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


STOPPABLE = "trap 'echo got-INT >&2; exit 3' INT; "
STUBBORN = "trap '' INT; trap 'echo got-TERM >&2; exit 4' TERM; "


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("signum", "traps", "note"),
    [
        (signal.SIGINT, STOPPABLE, b"got-INT\n"),
        (signal.SIGTERM, STOPPABLE, b"got-INT\n"),
        (signal.SIGHUP, STOPPABLE, b"got-INT\n"),
        (signal.SIGINT, STUBBORN, b"got-TERM\n"),  # SIGINT ignored: SIGTERM follows
    ],
    ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGINT-ignored"],
)
def test_signal_stops_the_remote_command_and_cleans_up(
    fast_sandbox, env_for, target, signum, traps, note
):
    """Ctrl-C (or SIGTERM, SIGHUP) on a one-off: the remote command gets SIGINT (then
    SIGTERM), the wrapper removes its temporary directory, ecs-exec exits 128+N."""
    script = traps + "echo $$; readlink /proc/$$/fd/1; while :; do sleep 1; done"
    proc = subprocess.Popen(
        [*ECS_EXEC, *target, "--", "sh", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env_for(fast_sandbox),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        pid = int(proc.stdout.readline())
        private = os.path.dirname(proc.stdout.readline().decode().strip())
        assert os.path.basename(private).startswith("ecs-exec.")  # the wrapper's directory
        assert os.path.isdir(private)
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 128 + signum
        assert proc.stderr.read().endswith(note)  # the command's own trap ran
        assert not os.path.exists(private)
        assert not _alive(pid)
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


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


@pytest.mark.timeout(150)
@pytest.mark.parametrize("drop_after", [360, 400])
def test_drop_near_the_end_loses_nothing(faithful_sandbox, env_for, tmp_path, drop_after):
    """A drop with many output messages in flight (50 ms latency) close to the end (the
    command's output takes about 445 messages, give or take 10 with how the agent's reads
    fall): the agent resends only its oldest unacknowledged message every 100 ms and closes
    2 s after the command exits, so without the exit handshake keeping the command's session
    alive the tail of the output was lost."""
    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(330 * 1024))
    frames = tmp_path / "frames.jsonl"
    faithful_sandbox.set_default_faults(
        {
            "dropAfterMessages": drop_after,
            "dropTimes": 1,
            "latencyMs": 50,
            "frameLog": str(frames),
        }
    )
    try:
        result = run_cli(
            [*WEB, "--", "sh", "-c", f"cat {blob}; exit 7"], env_for(faithful_sandbox), timeout=120
        )
    finally:
        faithful_sandbox.set_default_faults({})
    assert result.code == 7, result.err
    assert result.stdout == blob.read_bytes()
    records = [json.loads(line) for line in frames.read_text().splitlines()]
    assert [r for r in records if r.get("reason") == "dropAfterMessages"]  # it did drop


@pytest.mark.parametrize("target", TARGETS)
def test_command_not_found_reads_as_such(fast_sandbox, env_for, target):
    result = run_cli([*target, "--", "nosuchcmd", "--flag"], env_for(fast_sandbox))
    assert result.code == 127
    assert result.stderr == b"ecs-exec: nosuchcmd: command not found\n"
    assert result.stdout == b""


def test_session_terminated_meanwhile_is_named(sandbox, env_for):
    """TerminateSession from elsewhere while the command runs: one line that says so."""
    proc = subprocess.Popen(
        [*ECS_EXEC, *WEB, "--", "sh", "-c", "echo started; exec sleep 60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env_for(sandbox),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"started\n"
        (running,) = [s for s in sandbox.agent_sessions() if not s.finished]
        sandbox.state.sessions.terminate_session(running.session_id)
        assert proc.wait(timeout=30) == 255
        err = proc.stderr.read().decode()
        assert "the session was terminated while the command was running" in err
        assert "container may have stopped" not in err
        assert "Traceback" not in err
    finally:
        proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture(scope="module")
def impatient_sandbox():
    """A sandbox whose service ends sessions after 2 s without client traffic (ECS Exec's
    idle timeout is 20 minutes)."""
    with running_sandbox(agent_options=AgentOptions(fast=True, idle_timeout=2.0)) as sandbox:
        yield sandbox


@pytest.mark.parametrize("target", TARGETS)
def test_silent_command_outlives_the_idle_timeout(impatient_sandbox, env_for, target):
    """Heartbeats every 0.25 s keep a command that prints nothing for 5 s alive."""
    env = env_for(impatient_sandbox, ECS_EXEC_HEARTBEAT="0.25")
    result = run_cli([*target, "--", "sh", "-c", "sleep 5; echo done; exit 7"], env)
    assert (result.code, result.stdout) == (7, b"done\n"), result.err


def test_without_heartbeats_the_idle_timeout_ends_it(impatient_sandbox, env_for):
    """The control for the test above: with heartbeats too rare, the session is ended."""
    env = env_for(impatient_sandbox, ECS_EXEC_HEARTBEAT="600")
    result = run_cli([*WEB, "--", "sh", "-c", "sleep 5; echo done; exit 7"], env)
    assert result.code == 255
    assert "the session was terminated while the command was running" in result.err
