"""How sessions end, through the real CLI and the drop-in as subprocesses: local stdout
closed (`ecs-exec -- yes | head -c 10`), and a TerminateSession that fails after a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox
from ecs_exec.sandbox.state import SessionStatus
from tests.clihelpers import ECS_EXEC, ROOT, clean_env

TARGET = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app"]
DROPIN = [sys.executable, "-m", "ecs_exec.dropin"]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def wait_gone(pids: list[int]) -> bool:
    """Whether these processes are gone, polling for at most 10 s (not a timing check: the
    agent reaps a terminated session's process asynchronously)."""
    for _ in range(200):
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def tmp_left(sandbox: Sandbox) -> list[str]:
    """What sessions left in the containers' TMPDIR, polling for at most 10 s until nothing
    (the remote script's helpers clean up after the hang-up, asynchronously)."""
    for _ in range(200):
        left = sorted(p.name for p in sandbox.tmpdir.iterdir())
        if not left:
            break
        time.sleep(0.05)
    return left


def remote_pids(sandbox: Sandbox) -> list[int]:
    return [s.pid for s in sandbox.agent_sessions() if s.pid is not None]


def test_closed_stdout_ends_the_session_and_the_remote_command(sandbox, tmp_path):
    env = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url)
    with subprocess.Popen(
        [*ECS_EXEC, *TARGET, "--", "yes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(10) == b"y\ny\ny\ny\ny\n"
        proc.stdout.close()  # what `head -c 10` does next
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    assert code == 128 + signal.SIGPIPE, err
    assert "Traceback" not in err and "error" not in err, err
    (session,) = sandbox.state.sessions.sessions()
    assert [b["SessionId"] for b in sandbox.requests.bodies("TerminateSession")] == [
        session.session_id
    ]
    assert session.status is SessionStatus.TERMINATED
    assert wait_gone(remote_pids(sandbox))
    # Killed as the agent kills a cancelled session, the script still removes its directory.
    assert tmp_left(sandbox) == []


def test_a_failed_terminate_after_ctrl_c_is_a_warning_naming_the_session(sandbox, tmp_path):
    env = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url)
    sandbox.state.faults["api"] = {"TerminateSession": {"error": "AccessDeniedException"}}
    # A command deaf to SIGINT and SIGTERM: the interrupt gets no exit status in time, so
    # the session must be terminated, and that fails.
    script = "trap '' INT TERM; echo started; exec sleep 60"
    with subprocess.Popen(
        [*ECS_EXEC, *TARGET, "--", "sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b"started\n"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    sandbox.state.faults["api"] = {}
    (session,) = sandbox.state.sessions.sessions()
    sid = session.session_id
    assert code == 130, err
    lines = err.splitlines()
    assert lines[0].startswith(f"ecs-exec: warning: could not terminate session {sid} ("), err
    assert "may still be running" in lines[0]
    assert lines[1] == f"hint: end it with: aws ssm terminate-session --session-id {sid}"
    assert session.status is not SessionStatus.TERMINATED  # it really is still running
    sandbox.state.sessions.terminate_session(sid)  # what the user would do by hand
    assert wait_gone(remote_pids(sandbox))
    assert tmp_left(sandbox) == []


def dropin_session(sandbox: Sandbox, command: str) -> list[str]:
    import boto3

    ecs = boto3.client(
        "ecs",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    session = ecs.execute_command(
        cluster="demo", task=demo.WEB_READY_1, container="app", command=command, interactive=True
    )["session"]
    params = json.dumps({"Target": f"ecs:demo_{demo.WEB_READY_1}_x"})
    return [json.dumps(session), "us-east-1", "StartSession", "", params, sandbox.endpoint_url]


def test_dropin_sigterm_terminates_and_reports_a_failed_terminate(sandbox, tmp_path):
    args = dropin_session(sandbox, "sh -c 'echo started; exec sleep 60'")
    sandbox.state.faults["api"] = {"TerminateSession": {"error": "AccessDeniedException"}}
    with subprocess.Popen(
        [*DROPIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        while b"started" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    sandbox.state.faults["api"] = {}
    (session,) = sandbox.state.sessions.sessions()
    assert code == 128 + signal.SIGTERM, err
    assert f"Warning: could not terminate session {session.session_id}" in err
    assert [b["SessionId"] for b in sandbox.requests.bodies("TerminateSession")] == [
        session.session_id
    ]
    sandbox.state.sessions.terminate_session(session.session_id)
    assert wait_gone(remote_pids(sandbox))


def test_dropin_closed_stdout_terminates_the_session(sandbox, tmp_path):
    args = dropin_session(sandbox, "yes")
    with subprocess.Popen(
        [*DROPIN, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(tmp_path),
        cwd=ROOT,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.read(1000)
        proc.stdout.close()
        code = proc.wait(timeout=60)
        err = proc.stderr.read().decode()
    (session,) = sandbox.state.sessions.sessions()
    assert code == 128 + signal.SIGPIPE, err
    assert session.status is SessionStatus.TERMINATED
    assert wait_gone(remote_pids(sandbox))


def test_dropin_session_that_ends_by_itself_is_not_terminated(sandbox, tmp_path):
    args = dropin_session(sandbox, "sh -c 'echo hi; exit 0'")
    result = subprocess.run(
        [*DROPIN, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=clean_env(tmp_path),
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"hi" in result.stdout and b"Exiting session with sessionId" in result.stdout
    assert sandbox.requests.bodies("TerminateSession") == []
