"""The one asyncio driver of a sans-I/O data channel, for the client and the sandbox agent.

It follows websockets' ``asyncio/connection.py``, which serves both ends of a websocket with
one class, and aioquic's ``asyncio/protocol.py`` ``transmit()``: the driver stays dumb. After
every input to the channel (a frame read, the timer, anything the owner feeds it) it

1. queues ``data_to_send()`` for the write loop,
2. hands each of ``events_received()`` to the owner's ``on_event`` callback,
3. re-arms its one timer at ``get_timer()``.

Everything runs on the event loop's monotonic clock (``loop.time()``): that is the ``now`` of
every input, and the clock of the timer. The wall clock is the channel's own business (it
only feeds the CreatedDate field).

The driver outlives connections: ``serve(connection)`` runs the read loop of one connection
and returns when it ends; the owner decides what comes next (the client resumes, the agent
waits for the client to come back). While no connection is attached, frames the channel
produces are dropped, as a dead socket would drop them (the sequenced ones stay in the
channel's retransmission buffer), and the timer is paused.

The timer does not run while a write is stuck (the peer does not read): what it would resend
would only queue behind what the socket has not taken, again at every timeout, so memory
would grow for as long as the peer stalls. It runs once the queue has gone out; a peer that
never reads again is the keepalive's to detect.

Flow control: after each frame read, the read loop awaits the owner's ``ready()`` before it
reads the next one. The client waits there while its local output is full, so a slow local
consumer stops the websocket reads instead of growing a queue, and TCP backpressure reaches
the agent. The agent writes the input it received to its PTY there and, with
``ack_after_processing``, sends the acknowledgements only afterwards, as the SSM agent does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from ecs_exec.datachannel import Event
from ecs_exec.transports.wsbatch import send_messages

logger = logging.getLogger("ecs_exec.transports.driver")


class SansIoChannel(Protocol):
    """What the driver needs of a data channel (client or agent role)."""

    def data_to_send(self) -> list[bytes]: ...

    def events_received(self) -> list[Event]: ...

    def get_timer(self) -> float | None: ...

    def receive_message(self, data: bytes, *, now: float) -> None: ...

    def handle_timer(self, *, now: float) -> None: ...

    def resend_unacknowledged(self, *, now: float) -> None: ...


class FrameConnection(Protocol):
    """One websocket connection as the driver uses it."""

    def frames(self) -> AsyncIterator[bytes | str]:
        """Received messages until the connection ends (ending normally on a drop)."""

    async def send_frames(self, frames: Sequence[bytes]) -> None:
        """Write binary messages in order; a dead connection drops them silently."""


class WebSocketConnection:
    """A ``websockets.asyncio`` connection as a :class:`FrameConnection`.

    Args:
        ws: a client or server connection.
    """

    def __init__(self, ws: object) -> None:
        self.ws = ws

    async def frames(self) -> AsyncIterator[bytes | str]:
        from websockets.exceptions import ConnectionClosed

        try:
            async for frame in self.ws:  # type: ignore[attr-defined]
                yield frame
        except ConnectionClosed:
            pass
        except OSError as exc:
            logger.debug("socket error: %s", exc)

    async def send_frames(self, frames: Sequence[bytes]) -> None:
        from websockets.exceptions import ConnectionClosed

        # One socket write for the batch (wsbatch), one websocket message per frame.
        with contextlib.suppress(ConnectionClosed, OSError):
            await send_messages(self.ws, frames)


class ChannelDriver:
    """Reads, writes and times one sans-I/O channel over successive connections.

    Args:
        channel: the channel (client or agent role).
        on_event: called with every event the channel produces, in order. It may feed the
            channel more input; the driver drains what that produces.
        ready: awaited after each frame is processed, before the next one is read (flow
            control); None: read on at once.
        ack_after_processing: hold the frames produced by a received frame (its
            acknowledgement) until ``ready()`` returns, as the SSM agent acks input only
            after writing it.
    """

    def __init__(
        self,
        channel: SansIoChannel,
        *,
        on_event: Callable[[Event], None],
        ready: Callable[[], Awaitable[None]] | None = None,
        ack_after_processing: bool = False,
    ) -> None:
        self.channel = channel
        self._on_event = on_event
        self._ready = ready
        self._ack_after = ack_after_processing
        self._loop = asyncio.get_running_loop()
        self._connection: FrameConnection | None = None
        self._outgoing: list[bytes] = []
        self._wakeup = asyncio.Event()
        self._sent = asyncio.Event()
        self._sent.set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0  # the deadline self._timer was armed for
        self._timer_deferred = False  # it fired while a write was stuck; the writer runs it
        # One frame at a time, across connections: after a drop the old connection's read
        # loop may still be in ready() when the new one delivers the next frame.
        self._receive_lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        #: Binary frames received over every connection (progress, for the owners).
        self.frames_received = 0

    # -- state ----------------------------------------------------------------------------

    def now(self) -> float:
        """The driver's clock: the event loop's monotonic time, in seconds."""
        return self._loop.time()

    @property
    def connected(self) -> bool:
        """Whether a connection is attached."""
        return self._connection is not None

    @property
    def backlog(self) -> int:
        """Frames queued for the write loop and not yet handed to the connection."""
        return len(self._outgoing)

    # -- inputs ---------------------------------------------------------------------------

    def process(self) -> None:
        """Drain the channel's outputs after an input: the one place that does."""
        channel = self.channel
        while True:
            self._queue(channel.data_to_send())
            events = channel.events_received()
            if not events:
                break
            for event in events:
                self._on_event(event)
        self._arm_timer()

    def attach(self, connection: FrameConnection, *, resend: bool = False) -> None:
        """Make ``connection`` the one written to, before its read loop runs (so that input
        sent right after a connect is not dropped). Arguments as :meth:`serve`."""
        if self._closed:
            return
        self._connection = connection
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_loop())
        if resend:
            self.channel.resend_unacknowledged(now=self.now())
        self.process()

    async def serve(self, connection: FrameConnection, *, resend: bool = False) -> None:
        """Attach ``connection`` and run its read loop until it ends.

        A second ``serve`` replaces the current connection (the older read loop keeps
        running until its socket ends, but nothing is written to it any more).

        Args:
            connection: the new connection.
            resend: resend everything unacknowledged at once (a resumed client: what was
                in flight when the old socket died is lost).
        """
        if self._closed:
            return
        if self._connection is not connection:
            self.attach(connection, resend=resend)
        try:
            async for frame in connection.frames():
                if not isinstance(frame, bytes):
                    continue  # after the open, the service sends binary messages only
                async with self._receive_lock:
                    await self._receive(frame)
        finally:
            if self._connection is connection:
                self._detach()

    async def _receive(self, frame: bytes) -> None:
        self.frames_received += 1
        channel = self.channel
        channel.receive_message(frame, now=self.now())
        if not self._ack_after:
            self.process()
            if self._ready is not None:
                await self._ready()
            return
        held = channel.data_to_send()
        for event in channel.events_received():
            self._on_event(event)
        if self._ready is not None:
            await self._ready()
        self._queue(held)
        self.process()

    def _detach(self) -> None:
        self._connection = None
        self._outgoing.clear()
        self._sent.set()
        self._timer_deferred = False
        self._cancel_timer()  # paused while nobody is connected

    # -- writing --------------------------------------------------------------------------

    def _queue(self, frames: list[bytes]) -> None:
        if frames and self._connection is not None:
            self._outgoing.extend(frames)
            self._sent.clear()
            self._wakeup.set()

    async def _write_loop(self) -> None:
        while True:
            if not self._outgoing:
                self._sent.set()
                self._wakeup.clear()
                if self._timer_deferred:
                    self._timer_deferred = False
                    self._on_timer()  # what it queues wakes this loop up again
                    continue
                await self._wakeup.wait()
                continue
            # Everything queued since the last write goes out together: the acks of a
            # burst of frames, or a burst of output, in one socket write.
            frames, self._outgoing = self._outgoing, []
            connection = self._connection
            if connection is not None:
                await connection.send_frames(frames)

    async def wait_sent(self) -> None:
        """Wait until every queued frame is handed to the connection (or it is gone)."""
        while not self._sent.is_set():
            await self._sent.wait()

    # -- timer ----------------------------------------------------------------------------

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm_timer(self) -> None:
        if self._timer_deferred:
            return  # the write loop runs it once the connection takes what is queued
        deadline = self.channel.get_timer()
        if deadline is None or self._connection is None or self._closed:
            self._cancel_timer()
            return
        if self._timer is not None:
            if self._timer_due <= deadline:
                # Armed for no later than needed: an early wake-up finds nothing overdue
                # and re-arms. Re-arming after every frame and ack (a cancel and a
                # call_at each) was a large share of the CPU at full speed.
                return
            self._timer.cancel()
        self._timer_due = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._sent.is_set():
            # The connection has not taken what is already queued (a peer that does not
            # read): resends would only queue behind it, again at every timeout, so the
            # queue would grow without bound for as long as the peer stalls. The timer
            # runs once the queue has gone out.
            self._timer_deferred = True
            return
        self.channel.handle_timer(now=self.now())
        self.process()

    # -- ending ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the timer and the write loop; the connection is the owner's to close."""
        self._closed = True
        self._cancel_timer()
        self._connection = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


__all__ = ["ChannelDriver", "FrameConnection", "SansIoChannel", "WebSocketConnection"]
