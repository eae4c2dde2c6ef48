"""Write several websocket messages with one socket write (a throughput helper for the drivers).

The data channel sends one small websocket message per AgentMessage: an ``output_stream_data``
or ``input_stream_data`` of at most 1024 bytes, and an ``acknowledge`` for every message
received. Awaiting ``ws.send()`` once per message costs a ``send()`` system call and an
``async with`` per message. :func:`send_messages` keeps **one websocket message per frame**
(the far end sees exactly what per-message ``send()`` calls produce) but serialises them all
inside one websockets ``send_context()`` and hands the bytes to the transport in one write, so
flow control (``drain``) and closing-state checks stay websockets' own.

Connections without that interface (other websockets implementations, test doubles) get one
``await ws.send(frame)`` per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _batchable(ws: Any) -> bool:
    return (
        hasattr(ws, "send_context")
        and hasattr(getattr(ws, "protocol", None), "send_binary")
        and getattr(ws, "transport", None) is not None
    )


async def send_messages(ws: Any, frames: Sequence[bytes | str]) -> None:
    """Send each frame as its own websocket message (bytes: binary, str: text), in order.

    Args:
        ws: a ``websockets.asyncio`` connection (client or server).
        frames: the messages.

    Raises:
        websockets.exceptions.ConnectionClosed: as ``ws.send``; the messages before the
            failure may or may not have been written.
    """
    if len(frames) == 1 or not _batchable(ws):
        for frame in frames:
            await ws.send(frame)
        return
    if not frames:
        return
    protocol = ws.protocol
    async with ws.send_context():
        for frame in frames:
            if isinstance(frame, str):
                protocol.send_text(frame.encode())
            else:
                protocol.send_binary(frame)
        chunks = protocol.data_to_send()
        if all(chunks):
            ws.transport.write(b"".join(chunks))
        else:  # pragma: no cover - data frames never produce an end-of-stream marker
            for chunk in chunks:  # what websockets' send_data() does with one
                if chunk:
                    ws.transport.write(chunk)
                elif ws.transport.can_write_eof():
                    ws.transport.write_eof()
                else:
                    ws.transport.close()
        # send_context() then finds nothing left to write, and waits for drain() as usual.


__all__ = ["send_messages"]
