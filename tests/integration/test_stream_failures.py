"""The data channel's websocket failing to open or to resume, through the CLI (in process,
and once as a real process).

Each failure is one named ``ecs-exec: error:`` line and exit 255, never "unexpected ...
report it"; a stream token the service keeps refusing costs a bounded number of
ResumeSession calls. Everything stays on loopback: a refused port, a host under ``.invalid``
(RFC 6761: it never resolves), a proxy and a non-TLS server of our own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import Resolver, TargetSpec
from ecs_exec.errors import ConnectionLostError
from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox
from ecs_exec.transports import native
from ecs_exec.transports.native import NativeStream
from tests.clihelpers import Result, clean_env, run_cli, run_in_process

TOOL = 255
TASK = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app"]
TICKS = ["--", "sh", "-c", "while :; do echo tick; sleep 0.01; done"]


def check_one_error(result: Result, *needles: str) -> str:
    """Exit 255 and exactly one ``ecs-exec: error:`` line (plus an optional hint line)."""
    assert result.code == TOOL, (result.code, result.err)
    assert "Traceback" not in result.err, result.err
    assert "report it" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ecs-exec: error: ")]
    assert len(errors) == 1, result.err
    assert all(line is errors[0] or line.startswith("hint: ") for line in lines), result.err
    for needle in needles:
        assert needle.lower() in errors[0].lower(), (needle, result.err)
    return errors[0]


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url)


@pytest.fixture
def stream_base(sandbox: Sandbox) -> Iterator[None]:
    """Lets a test point ExecuteCommand's streamUrl elsewhere; restored afterwards."""
    original = sandbox.state.ws_base_url
    yield
    sandbox.state.ws_base_url = original


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OneAnswerServer:
    """A loopback TCP server that answers every connection with fixed bytes and closes it."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        self.sock.close()
        self._thread.join(timeout=5)


def assert_terminated(sandbox: Sandbox) -> None:
    # ExecuteCommand succeeded, so the session is ended on the way out (no orphan command).
    assert sandbox.requests.counts()["TerminateSession"] >= 1


def test_refused_connect(sandbox: Sandbox, env, stream_base) -> None:
    port = free_port()  # nothing listens there
    sandbox.state.ws_base_url = f"ws://127.0.0.1:{port}"
    result = run_cli([*TASK, "--", "true"], env)
    check_one_error(result, f"cannot connect to the data channel at 127.0.0.1:{port}", "refused")


def test_http_403_on_the_stream_url(sandbox: Sandbox, env) -> None:
    sandbox.set_default_faults({"streamStatus": 403})
    try:
        result = run_in_process([*TASK, "--", "true"], env)
    finally:
        sandbox.set_default_faults({})
    line = check_one_error(result, "refused the session's stream token", "HTTP 403")
    assert "sandbox-token" not in result.err, line  # the token itself is never shown


def test_other_http_status_on_the_stream_url(sandbox: Sandbox, env) -> None:
    sandbox.set_default_faults({"streamStatus": 502})
    try:
        result = run_in_process([*TASK, "--", "true"], env)
    finally:
        sandbox.set_default_faults({})
    check_one_error(result, "answered HTTP 502 instead of opening a websocket")


def test_dns_failure(sandbox: Sandbox, env, stream_base) -> None:
    sandbox.state.ws_base_url = "wss://nonexistent.invalid"
    result = run_in_process([*TASK, "--", "true"], env)
    check_one_error(result, "cannot resolve nonexistent.invalid")


def test_tls_failure(sandbox: Sandbox, env, stream_base) -> None:
    server = OneAnswerServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    try:
        sandbox.state.ws_base_url = f"wss://127.0.0.1:{server.port}"
        result = run_in_process([*TASK, "--", "true"], env)
    finally:
        server.close()
    check_one_error(result, "TLS handshake with 127.0.0.1", "failed")


def test_proxy_that_refuses_connect(sandbox: Sandbox, tmp_path: Path, stream_base) -> None:
    proxy = OneAnswerServer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    try:
        # Not resolved here: with a proxy, the proxy resolves the stream host.
        sandbox.state.ws_base_url = "wss://ssmmessages.example.invalid"
        env = clean_env(
            tmp_path,
            AWS_ENDPOINT_URL=sandbox.endpoint_url,
            HTTPS_PROXY=f"http://127.0.0.1:{proxy.port}",
            NO_PROXY="127.0.0.1,localhost",
        )
        result = run_in_process([*TASK, "--", "true"], env)
    finally:
        proxy.close()
    assert proxy.connections == 1
    check_one_error(result, "proxy refused to connect", "HTTP 403")


def test_refused_resumed_tokens_cost_a_bounded_number_of_resumes(sandbox: Sandbox, env) -> None:
    """The connection drops, and the service answers 403 to every resumed connection: a few
    ResumeSession calls with backoff, then one line, instead of an endless loop."""
    sandbox.set_default_faults({"dropAfterMessages": 5, "resumeStreamStatus": 403})
    try:
        result = run_in_process([*TASK, *TICKS], env)
    finally:
        sandbox.set_default_faults({})
    check_one_error(result, "could not resume", "refused the session's stream token")
    assert b"tick" in result.stdout
    assert 1 <= sandbox.requests.counts()["ResumeSession"] <= native.RESUME_ATTEMPTS
    assert_terminated(sandbox)


def test_token_refused_after_the_open_frame_is_not_retried_forever(sandbox: Sandbox) -> None:
    """The service accepts the upgrade but closes with 1008 on the resumed token (the loop
    the issue saw: every attempt "succeeded", so the old code resumed without end)."""
    settings = AwsSettings(region="us-east-1", endpoint_url=sandbox.endpoint_url)
    clients = AwsClients(settings)
    api = EcsApi(clients.ecs, cache_task_definitions=False)
    target = Resolver(api).resolve(TargetSpec(cluster="demo", task=demo.WEB_READY_1))
    sandbox.set_default_faults({"dropAfterMessages": 3, "refuseResumedToken": True})
    try:
        session = api.execute_command(
            cluster=target.cluster,
            task_arn=target.task.arn,
            container=target.container.name,
            command="sh -c 'while :; do echo tick; sleep 0.01; done'",
        )

        async def run() -> int:
            stream = NativeStream(session, clients=clients, target=target.ssm_target)
            await stream.start()
            try:
                while await asyncio.wait_for(stream.receive(), 60):
                    pass
            finally:
                await stream.close(terminate=True)
            return 0

        with pytest.raises(ConnectionLostError) as info:
            asyncio.run(run())
    finally:
        sandbox.set_default_faults({})
    assert "refused the session's stream token" in str(info.value)
    assert "invalid token" in str(info.value)
    assert 1 <= sandbox.requests.counts()["ResumeSession"] <= native.RESUME_ATTEMPTS
