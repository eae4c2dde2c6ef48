"""Local stdin, read once and delivered whole to every task.

Stdin is read to its end before the first session starts (every task must get the same
bytes, and a pipe can be read only once). Up to :data:`MEMORY_LIMIT` bytes stay in memory;
beyond that the spool moves to an unlinked temporary file, so memory stays bounded however
large the input, and each session reads the spool from its own offset: one copy, never N.
"""

from __future__ import annotations

import asyncio
import errno
import os
import tempfile
import threading
from collections.abc import AsyncIterator
from typing import IO

from ecs_exec.errors import LocalStreamError

#: Input held in memory; larger input goes to a temporary file.
MEMORY_LIMIT = 1024 * 1024
#: Bytes each session reads from the spool at a time.
CHUNK = 64 * 1024


class StdinSpool:
    """Stdin as read once; :meth:`reader` gives each session its own iterator."""

    def __init__(self) -> None:
        self._memory = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0

    @classmethod
    async def read(cls, fd: int) -> StdinSpool:
        """Read ``fd`` to its end in a thread (the loop stays free for signals).

        Raises:
            LocalStreamError: stdin could not be read, or the temporary file written.
        """
        spool = cls()
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def run() -> None:
            error: BaseException | None = None
            try:
                spool._fill(fd)
            except OSError as exc:
                error = exc
            loop.call_soon_threadsafe(_settle, done, error)

        # A daemon thread: a stdin that never ends (a terminal) must not hold the exit.
        threading.Thread(target=run, name="ecs-exec-spool", daemon=True).start()
        error = await done
        if error is not None:
            spool.close()
            raise LocalStreamError(
                f"cannot read stdin into the spool: {error}",
                hint="check the input, and the free space of the temporary directory "
                "($TMPDIR) when it is larger than 1 MiB",
            )
        return spool

    def _fill(self, fd: int) -> None:
        while True:
            try:
                data = os.read(fd, CHUNK)
            except OSError as exc:
                if exc.errno == errno.EIO:  # a pty whose other side closed: end of input
                    return
                raise
            if not data:
                return
            self.size += len(data)
            if self._file is None and len(self._memory) + len(data) <= MEMORY_LIMIT:
                self._memory += data
                continue
            if self._file is None:
                # Unlinked at once: nothing is left behind whatever happens to us.
                self._file = tempfile.TemporaryFile(prefix="ecs-exec-stdin-")  # noqa: SIM115
                self._file.write(self._memory)
                self._memory = bytearray()
            self._file.write(data)

    def _chunk(self, offset: int) -> bytes:
        if self._file is None:
            return bytes(self._memory[offset : offset + CHUNK])
        return os.pread(self._file.fileno(), CHUNK, offset)

    def reader(self) -> AsyncIterator[bytes]:
        """The whole input from the start, in chunks (a new iterator each call)."""
        if self._file is not None:
            self._file.flush()
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        offset = 0
        while offset < self.size:
            # pread of a page-cached file is fast; the sends in between yield to the loop.
            chunk = self._chunk(offset)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = bytearray()

    @property
    def on_disk(self) -> bool:
        return self._file is not None


def _settle(future: asyncio.Future[BaseException | None], error: BaseException | None) -> None:
    if not future.done():
        future.set_result(error)
