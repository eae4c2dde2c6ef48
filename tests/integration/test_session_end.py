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
from ecs_exec.errors import (
    EcsExecError,
    PluginError,
    SessionNotTerminatedError,
    TerminalError,
)
from ecs_exec.local.terminal import Console
from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox
from ecs_exec.sandbox.state import SessionStatus
from ecs_exec.session.runner import ExecRequest, run_exec
from ecs_exec.transports.native import NativeStream

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


def test_a_session_that_ends_by_itself_is_not_terminated(sandbox, local):
    assert run(sandbox, local, oneoff("sh", "-c", "echo hi; exit 3")) == 3
    assert local.stdout_path.read_bytes() == b"hi\n"
    assert sandbox.requests.counts()["ExecuteCommand"] == 1
    assert terminated_sessions(sandbox) == []
    assert local.warnings == []


def test_an_unreachable_stream_url_terminates_the_session(sandbox, local):
    with socket.socket() as closed:  # a bound port that does not listen: connect is refused
        closed.bind(("127.0.0.1", 0))
        sandbox.state.ws_base_url = f"ws://127.0.0.1:{closed.getsockname()[1]}"
        # Named by the transport (a connect error); what matters here is what follows.
        with pytest.raises((OSError, EcsExecError)):
            run(sandbox, local, oneoff("sleep", "60"))
    assert terminated_sessions(sandbox) == [the_session(sandbox)]
    assert sandbox.state.sessions.sessions()[0].status is SessionStatus.TERMINATED


def test_a_crash_in_the_transport_terminates_the_session(sandbox, local, monkeypatch):
    async def crash(self: NativeStream) -> bytes:
        raise RuntimeError("injected crash")

    monkeypatch.setattr(NativeStream, "receive", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(sandbox, local, oneoff("sleep", "60"))
    assert terminated_sessions(sandbox) == [the_session(sandbox)]


def test_a_crash_before_the_loop_terminates_the_session(sandbox, local, monkeypatch):
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected crash in the constructor")

    monkeypatch.setattr(NativeStream, "__init__", crash)
    with pytest.raises(RuntimeError, match="injected crash"):
        run(sandbox, local, oneoff("sleep", "60"))
    assert terminated_sessions(sandbox) == [the_session(sandbox)]


def test_a_failed_terminate_is_handed_to_warn_with_the_session_id(sandbox, local, monkeypatch):
    async def crash(self: NativeStream) -> bytes:
        raise RuntimeError("injected crash")

    monkeypatch.setattr(NativeStream, "receive", crash)
    sandbox.state.faults["api"] = {
        "TerminateSession": {"error": "AccessDeniedException", "times": -1}
    }
    try:
        with pytest.raises(RuntimeError):
            run(sandbox, local, oneoff("sleep", "60"))
    finally:
        sandbox.state.faults["api"] = {}
    session_id = the_session(sandbox)
    (warning,) = local.warnings
    assert isinstance(warning, SessionNotTerminatedError)
    assert warning.session_id == session_id
    assert session_id in str(warning)
    assert "may still be running" in str(warning)
    sandbox.state.sessions.terminate_session(session_id)  # what the user would do by hand
    pids = [s.pid for s in sandbox.agent_sessions() if s.pid is not None]
    for _ in range(200):  # the agent ends the process asynchronously; at most 10 s
        if not any(os.path.exists(f"/proc/{pid}") and _running(pid) for pid in pids):
            break
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_a_missing_plugin_binary_fails_before_execute_command(sandbox, local, monkeypatch):
    monkeypatch.setenv("ECS_EXEC_PLUGIN", "/nonexistent/session-manager-plugin")
    with pytest.raises(PluginError):
        run(sandbox, local, oneoff("true", transport="plugin"))
    assert sandbox.requests.counts()["ExecuteCommand"] == 0


def test_no_usable_terminal_fails_before_execute_command(sandbox, local):
    request = ExecRequest(argv=None, interactive=True, attach_stdin=False)
    with pytest.raises(TerminalError):
        run(sandbox, local, request)
    assert sandbox.requests.counts()["ExecuteCommand"] == 0
