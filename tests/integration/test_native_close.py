"""How NativeStream leaves a websocket once the session is over, against a peer it controls."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.server import serve

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.ecs import ExecSession
from ecs_exec.datachannel import AgentChannel
from ecs_exec.transports.native import NativeStream

WAIT = 30.0  # a bound on each wait, far above what any step takes


def test_after_channel_closed_the_connection_is_dropped_with_no_close_handshake() -> None:
    """channel_closed ends the session: like the official plugin, the client then sends no
    close frame, so its end never waits on a peer that does not read (any more), as a close
    frame queued behind an upload on a stalled link would."""

    async def go() -> tuple[str | None, int | None]:
        released = asyncio.Event()
        seen: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

        async def handler(ws: Any) -> None:
            opening = await ws.recv()
            assert isinstance(opening, str)
            ws.transport.pause_reading()  # from now on the client's bytes stay unread
            agent = AgentChannel(session_id="s-1", client_id="c-1", wall_clock=time.time)
            now = asyncio.get_running_loop().time()
            agent.send_output(b"ready", now=now)
            agent.send_channel_closed("", now=now)
            for frame in agent.data_to_send():
                await ws.send(frame)
            await released.wait()
            # Only now does the peer look at what the client sent meanwhile.
            ws.transport.resume_reading()
            await ws.wait_closed()
            seen.set_result(ws.close_code)  # 1006 when no close frame came, only the end

        async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            stream = NativeStream(
                ExecSession("s-1", f"ws://127.0.0.1:{port}/v1/data-channel/s-1", "token"),
                clients=AwsClients(AwsSettings(region="us-east-1")),
                target="ecs:demo_task_runtime",
            )
            async with asyncio.timeout(WAIT):
                await stream.start()
                assert await stream.receive() == b"ready"
                assert await stream.receive() == b""  # channel_closed
                await stream.close()
                released.set()
                return stream.closed_output, await seen

    closed_output, close_code = asyncio.run(go())
    assert closed_output == ""
    assert close_code == 1006
