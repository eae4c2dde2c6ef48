"""TerminateSession while the client is still sending: the sandbox's agent side ends the data
channel as the service does (docs/agent.md#6-end-of-session), with ``channel_closed`` and a
close the client's answer completes, however much upload is still on its way."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ecs_exec.datachannel import ChannelClosed, ClientChannel
from ecs_exec.sandbox.server import Sandbox
from tests.integration.test_sandbox_agent import _wait_for_pid, aws_call, execute

WAIT = 30.0  # a bound on each wait, far above what any step takes


async def _wait_until(condition: Any) -> None:
    async with asyncio.timeout(WAIT):
        # Polling: no event tells that a socket's buffer has filled.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def test_an_upload_blocked_by_backpressure_still_gets_channel_closed(sandbox: Sandbox) -> None:
    # `sleep` never reads its stdin: once the PTY's input queue is full the agent stops reading
    # the socket (it writes input to the PTY before reading the next frame), and the client's
    # writes back up, as a large upload's do behind a slow link.
    session = execute(sandbox, "sleep 60")
    channel = ClientChannel(
        session_id=session["sessionId"],
        token=session["tokenValue"],
        client_id=str(uuid.uuid4()),
        wall_clock=time.time,
        max_in_flight=None,  # no window: the sender only ever waits on the socket
    )
    events: list[str] = []

    async def go() -> None:
        # No close timeout: a server that never reads our answer to its close frame and never
        # closes the connection would hang this test until WAIT, not end it quietly.
        ws: Any = await connect(
            session["streamUrl"], max_size=None, compression=None, close_timeout=None
        )
        await ws.send(channel.opening_frame())

        async def upload() -> None:
            # Endless, until the session ends: then a client stops sending, as the plugin
            # does on channel_closed.
            chunk = b"x" * 1024
            while not events:
                channel.send_input(chunk, now=time.time())
                for frame in channel.data_to_send():
                    await ws.send(frame)
                # ws.send() returns without yielding while the socket takes everything: let
                # the reader run, as a client reading its input would.
                await asyncio.sleep(0)

        async def receive() -> None:
            try:
                async for frame in ws:  # ends quietly on a clean close
                    if isinstance(frame, bytes):
                        channel.receive_message(frame, now=time.time())
                    for event in channel.events_received():
                        if isinstance(event, ChannelClosed):
                            still = "while sending" if not sender.done() else "after sending"
                            events.append(f"channel_closed {still}")
            except ConnectionClosed as exc:
                events.append(f"closed: {exc!r}")
            else:
                events.append("closed cleanly")

        sender = asyncio.ensure_future(upload())
        receiver = asyncio.ensure_future(receive())
        try:
            await asyncio.to_thread(_wait_for_pid, sandbox)
            # The upload is stuck: bytes wait in our socket's buffer, the peer takes none.
            await _wait_until(lambda: ws.transport.get_write_buffer_size() > 0)
            await asyncio.to_thread(
                aws_call, sandbox, "ssm", "terminate_session", SessionId=session["sessionId"]
            )
            async with asyncio.timeout(WAIT):
                await receiver
            assert ws.close_code == 1000
        finally:
            sender.cancel()
            receiver.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)
            ws.transport.abort()

    asyncio.run(go())
    assert events == ["channel_closed while sending", "closed cleanly"]
