"""Async access to local stdin/stdout with bounded buffers and real backpressure.

asyncio's pipe transports set O_NONBLOCK on the descriptor, which is shared with the parent
shell's terminal or pipe and leaks out after exit; regular files are refused by them
altogether. So each direction gets one thread doing plain blocking I/O, connected to the
event loop by a bounded queue: memory stays flat whatever the stream size, and a slow
consumer slows the producer instead of buffering.
"""

from __future__ import annotations

import asyncio
import errno
import os
import queue
import threading
from collections.abc import AsyncIterator

from ecs_exec.local.terminal import write_all

READ_SIZE = 64 * 1024
#: Chunks buffered for stdin (at most 16 x 64 KiB in flight).
QUEUE_CHUNKS = 16
#: Bytes queued for stdout or stderr before writers wait.
QUEUE_BYTES = 1024 * 1024


class StdinReader:
    """Reads a descriptor in a thread; iterate with ``async for chunk in reader``."""

    def __init__(self, fd: int, *, read_size: int = READ_SIZE) -> None:
        self.fd = fd
        self.read_size = read_size
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | BaseException] = asyncio.Queue()
        self._slots = threading.Semaphore(QUEUE_CHUNKS)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-exec-stdin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._slots.acquire()
            if self._stopped.is_set():
                return
            try:
                data = os.read(self.fd, self.read_size)
            except OSError as exc:
                # A pty whose other side closed reports EIO instead of EOF (pexpect's rule).
                if exc.errno != errno.EIO:
                    self._put(exc)
                    return
                data = b""
            self._put(data)
            if not data:
                return

    def _put(self, item: bytes | BaseException) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop has closed: nobody wants the data any more
            self._stopped.set()

    async def read(self) -> bytes:
        """The next chunk; b"" at end of input."""
        item = await self._queue.get()
        self._slots.release()
        if isinstance(item, BaseException):
            raise item
        return item

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read()
            if not chunk:
                return
            yield chunk

    def stop(self) -> None:
        self._stopped.set()
        self._slots.release()


class OutputWriter:
    """Writes to a descriptor in a thread, in order, holding at most ``max_bytes`` queued.

    A slow reader of the descriptor makes :meth:`write` wait, which stops the session's
    output pump, which (through the transport's flow control) stops the remote side: memory
    stays bounded whatever the output size.

    Args:
        fd: the descriptor.
        max_bytes: queued bytes before ``write`` waits (one larger chunk is let through
            alone, so any size can be written).
    """

    def __init__(self, fd: int, *, max_bytes: int = QUEUE_BYTES) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._queued = 0  # bytes in the queue or being written
        self._room = threading.Condition()
        self._error: OSError | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ecs-exec-out{fd}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                if self._error is None:
                    try:
                        write_all(self.fd, item)
                    except OSError as exc:
                        self._error = exc
                with self._room:
                    self._queued -= len(item)
                    self._room.notify_all()
        finally:
            self._done.set()

    def _fits(self, size: int) -> bool:
        return not self._queued or self._queued + size <= self.max_bytes

    def _put_when_room(self, data: bytes) -> None:
        with self._room:
            while not self._fits(len(data)):
                self._room.wait()
            self._queued += len(data)
            self._queue.put(data)

    async def write(self, data: bytes) -> None:
        """Queue data; waits (without blocking the loop) while the queue is full."""
        if self._error is not None:
            raise self._error
        if not data:
            return
        with self._room:
            if self._fits(len(data)):
                self._queued += len(data)
                self._queue.put(data)
                return
        await asyncio.get_running_loop().run_in_executor(None, self._put_when_room, data)

    async def close(self) -> None:
        """Flush everything queued and stop the thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._queue.put, None)
        await loop.run_in_executor(None, self._done.wait)
        if self._error is not None and not isinstance(self._error, BrokenPipeError):
            raise self._error

    @property
    def broken(self) -> bool:
        return isinstance(self._error, BrokenPipeError)
