"""Once ExecuteCommand has succeeded, every way out ends the session; what can be checked
locally is checked before it. In-process ``run_exec`` against the sandbox, whose request log
shows which AWS calls were made."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.resolve import TargetSpec
from ecs_exec.errors import EcsExecError, SessionNotTerminatedError, TerminalError
from ecs_exec.local.terminal import Console
from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox
from ecs_exec.sandbox.state import SessionStatus
from ecs_exec.session.runner import ExecRequest, run_exec
from ecs_exec.transports.native import NativeStream
from tests.clihelpers import Result, clean_env, run_in_process

TARGET = TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app")


class Local:
    """A Console over a closed stdin and two files, and the warnings the CLI would show."""

    def __init__(self, tmp_path: Path) -> None:
        read, write = os.pipe()
        os.close(write)
        self.stdout_path = tmp_path / "stdout"
        self.stderr_path = tmp_path / "stderr"
        out = os.open(self.stdout_path, os.O_WRONLY | os.O_CREAT)
        err = os.open(self.stderr_path, os.O_WRONLY | os.O_CREAT)
        self.fds = [read, out, err]
        self.console = Console(read, out, err)
        self.warnings: list[EcsExecError] = []

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    console = Local(tmp_path)
    yield console
    console.close()


def run(sandbox: Sandbox, local: Local, request: ExecRequest) -> int:
    clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=sandbox.endpoint_url))
    return run_exec(clients, TARGET, request, local.console, warn=local.warnings.append)


def oneoff(*argv: str, transport: str = "native") -> ExecRequest:
    return ExecRequest(argv=argv, interactive=False, attach_stdin=False, transport=transport)


def terminated_sessions(sandbox: Sandbox) -> list[str]:
    return [str(body["SessionId"]) for body in sandbox.requests.bodies("TerminateSession")]


def the_session(sandbox: Sandbox) -> str:
    (session,) = sandbox.state.sessions.sessions()
    return session.session_id


def cli(sandbox: Sandbox, tmp_path: Path, *args: str, **env: str) -> Result:
    """The CLI in this process against the sandbox, on ``TARGET``."""
    spec = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app"]
    environ = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url, **env)
    return run_in_process([*spec, *args], environ)


def crash_in_receive(monkeypatch: pytest.MonkeyPatch) -> None:
    async def crash(self: NativeStream) -> bytes:
        raise RuntimeError("injected crash")

    monkeypatch.setattr(NativeStream, "receive", crash)


def test_a_session_that_ends_by_itself_is_not_terminated(sandbox, tmp_path):
    result = cli(sandbox, tmp_path, "--", "sh", "-c", "echo hi; exit 3")
    assert (result.code, result.stdout) == (3, b"hi\n"), result.err
    assert sandbox.requests.counts()["ExecuteCommand"] == 1
    assert terminated_sessions(sandbox) == []
    assert "warning" not in result.err


def test_an_unreachable_stream_url_terminates_the_session(sandbox, tmp_path):
    with socket.socket() as closed:  # a bound port that does not listen: connect is refused
        closed.bind(("127.0.0.1", 0))
        sandbox.state.ws_base_url = f"ws://127.0.0.1:{closed.getsockname()[1]}"
        result = cli(sandbox, tmp_path, "--", "sleep", "60")
    assert result.code == 255, result.err
    assert result.err.startswith("ecs-exec: error: "), result.err
    assert terminated_sessions(sandbox) == [the_session(sandbox)]
    assert sandbox.state.sessions.sessions()[0].status is SessionStatus.TERMINATED


def test_a_crash_in_the_transport_terminates_the_session(sandbox, tmp_path, monkeypatch):
    crash_in_receive(monkeypatch)
    result = cli(sandbox, tmp_path, "--", "sleep", "60")
    assert result.code == 255
    assert "unexpected RuntimeError: injected crash" in result.err
    assert terminated_sessions(sandbox) == [the_session(sandbox)]


def test_a_crash_before_the_loop_terminates_the_session(sandbox, local, monkeypatch):
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected crash in the constructor")

    monkeypatch.setattr(NativeStream, "__init__", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(sandbox, local, oneoff("sleep", "60"))
    assert terminated_sessions(sandbox) == [the_session(sandbox)]


def test_a_failed_terminate_is_a_warning_naming_the_session(sandbox, tmp_path, monkeypatch):
    crash_in_receive(monkeypatch)
    sandbox.state.faults["api"] = {
        "TerminateSession": {"error": "AccessDeniedException", "times": -1}
    }
    try:
        result = cli(sandbox, tmp_path, "--", "sleep", "60")
    finally:
        sandbox.state.faults["api"] = {}
    sid = the_session(sandbox)
    assert result.code == 255
    warning, hint, error, *_ = result.err.splitlines()
    assert warning.startswith(f"ecs-exec: warning: could not terminate session {sid} (")
    assert "ssm:TerminateSession" in warning and "may still be running" in warning
    assert hint == f"hint: end it with: aws ssm terminate-session --session-id {sid}"
    assert error == "ecs-exec: error: unexpected RuntimeError: injected crash"
    end_by_hand(sandbox, sid)


def test_a_failed_terminate_is_handed_to_warn(sandbox, local, monkeypatch):
    crash_in_receive(monkeypatch)
    sandbox.state.faults["api"] = {
        "TerminateSession": {"error": "AccessDeniedException", "times": -1}
    }
    try:
        with pytest.raises(RuntimeError):
            run(sandbox, local, oneoff("sleep", "60"))
    finally:
        sandbox.state.faults["api"] = {}
    sid = the_session(sandbox)
    (warning,) = local.warnings
    assert isinstance(warning, SessionNotTerminatedError)
    assert warning.session_id == sid
    end_by_hand(sandbox, sid)


def end_by_hand(sandbox: Sandbox, session_id: str) -> None:
    """What the user would do: terminate it, and see the remote process go (at most 10 s;
    the agent ends it asynchronously)."""
    sandbox.state.sessions.terminate_session(session_id)
    pids = [s.pid for s in sandbox.agent_sessions() if s.pid is not None]
    for _ in range(200):
        if not any(_running(pid) for pid in pids):
            return
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_missing_plugin_binary_fails_before_execute_command(sandbox, tmp_path):
    missing = "/nonexistent/session-manager-plugin"
    result = cli(sandbox, tmp_path, "--transport", "plugin", "--", "true", ECS_EXEC_PLUGIN=missing)
    assert result.code == 255
    assert result.err.startswith(f"ecs-exec: error: ECS_EXEC_PLUGIN={missing} is not"), result.err
    assert sandbox.requests.counts()["ExecuteCommand"] == 0


def test_no_usable_terminal_fails_before_execute_command(sandbox, local):
    request = ExecRequest(argv=None, interactive=True, attach_stdin=False)
    with pytest.raises(TerminalError):
        run(sandbox, local, request)
    assert sandbox.requests.counts()["ExecuteCommand"] == 0
