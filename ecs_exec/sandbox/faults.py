"""Fault injection on the sandbox's data-channel websockets, and the frame log.

Faults are per exec session. Their settings come from the state file (``faults.session``,
copied into each new ``ExecSession.faults`` by ExecuteCommand) and can be changed at runtime
with ``Sandbox.set_faults(session_id, {...})``. Keys (camelCase, as in the state file; the
snake_case spelling is accepted too)::

    {"dropAfterMessages": 5,   # abort the TCP connection right after the 5th binary frame
                               #   the agent sent on this connection (in-flight frames are lost)
     "dropEverySeconds": 2.0,  # abort the connection this long after it opened, between frames
     "dropTimes": 1,           # how many drops the two settings above may cause in total, over
                               #   every connection of the session (-1: no limit); default 1
     "duplicateEvery": 3,      # send every 3rd binary frame twice
     "reorderEvery": 4,        # hold every 4th binary frame back and send it after the next one
                               #   (adjacent swap; flushed after 50 ms if nothing follows)
     "ackDelayMs": 300,        # send the agent's acknowledge frames this much later
     "latencyMs": 50,          # delay every frame, both directions, by this much
     "refuseResume": true,     # when the websocket drops, the session ends as if the service
                               #   had timed it out: ResumeSession answers with no TokenValue
     "streamStatus": 403,      # answer every websocket upgrade of the session with this HTTP
                               #   status instead of 101 (403: the service refusing the token)
     "resumeStreamStatus": 403,  # the same, for every upgrade after the session's first
                               #   connection (a resumed token the service refuses)
     "refuseResumedToken": true,  # accept the upgrade, then close with 1008 "invalid token"
                               #   when the OpenDataChannel frame carries a resumed token
     "frameLog": "/tmp/f.jsonl"}  # append this session's frame log to that file

Drops abort the TCP connection without a close frame (the peer sees a reset/EOF), which is
what a network failure looks like; a graceful close would flush frames a real drop loses.

Frame log format: JSON Lines, one object per frame or fault event, appended as it happens::

    {"t": 1714564800.123456, "session": "ecs-execute-command-…", "dir": "out", "kind": "binary",
     "type": "output_stream_data", "seq": 3, "payload_type": 1, "length": 1024, "flags": 0}
    {"t": ..., "session": ..., "dir": "in", "kind": "text", "length": 187}
    {"t": ..., "session": ..., "event": "drop", "reason": "dropAfterMessages"}

``t`` is the epoch time in seconds; ``dir`` is ``out`` (agent to client, logged when written
to the socket) or ``in`` (logged when read); ``length`` is the payload length for binary frames
and the frame length for text frames; a frame that does not decode has ``"type": null`` and an
``error``. Events: ``connect``, ``disconnect``, ``drop``, ``duplicate``, ``reorder``. Payloads
and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ecs_exec.datachannel.message import MalformedMessage, MessageType, decode
from ecs_exec.transports.wsbatch import send_messages

logger = logging.getLogger("ecs_exec.sandbox.faults")

_KEYS = {
    "dropAfterMessages": "drop_after_messages",
    "dropEverySeconds": "drop_every_seconds",
    "dropTimes": "drop_times",
    "duplicateEvery": "duplicate_every",
    "reorderEvery": "reorder_every",
    "ackDelayMs": "ack_delay_ms",
    "latencyMs": "latency_ms",
    "refuseResume": "refuse_resume",
    "streamStatus": "stream_status",
    "resumeStreamStatus": "resume_stream_status",
    "refuseResumedToken": "refuse_resumed_token",
    "frameLog": "frame_log",
}
_HTTP_STATUSES = frozenset(int(status) for status in HTTPStatus if status >= 200)
_REORDER_FLUSH = 0.05
#: Received frames due within this much are released without another sleep (latencyMs).
_LATENCY_SLACK = 0.0005
#: Binary frames queued for the socket before the agent stops reading its PTY.
SEND_HIGH_WATER = 64


@dataclass(frozen=True)
class FaultSettings:
    """Parsed fault settings of one session (see the module docstring for the keys)."""

    drop_after_messages: int | None = None
    drop_every_seconds: float | None = None
    drop_times: int = 1
    duplicate_every: int | None = None
    reorder_every: int | None = None
    ack_delay_ms: float = 0.0
    latency_ms: float = 0.0
    refuse_resume: bool = False
    stream_status: int | None = None
    resume_stream_status: int | None = None
    refuse_resumed_token: bool = False
    frame_log: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FaultSettings:
        """Parse state-file style settings.

        Raises:
            ValueError: an unknown key or a value of the wrong kind.
        """
        values: dict[str, Any] = {}
        names = {f.name for f in fields(cls)}
        for key, value in (data or {}).items():
            name = _KEYS.get(key, key)
            if name not in names:
                raise ValueError(f"unknown session fault {key!r}; known: {sorted(_KEYS)}")
            if value is None:
                continue
            if name in ("refuse_resume", "refuse_resumed_token"):
                values[name] = bool(value)
            elif name == "frame_log":
                values[name] = str(value)
            elif name in ("drop_every_seconds", "ack_delay_ms", "latency_ms"):
                values[name] = float(value)
            else:
                values[name] = int(value)
                if name != "drop_times" and values[name] <= 0:
                    raise ValueError(f"session fault {key!r} must be positive")
                if name.endswith("status") and values[name] not in _HTTP_STATUSES:
                    raise ValueError(f"session fault {key!r} must be an HTTP status")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The camelCase form, without defaults."""
        default = FaultSettings()
        return {
            key: getattr(self, name)
            for key, name in _KEYS.items()
            if getattr(self, name) != getattr(default, name)
        }


class FaultState:
    """The live settings and counters of one session, shared by all its connections."""

    def __init__(self, settings: FaultSettings) -> None:
        self.settings = settings
        self.drops = 0

    def take_drop(self) -> bool:
        """Whether one more injected drop is allowed (and count it)."""
        limit = self.settings.drop_times
        if limit >= 0 and self.drops >= limit:
            return False
        self.drops += 1
        return True


class FrameLog:
    """A JSON Lines frame log (format in the module docstring); thread-safe, append-only."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def frame(self, session_id: str, direction: str, frame: bytes | str) -> None:
        record: dict[str, Any] = {"t": time.time(), "session": session_id, "dir": direction}
        if isinstance(frame, str):
            record.update(kind="text", length=len(frame))
        else:
            record["kind"] = "binary"
            try:
                msg = decode(frame)
            except MalformedMessage as exc:
                record.update(type=None, length=len(frame), error=str(exc))
            else:
                record.update(
                    type=msg.message_type,
                    seq=msg.sequence_number,
                    payload_type=msg.payload_type,
                    length=len(msg.payload),
                    flags=msg.flags,
                )
        self._write(record)

    def event(self, session_id: str, event: str, **extra: Any) -> None:
        self._write({"t": time.time(), "session": session_id, "event": event, **extra})

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _is_ack(frame: bytes) -> bool:
    # The MessageType field is the first 32 bytes after the 4-byte HeaderLength
    # (docs/protocol.md#41-layout).
    return frame[4:36].rstrip(b" \x00") == MessageType.ACKNOWLEDGE.encode()


class Link:
    """One websocket connection of an agent session, with the session's faults applied.

    ``send`` never blocks: frames go through a small scheduler (latency, ack delay,
    duplication, reordering) and a writer task; ``frames()`` yields received frames, each
    delayed by the latency. ``closed`` is set when the connection is gone, for any reason.

    Args:
        ws: a ``websockets.asyncio.server.ServerConnection``.
        session_id: for the logs.
        faults: the session's shared fault state.
        logs: frame logs to write (the sandbox's and the session's).
    """

    def __init__(
        self, ws: Any, *, session_id: str, faults: FaultState, logs: list[FrameLog]
    ) -> None:
        self.ws = ws
        self.session_id = session_id
        self.faults = faults
        self.logs = logs
        self.closed = asyncio.Event()
        self._heap: list[tuple[float, int, bytes | str]] = []
        self._order = itertools.count()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._held: bytes | None = None
        self._held_handle: asyncio.TimerHandle | None = None
        self._queued = 0  # binary frames accepted and not yet written
        self._sent = 0  # binary frames written on this connection
        self._enqueued = 0  # binary frames accepted on this connection
        self._tasks = [asyncio.ensure_future(self._writer())]
        every = faults.settings.drop_every_seconds
        if every is not None:
            self._tasks.append(asyncio.ensure_future(self._drop_later(every)))
        self._log_event("connect")

    # -- logging --------------------------------------------------------------------------

    def _log_frame(self, direction: str, frame: bytes | str) -> None:
        for log in self.logs:
            log.frame(self.session_id, direction, frame)

    def _log_event(self, event: str, **extra: Any) -> None:
        for log in self.logs:
            log.event(self.session_id, event, **extra)

    # -- sending --------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Binary frames accepted but not written yet."""
        return self._queued

    async def wait_writable(self, high_water: int = SEND_HIGH_WATER) -> None:
        """Wait until fewer than ``high_water`` frames are queued (or the link is gone)."""
        while self._queued >= high_water and not self.closed.is_set():
            self._drained.clear()
            await self._drained.wait()

    def send(self, frame: bytes | str) -> None:
        """Queue one frame; faults decide when (and how often) it is written."""
        if self.closed.is_set():
            return
        settings = self.faults.settings
        if isinstance(frame, str):
            self._push(frame, 0.0)
            return
        self._enqueued += 1
        n = self._enqueued
        delay = settings.latency_ms / 1000
        if settings.ack_delay_ms and _is_ack(frame):
            delay += settings.ack_delay_ms / 1000
        if settings.reorder_every and n % settings.reorder_every == 0 and self._held is None:
            self._held = frame
            self._log_event("reorder", n=n)
            loop = asyncio.get_running_loop()
            self._held_handle = loop.call_later(_REORDER_FLUSH, self._release_held)
            return
        self._push(frame, delay)
        if settings.duplicate_every and n % settings.duplicate_every == 0:
            self._log_event("duplicate", n=n)
            self._push(frame, delay)
        self._release_held()

    def _release_held(self) -> None:
        if self._held_handle is not None:
            self._held_handle.cancel()
            self._held_handle = None
        held, self._held = self._held, None
        if held is not None:
            self._push(held, self.faults.settings.latency_ms / 1000)

    def _push(self, frame: bytes | str, delay: float) -> None:
        if isinstance(frame, bytes):
            self._queued += 1
        heapq.heappush(self._heap, (time.monotonic() + delay, next(self._order), frame))
        self._wakeup.set()

    async def _writer(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                if not self._heap:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                due = self._heap[0][0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
                    continue
                # Every frame that is due goes out in one socket write (one websocket message
                # each). With dropAfterMessages the batch stops at the frame the drop follows.
                limit = self.faults.settings.drop_after_messages
                room = limit - self._sent if limit is not None and limit > self._sent else -1
                now = time.monotonic()
                heap = self._heap
                batch: list[bytes | str] = []
                binary = 0
                while heap and heap[0][0] <= now and binary != room:
                    frame = heapq.heappop(heap)[2]
                    batch.append(frame)
                    if isinstance(frame, bytes):
                        binary += 1
                assert batch  # the head was due before ``now`` was read
                await send_messages(self.ws, batch)
                if self.logs:
                    for frame in batch:
                        self._log_frame("out", frame)
                if binary:
                    self._queued -= binary
                    self._sent += binary
                    if self._queued < SEND_HIGH_WATER:
                        self._drained.set()
                    if limit is not None and self._sent >= limit and self.faults.take_drop():
                        self.abort("dropAfterMessages")
                        return
        except (ConnectionClosed, OSError):
            self._mark_closed()

    async def _drop_later(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.faults.take_drop():
            self.abort("dropEverySeconds")

    # -- receiving ------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[bytes | str]:
        """Received frames, each released ``latencyMs`` after it arrived."""
        from websockets.exceptions import ConnectionClosed

        latency = self.faults.settings.latency_ms / 1000
        if not latency:
            try:
                async for frame in self.ws:
                    self._log_frame("in", frame)
                    yield frame
            except (ConnectionClosed, OSError):
                pass
            self._mark_closed()
            return
        queue: asyncio.Queue[tuple[float, bytes | str] | None] = asyncio.Queue()

        async def reader() -> None:
            try:
                async for frame in self.ws:
                    self._log_frame("in", frame)
                    queue.put_nowait((time.monotonic() + latency, frame))
            except (ConnectionClosed, OSError):
                pass
            queue.put_nowait(None)

        task = asyncio.ensure_future(reader())
        try:
            while (item := await queue.get()) is not None:
                due, frame = item
                wait = due - time.monotonic()
                # Frames that arrived together are released together: sleeping once per
                # frame for the few microseconds between them cost more than the frames.
                if wait > _LATENCY_SLACK:
                    await asyncio.sleep(wait)
                yield frame
        finally:
            task.cancel()
            self._mark_closed()

    # -- ending ---------------------------------------------------------------------------

    def _mark_closed(self) -> None:
        if not self.closed.is_set():
            self.closed.set()
            self._drained.set()
            self._log_event("disconnect")

    def abort(self, reason: str) -> None:
        """Drop the TCP connection with no close frame, losing unsent frames."""
        logger.info("session %s: dropping the websocket (%s)", self.session_id, reason)
        self._log_event("drop", reason=reason)
        transport = getattr(self.ws, "transport", None)
        if transport is not None:
            transport.abort()
        self._mark_closed()

    async def flush(self, seconds: float) -> None:
        """Wait up to ``seconds`` until every queued frame is written (or the link is gone)."""
        deadline = time.monotonic() + seconds
        while (self._heap or self._held) and not self.closed.is_set():
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.005)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close gracefully and stop the tasks; a close handshake that does not finish in
        time drops the connection (the reader runs until the socket is gone)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code, reason), timeout=2)
        transport = getattr(self.ws, "transport", None)
        if transport is not None and not transport.is_closing():
            transport.abort()
        self.cancel()

    def cancel(self) -> None:
        if self._held_handle is not None:
            self._held_handle.cancel()
        for task in self._tasks:
            task.cancel()
        self._mark_closed()


__all__ = ["SEND_HIGH_WATER", "FaultSettings", "FaultState", "FrameLog", "Link"]
