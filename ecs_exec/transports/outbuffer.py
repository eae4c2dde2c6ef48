"""The bounded buffer between the client's driver and the local output consumer.

The driver awaits :meth:`OutputBuffer.wait_room` after every frame, so while the consumer
(a pipe into a slow program, a paused terminal) is behind, the websocket is not read: TCP
backpressure then reaches the agent, which stops reading the remote PTY. Memory stays at
``high_water`` plus one message, whatever the output size.
"""

from __future__ import annotations

import asyncio
from collections import deque

#: Stop reading the websocket while this much output waits for the local consumer.
OUTPUT_HIGH_WATER = 1024 * 1024


class OutputBuffer:
    """Output bytes waiting for the local consumer; bounded by the driver's flow control.

    Args:
        high_water: above this many bytes, :meth:`wait_room` blocks until the consumer has
            taken the buffer down to half of it.
    """

    def __init__(self, high_water: int = OUTPUT_HIGH_WATER) -> None:
        self.high_water = high_water
        self.size = 0
        #: The most bytes ever buffered (a test's and the bench's check of the bound).
        self.peak = 0
        self._chunks: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._ended = False
        self._error: BaseException | None = None
        #: How many times the reader had to wait for room (the websocket went unread).
        self.stalls = 0
        #: Whether the reader is waiting for room right now.
        self.stalled = False

    @property
    def finished(self) -> bool:
        return self._ended or self._error is not None

    @property
    def error(self) -> BaseException | None:
        return self._error

    def put(self, data: bytes) -> None:
        self._chunks.append(data)
        self.size += len(data)
        self.peak = max(self.peak, self.size)
        self._readable.set()

    def end(self) -> None:
        """The session ended normally: get() returns b"" once the buffer is empty."""
        self._ended = True
        self._readable.set()
        self._room.set()

    def fail(self, error: BaseException) -> None:
        """The session failed: get() raises ``error`` once the buffer is empty."""
        if self._error is None and not self._ended:
            self._error = error
        self._readable.set()
        self._room.set()

    async def get(self) -> bytes:
        """The next chunk, in order; b"" at the end; raises the failure after the data."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._ended:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self.size -= len(data)
        if self.size <= self.high_water // 2:
            self._room.set()
        return data

    async def wait_room(self) -> None:
        """Wait while more than ``high_water`` bytes are buffered (or until the end)."""
        if self.size <= self.high_water or self.finished:
            return
        self.stalls += 1
        self.stalled = True
        try:
            while self.size > self.high_water and not self.finished:
                self._room.clear()
                await self._room.wait()
        finally:
            self.stalled = False


__all__ = ["OUTPUT_HIGH_WATER", "OutputBuffer"]
