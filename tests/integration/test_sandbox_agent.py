"""The sandbox's agent side over real loopback websockets, driven by a minimal client.

The client is a ``ClientChannel`` plus ``websockets``; ExecuteCommand, ResumeSession,
TerminateSession, StopTask and KMS go through boto3 against the sandbox endpoint. Most tests
use the fast agent; the ones about timing use the faithful default.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ecs_exec.datachannel import (
    ChannelClosed,
    ClientChannel,
    EncryptionKeyRequested,
    MessageType,
    OutputReceived,
    PayloadType,
    SessionStarted,
    decode,
)
from ecs_exec.sandbox.agent import AgentOptions, AgentUtf8
from ecs_exec.sandbox.busybox import find_busybox
from ecs_exec.sandbox.demo import SECURE_API_READY, WEB_READY_1, WORKER_READY
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from tests.conftest import pid_alive

TIMEOUT = 15.0
# One boto3 session: it caches the loaded service models, which keeps tests fast.
_BOTO = boto3.session.Session()


def aws_call(sb: Sandbox, service: str, operation: str, **kwargs: Any) -> Any:
    """One AWS call against the sandbox, with a client that is closed afterwards (an unclosed
    pooled socket would be a ResourceWarning, i.e. an error here)."""
    client: Any = _BOTO.client(  # type: ignore[call-overload]
        service,
        region_name="us-east-1",
        endpoint_url=sb.endpoint_url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    try:
        return getattr(client, operation)(**kwargs)
    finally:
        client.close()


@dataclass
class Wire:
    """One output_stream_data as received (before decryption)."""

    t: float
    seq: int
    flags: int
    payload_type: int
    payload: bytes


class MiniClient:
    """The smallest useful client: one ClientChannel, one websocket, resume on drop."""

    def __init__(self, sb: Sandbox, session: dict[str, Any], target: str = "") -> None:
        self.sb = sb
        self.session = session
        self.channel = ClientChannel(
            session_id=session["sessionId"],
            token=session["tokenValue"],
            client_id=str(uuid.uuid4()),
            wall_clock=time.time,
            target_id=target,
        )
        self.ws: Any = None
        self.output = bytearray()
        self.wire: list[Wire] = []
        self.closed: str | None = None
        self.started: SessionStarted | None = None
        self.connected_at = 0.0
        self.connections = 0
        self.drops = 0

    async def connect(self, token: str | None = None) -> None:
        # A dead agent (StopTask) never answers a close frame: don't wait websockets' 10 s.
        self.ws = await connect(
            self.session["streamUrl"], max_size=None, compression=None, close_timeout=0.5
        )
        await self.ws.send(self.channel.opening_frame(token=token))
        self.connected_at = time.monotonic()
        self.connections += 1

    async def flush(self) -> None:
        events = self.channel.events_received()
        try:
            for frame in self.channel.data_to_send():
                await self.ws.send(frame)
        except ConnectionClosed:
            pass  # lost; the channel resends input, the agent resends output
        for event in events:
            if isinstance(event, OutputReceived):
                self.output += event.data
            elif isinstance(event, ChannelClosed):
                self.closed = event.output
            elif isinstance(event, SessionStarted):
                self.started = event
            elif isinstance(event, EncryptionKeyRequested):
                key = aws_call(
                    self.sb,
                    "kms",
                    "generate_data_key",
                    KeyId=event.kms_key_id,
                    NumberOfBytes=64,
                    EncryptionContext=event.encryption_context,
                )
                self.channel.provide_data_key(
                    key["Plaintext"], key["CiphertextBlob"], now=time.time()
                )
                await self.flush()

    async def send_input(self, data: bytes) -> None:
        self.channel.send_input(data, now=time.time())
        await self.flush()

    async def send_size(self, cols: int, rows: int) -> None:
        self.channel.send_terminal_size(cols, rows, now=time.time())
        await self.flush()

    async def resume(self) -> bool:
        answer = aws_call(self.sb, "ssm", "resume_session", SessionId=self.session["sessionId"])
        token = answer.get("TokenValue")
        if not token:
            return False
        await self.connect(token)
        return True

    async def run(
        self,
        *,
        until: Callable[[], bool] | None = None,
        within: float = TIMEOUT,
        resume: bool = True,
    ) -> None:
        """Receive until channel_closed (or ``until()``); resume after a drop."""
        deadline = time.monotonic() + within
        while self.closed is None and not (until is not None and until()):
            left = deadline - time.monotonic()
            assert left > 0, f"timed out; output so far: {bytes(self.output)[-200:]!r}"
            timer = self.channel.get_timer()
            wait = left if timer is None else max(0.0, min(left, timer - time.time()))
            if until is not None:
                wait = min(wait, 0.05)  # ``until`` may turn true with nothing received
            try:
                frame = await asyncio.wait_for(self.ws.recv(), wait)
            except TimeoutError:
                self.channel.handle_timer(now=time.time())
                await self.flush()
                continue
            except ConnectionClosed:
                self.drops += 1
                if not resume or not await self.resume():
                    return
                continue
            if isinstance(frame, bytes):
                msg = decode(frame)
                if msg.message_type == MessageType.OUTPUT_STREAM_DATA:
                    self.wire.append(
                        Wire(
                            time.monotonic(),
                            msg.sequence_number,
                            msg.flags,
                            msg.payload_type,
                            msg.payload,
                        )
                    )
                self.channel.receive_message(frame, now=time.time())
                await self.flush()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def execute(
    sb: Sandbox,
    command: str,
    *,
    cluster: str = "demo",
    task: str = WEB_READY_1,
    container: str | None = "app",
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"container": container} if container else {}
    answer = aws_call(
        sb,
        "ecs",
        "execute_command",
        cluster=cluster,
        task=task,
        command=command,
        interactive=True,
        **kwargs,
    )
    session: dict[str, Any] = answer["session"]
    return session


async def run_command(sb: Sandbox, command: str, **kwargs: Any) -> MiniClient:
    client = MiniClient(sb, execute(sb, command))
    await client.connect()
    await client.run(**kwargs)
    await client.close()
    return client


@pytest.fixture
def faithful(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
    with running_sandbox() as sb:
        yield sb
    assert not [pid for pid in sb.pids if pid_alive(pid)]


# -- faithful timing ---------------------------------------------------------------------


def test_first_output_after_one_second_with_syn_and_no_exit_code(faithful: Sandbox) -> None:
    client = asyncio.run(run_command(faithful, "echo hello"))
    first = client.wire[0]
    assert first.seq == 0
    assert first.flags == 1  # SYN, no handshake before it
    # The 1 s before the first read (processStdoutData) is a bench figure (agent_fidelity).
    assert bytes(client.output) == b"hello\r\n"  # the PTY turns LF into CR LF
    assert client.closed == ""  # channel_closed with Output ""
    assert all(w.payload_type == PayloadType.OUTPUT for w in client.wire)  # never an ExitCode
    assert client.started is not None and not client.started.encrypted


def test_faithful_output_is_paced_in_1024_byte_chunks(faithful: Sandbox, tmp_path: Path) -> None:
    data = (b"0123456789abcde\n" * 20_000)[:300_000]
    (tmp_path / "f").write_bytes(data)
    client = asyncio.run(run_command(faithful, f"cat {tmp_path / 'f'}"))
    assert bytes(client.output) == data.replace(b"\n", b"\r\n")
    sizes = [len(w.payload) for w in client.wire]
    assert max(sizes) == 1024
    assert sum(s == 1024 for s in sizes) >= 0.8 * len(sizes)
    # The pace (~0.93 MB/s) is scripts/bench.py's channel_faithful_out figure.


def test_missing_command_closes_the_session_without_output(faithful: Sandbox) -> None:
    async def go() -> MiniClient:
        client = MiniClient(faithful, execute(faithful, "no-such-command-xyz --flag"))
        await client.connect()
        await client.run()
        await client.close()
        return client

    client = asyncio.run(go())
    assert client.wire == []
    assert client.closed == ""
    # When (the agent's 2 s) is scripts/bench.py's agent_fidelity figure.


# -- command, PTY and input --------------------------------------------------------------


def test_command_runs_without_a_shell(sandbox: Sandbox) -> None:
    client = asyncio.run(run_command(sandbox, "echo a | wc"))
    assert bytes(client.output) == b"a | wc\r\n"


def test_unbalanced_quote_is_a_command_that_cannot_start(sandbox: Sandbox) -> None:
    client = asyncio.run(run_command(sandbox, "echo 'abc"))
    assert client.wire == [] and client.closed == ""


def test_environment_and_window_size_start_at_zero(sandbox: Sandbox) -> None:
    client = asyncio.run(run_command(sandbox, "sh -c 'echo $TERM $LANG $APP_ENV; stty size'"))
    assert bytes(client.output) == b"xterm-256color C.UTF-8 demo\r\n0 0\r\n"


def test_size_message_is_applied(sandbox: Sandbox) -> None:
    async def go() -> MiniClient:
        client = MiniClient(sandbox, execute(sandbox, "sh -c 'sleep 0.5; stty size'"))
        await client.connect()
        await client.send_size(132, 43)
        await client.run()
        await client.close()
        return client

    assert bytes(asyncio.run(go()).output) == b"43 132\r\n"


def test_input_sent_before_any_output_reaches_cat(sandbox: Sandbox) -> None:
    async def go() -> MiniClient:
        client = MiniClient(sandbox, execute(sandbox, "cat"))
        await client.connect()
        await client.send_input(b"hello\n")  # cat prints nothing first
        await client.run(until=lambda: client.output.count(b"hello") >= 2)
        await client.send_input(b"\x04")  # ^D: cat sees EOF and exits
        await client.run()
        await client.close()
        return client

    client = asyncio.run(go())
    assert bytes(client.output).startswith(b"hello\r\nhello\r\n")  # PTY echo, then cat
    assert client.closed == ""


def test_agent_utf8_handling_is_on_the_wire(sandbox: Sandbox) -> None:
    # printf turns the octal escapes into bytes: U+FFFD, an invalid byte, then a euro sign.
    client = asyncio.run(run_command(sandbox, r"printf '\357\277\275A\377B\342\202\254'"))
    assert bytes(client.output) == b"\xefA\xffB\xe2\x82\xac"


def test_utf8_mangling_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    options = AgentOptions(fast=True, utf8_mangling=False)
    with running_sandbox(agent_options=options) as sb:
        client = asyncio.run(run_command(sb, r"printf '\357\277\275'"))
    assert bytes(client.output) == b"\xef\xbf\xbd"


def test_agent_utf8_holds_back_an_incomplete_tail() -> None:
    utf8 = AgentUtf8()
    assert utf8.feed(b"a\xe2\x82") == b"a"
    # E0 80 is invalid, but within the last 3 bytes: held back like an incomplete rune.
    assert utf8.feed(b"\xac\xe0\x80z") == b"\xe2\x82\xac"
    assert utf8.feed(b"0123") == b"\xe0\x80z0123"  # then passed bytewise
    assert utf8.feed(b"\xef\xbf") == b""
    assert utf8.feed(b"\xbd") == b""  # a whole U+FFFD in the last 3 bytes waits too
    assert utf8.feed(b"") == b""
    assert utf8.feed(b"!ok") == b"\xef!ok"
    assert utf8.feed(b"x\xff") == b"x"  # an invalid last byte waits as well
    assert utf8.feed(b"\xf0\x9f") == b"" and utf8.flush() == b"\xff\xf0\x9f"


def test_agent_utf8_matches_a_rune_walk_of_every_read() -> None:
    # A literal port of processStdoutData's loop, run on each read plus what it held back.
    def walk(buf: bytes) -> tuple[bytes, bytes]:
        out, i = bytearray(), 0
        while i < len(buf):
            for width in range(1, min(4, len(buf) - i) + 1):
                try:
                    rune = buf[i : i + width].decode()
                    break
                except UnicodeDecodeError as exc:
                    if exc.reason != "unexpected end of data":
                        rune, width = "\ufffd", 1
                        break
            else:
                rune, width = "\ufffd", 1
            if rune == "\ufffd":
                if len(buf) - i < 4:
                    break
                out.append(buf[i])
            else:
                out += buf[i : i + width]
            i += width
        return bytes(out), buf[i:]

    rnd = random.Random(5)
    alphabet = b"A\xef\xbf\xbd\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xff\xed\xa0\xe0\xf4\x90"
    for _ in range(3000):
        data = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(40)))
        cuts = sorted(rnd.choices(range(len(data) + 1), k=rnd.randrange(5)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        utf8, held, want = AgentUtf8(), b"", bytearray()
        got = b"".join(utf8.feed(piece) for piece in pieces)
        for piece in pieces:
            out, held = walk(held + piece)
            want += out
        assert (got, utf8.flush()) == (bytes(want), held), pieces


@pytest.mark.skipif(find_busybox() is None, reason="busybox is not installed")
def test_busybox_container_path_holds_only_applets(sandbox: Sandbox) -> None:
    session = execute(
        sandbox, "sh -c 'echo $PATH; ls --help 2>&1 | head -1'", task=WORKER_READY, container=None
    )

    async def go() -> MiniClient:
        client = MiniClient(sandbox, session)
        await client.connect()
        await client.run()
        await client.close()
        return client

    path, banner = bytes(asyncio.run(go()).output).decode().split("\r\n")[:2]
    assert "ecs-exec-busybox-" in path and ":" not in path
    assert "BusyBox" in banner


# -- reliability, faults -----------------------------------------------------------------


def test_drop_after_n_messages_then_resume_loses_and_duplicates_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    log = tmp_path / "frames.jsonl"
    sandbox.set_default_faults({"dropAfterMessages": 20, "dropTimes": 2, "frameLog": str(log)})
    client = asyncio.run(run_command(sandbox, "seq 1 30000"))
    expected = "".join(f"{i}\r\n" for i in range(1, 30001)).encode()
    assert bytes(client.output) == expected
    assert client.drops == 2 and client.connections == 3
    (info,) = sandbox.agent_sessions()
    assert info.connections == 3 and info.finished
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r.get("event") == "drop" for r in records) == 2
    out = [r for r in records if r.get("type") == "output_stream_data"]
    assert out[0]["seq"] == 0 and out[0]["flags"] == 1 and out[0]["length"] <= 1024


def test_duplicates_reordering_latency_and_late_acks_are_survived(sandbox: Sandbox) -> None:
    sandbox.set_default_faults(
        {"duplicateEvery": 3, "reorderEvery": 5, "latencyMs": 5, "ackDelayMs": 150}
    )

    async def go() -> MiniClient:
        client = MiniClient(sandbox, execute(sandbox, "sh -c 'read x; seq 1 5000; echo $x'"))
        await client.connect()
        await client.send_input(b"done\n")
        await client.run()
        await client.close()
        return client

    output = bytes(asyncio.run(go()).output)
    expected = "".join(f"{i}\r\n" for i in range(1, 5001)).encode() + b"done\r\n"
    assert output.endswith(expected)


def test_refused_resume_gives_no_token(sandbox: Sandbox) -> None:
    sandbox.set_default_faults({"dropAfterMessages": 1, "refuseResume": True})
    client = asyncio.run(run_command(sandbox, "seq 1 5000"))
    assert client.drops == 1 and client.closed is None  # resume answered without a token
    answer = aws_call(sandbox, "ssm", "resume_session", SessionId=client.session["sessionId"])
    assert "TokenValue" not in answer


def test_unknown_token_is_refused(sandbox: Sandbox) -> None:
    session = execute(sandbox, "echo hi")

    async def go() -> int | None:
        async with connect(session["streamUrl"]) as ws:
            await ws.send(json.dumps({"MessageSchemaVersion": "1.0", "TokenValue": "nope"}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code

    assert asyncio.run(go()) == 1008


# -- KMS ---------------------------------------------------------------------------------


def test_kms_session_handshakes_and_encrypts(sandbox: Sandbox) -> None:
    session = execute(
        sandbox, "echo secret", cluster="secure", task=SECURE_API_READY, container=None
    )

    async def go() -> MiniClient:
        client = MiniClient(sandbox, session, target=_target(sandbox, session))
        await client.connect()
        await client.run()
        await client.close()
        return client

    client = asyncio.run(go())
    assert client.started is not None and client.started.encrypted
    assert client.started.customer_message == "This session is encrypted using AWS KMS."
    assert [w.payload_type for w in client.wire[:3]] == [
        PayloadType.HANDSHAKE_REQUEST,
        PayloadType.ENC_CHALLENGE_REQUEST,
        PayloadType.HANDSHAKE_COMPLETE,
    ]
    assert bytes(client.output) == b"secret\r\n"
    output = [w for w in client.wire if w.payload_type == PayloadType.OUTPUT]
    assert output and all(b"secret" not in w.payload for w in output)  # sealed on the wire


def _target(sb: Sandbox, session: dict[str, Any]) -> str:
    exec_session = sb.state.sessions.session_by_id(session["sessionId"])
    assert exec_session is not None
    return exec_session.target_id


# -- ending ------------------------------------------------------------------------------


def _wait_for_pid(sb: Sandbox) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = [s.pid for s in sb.agent_sessions() if s.pid is not None]
        if pids:
            return pids[0]
        time.sleep(0.02)
    raise AssertionError("no agent process started")


def test_terminate_session_kills_the_process(sandbox: Sandbox) -> None:
    session = execute(sandbox, "sleep 60")

    async def go() -> tuple[MiniClient, int]:
        client = MiniClient(sandbox, session)
        await client.connect()
        pid = await asyncio.to_thread(_wait_for_pid, sandbox)
        await asyncio.to_thread(
            aws_call, sandbox, "ssm", "terminate_session", SessionId=session["sessionId"]
        )
        await client.run(resume=False)
        await client.close()
        return client, pid

    client, pid = asyncio.run(go())
    assert client.closed == ""
    assert not pid_alive(pid)


def test_stop_task_kills_the_process_and_goes_silent(sandbox: Sandbox) -> None:
    """The agent dies with the container: no channel_closed, no drop, nothing more at all;
    the service keeps the client connected until its idle timeout (docs/agent.md#7-idle-timeout)."""
    session = execute(sandbox, "sleep 60")

    async def go() -> tuple[MiniClient, int]:
        client = MiniClient(sandbox, session)
        await client.connect()
        pid = await asyncio.to_thread(_wait_for_pid, sandbox)
        await asyncio.to_thread(
            aws_call, sandbox, "ecs", "stop_task", cluster="demo", task=WEB_READY_1
        )
        deadline = time.monotonic() + 1.5
        await client.run(until=lambda: time.monotonic() > deadline, resume=False)
        await client.close()
        return client, pid

    client, pid = asyncio.run(go())
    assert client.closed is None
    assert client.drops == 0
    assert not pid_alive(pid)


def test_no_process_survives_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with running_sandbox(fast=True) as sb:

        async def go() -> None:
            client = MiniClient(sb, execute(sb, "sh -c 'sleep 60 & sleep 60'"))
            await client.connect()
            await asyncio.to_thread(_wait_for_pid, sb)
            await client.close()  # abandoned: the session stays, paused

        asyncio.run(go())
        (info,) = sb.agent_sessions()
        assert not info.finished
        pid = info.pid
        assert pid is not None and pid_alive(pid)
    assert not pid_alive(pid)
    assert not [p for p in sb.pids if pid_alive(p)]
