"""`ecs-exec run` as a process: Ctrl-C while the task starts and SIGTERM or SIGHUP during the
session still stop the task; an interactive run in a real PTY works as exec's does."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from ecs_exec.sandbox.server import Sandbox
from ecs_exec.sandbox.state import Task
from tests.clihelpers import ECS_EXEC, ROOT

WORKER = ["run", "--cluster", "demo", "--service-name", "worker"]


def read_until(stream: object, needle: bytes, proc: subprocess.Popen[bytes]) -> bytes:
    """Bytes of ``stream`` up to and including ``needle`` (bounded: 20 s)."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    seen = b""
    deadline = time.monotonic() + 20
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, (seen, proc.poll())
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, seen
            seen += chunk
    return seen


def new_tasks(sandbox: Sandbox, before: int) -> list[Task]:
    with sandbox.state.lock:
        return sandbox.state.tasks[before:]


def start(sandbox: Sandbox, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], int]:
    with sandbox.state.lock:
        before = len(sandbox.state.tasks)
    proc = subprocess.Popen(
        [*ECS_EXEC, *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return proc, before


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def test_ctrl_c_while_the_task_starts_stops_it(fast_sandbox, env_for):
    fast_sandbox.state.faults["task"] = {"agentStatus": "PENDING"}  # never ready
    try:
        proc, before = start(fast_sandbox, env_for(fast_sandbox), *WORKER, "--", "true")
        read_until(proc.stderr, b"waiting for the exec agent", proc)
        proc.send_signal(signal.SIGINT)
        code, err = finish(proc)
    finally:
        fast_sandbox.state.faults.pop("task", None)
    assert code == 128 + signal.SIGINT, err
    (task,) = new_tasks(fast_sandbox, before)
    assert task.last_status == "STOPPED"
    assert task.stopped_reason == "ecs-exec run: interrupted (SIGINT) while the task was starting"
    assert b"Traceback" not in err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_the_session_stops_the_task(fast_sandbox, env_for, signum):
    proc, before = start(
        fast_sandbox,
        env_for(fast_sandbox),
        *WORKER,
        "--",
        "sh",
        "-c",
        "echo started; sleep 30",
    )
    read_until(proc.stdout, b"started\n", proc)
    proc.send_signal(signum)
    code, err = finish(proc)
    assert code == 128 + signum, err
    (task,) = new_tasks(fast_sandbox, before)
    assert task.last_status == "STOPPED"
    assert task.stopped_reason == f"ecs-exec run: the session ended (exit status {code})"


def test_interactive_run_in_a_pty(fast_sandbox, env_for):
    with fast_sandbox.state.lock:
        before = len(fast_sandbox.state.tasks)
    env = {**env_for(fast_sandbox), "PS1": "PROMPT$ ", "ENV": ""}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ecs_exec", *WORKER, "-e", "GREETING=hi", "--interactive", "--", "sh"],
        env=env,
        cwd=str(ROOT),
        dimensions=(40, 120),
        timeout=20,
    )
    try:
        # On a terminal the progress is one line rewritten in place.
        child.expect_exact("\x1b[Kecs-exec: task ")
        child.expect_exact("ready, exec into container worker")
        child.sendline("PS1='PROMPT$ '")
        child.expect_exact("PROMPT$ ")
        child.sendline("echo $GREETING-$((6*7))")
        child.expect_exact("hi-42")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5
    (task,) = new_tasks(fast_sandbox, before)
    assert task.last_status == "STOPPED"
