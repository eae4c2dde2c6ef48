"""Local output of a fan-out: one ordered writer, and each session's sinks.

Every byte for local stdout and stderr goes through one :class:`OrderedOutput`: a thread
writes queued blocks in order, each with whole ``write`` calls, so a block (a line with its
prefix, a task's group, a JSON line) is never split by another, and what was queued for
stderr before stdout appears before it. The queue holds at most ``max_bytes``; a session
whose output cannot be queued waits, which stops reading its websocket: a slow local reader
slows the tasks down instead of growing memory.

Sinks (``ecs_exec.session.oneoff.OutputSink``), one per stream of each session:

* :class:`LineSink` (``--prefix``): whole lines as they arrive, each prefixed with the task's
  label; a partial line waits for its end (at most :data:`MAX_LINE` bytes, then it is cut),
  and a last line without a newline gets one;
* :class:`CaptureSink` (``--group``, ``-o json``): the stream in a temporary file that stays
  in memory up to :data:`CAPTURE_MEMORY` bytes, written out once the task has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import tempfile
import threading
from collections.abc import AsyncIterator, Sequence

from ecs_exec.local.terminal import write_all

#: Bytes queued for local output before sessions wait.
QUEUE_BYTES = 1024 * 1024
#: The longest partial line a prefixed stream holds before writing it out cut.
MAX_LINE = 64 * 1024
#: Captured output per stream held in memory before it moves to a temporary file.
CAPTURE_MEMORY = 64 * 1024
#: ANSI colours for task labels on a terminal (green, yellow, blue, magenta, cyan, red and
#: their bright variants), in turn.
COLOURS = ("32", "33", "34", "35", "36", "31", "92", "93", "94", "95", "96", "91")


class OrderedOutput:
    """Writes blocks to local descriptors in order, from one thread. Create it on the event
    loop that writes to it.

    Args:
        max_bytes: queued bytes before ``write`` waits (a larger block goes through alone).
    """

    def __init__(self, *, max_bytes: int = QUEUE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._loop = asyncio.get_running_loop()
        self._queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue()
        self._queued = 0
        self._lock = threading.Lock()
        self._room = asyncio.Event()  # set (on the loop) whenever the thread made room
        self.errors: dict[int, OSError] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-exec-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                fd, data = item
                if fd not in self.errors:
                    try:
                        write_all(fd, data)
                    except OSError as exc:
                        self.errors[fd] = exc
                with self._lock:
                    self._queued -= len(data)
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    self._loop.call_soon_threadsafe(self._room.set)
        finally:
            self._done.set()

    def _put_if_room(self, fd: int, data: bytes) -> bool:
        with self._lock:
            if self._queued and self._queued + len(data) > self.max_bytes:
                return False
            self._queued += len(data)
            self._queue.put((fd, data))
            return True

    async def write(self, fd: int, data: bytes) -> None:
        """Queue a block for ``fd``; waits (without blocking the loop) while the queue is full.

        Raises:
            OSError: an earlier write to ``fd`` failed (BrokenPipeError: its reader left).
        """
        if fd in self.errors:
            raise self.errors[fd]
        if not data:
            return
        while not self._put_if_room(fd, data):
            # Both the clear and the thread's set run on the loop: no wake-up is lost.
            self._room.clear()
            if self._put_if_room(fd, data):
                return
            await self._room.wait()

    def broken(self, fd: int) -> bool:
        return isinstance(self.errors.get(fd), BrokenPipeError)

    async def close(self) -> None:
        """Write out everything queued and stop the thread."""
        self._queue.put(None)
        await self._loop.run_in_executor(None, self._done.wait)


class LineSink:
    """One stream of one task, as prefixed whole lines on a local descriptor."""

    def __init__(self, output: OrderedOutput, fd: int, prefix: bytes) -> None:
        self.output = output
        self.fd = fd
        self.prefix = prefix
        self._partial = bytearray()

    async def write(self, data: bytes) -> None:
        self._partial += data
        end = self._partial.rfind(b"\n")
        if end >= 0:
            lines = bytes(self._partial[: end + 1])
            del self._partial[: end + 1]
            await self.output.write(self.fd, self._prefixed(lines))
        if len(self._partial) > MAX_LINE:
            cut, self._partial = bytes(self._partial), bytearray()
            await self.output.write(self.fd, self.prefix + cut + b"\n")

    def _prefixed(self, lines: bytes) -> bytes:
        return b"".join(self.prefix + line + b"\n" for line in lines[:-1].split(b"\n"))

    async def close(self) -> None:
        """The last line, when it had no newline, gets one (it must not run into the next
        task's line); the shared output stays open."""
        if self._partial:
            rest, self._partial = bytes(self._partial), bytearray()
            await self.output.write(self.fd, self.prefix + rest + b"\n")


class CaptureSink:
    """One stream of one task, kept until the task has finished (memory, then a file)."""

    def __init__(self) -> None:
        # Closed by ``discard`` once the task's output has been written out.
        self._file = tempfile.SpooledTemporaryFile(max_size=CAPTURE_MEMORY)  # noqa: SIM115
        self.size = 0

    async def write(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)

    async def close(self) -> None:
        """Nothing to flush: the capture is read once the session is over."""

    def read_all(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    async def chunks(self, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        self._file.seek(0)
        while chunk := self._file.read(size):
            yield chunk

    def discard(self) -> None:
        self._file.close()


def short_ids(task_ids: Sequence[str], *, minimum: int = 8) -> dict[str, str]:
    """Each task id's shortest prefix, at least ``minimum`` long, that no other id shares."""
    result: dict[str, str] = {}
    for task_id in task_ids:
        length = minimum
        while length < len(task_id) and any(
            other != task_id and other.startswith(task_id[:length]) for other in task_ids
        ):
            length += 1
        result[task_id] = task_id[:length]
    return result


def labels(
    targets: Sequence[tuple[str, str]], *, show_container: bool, colour: bool
) -> dict[tuple[str, str], bytes]:
    """The line prefix of each (task id, container): ``<short id>[/container] | ``, padded
    to one width, coloured in turn on a terminal."""
    shorts = short_ids(sorted({task_id for task_id, _ in targets}))
    plain = {key: shorts[key[0]] + (f"/{key[1]}" if show_container else "") for key in targets}
    width = max((len(text) for text in plain.values()), default=0)
    out: dict[tuple[str, str], bytes] = {}
    for index, key in enumerate(targets):
        text = plain[key].ljust(width)
        if colour:
            text = f"\x1b[{COLOURS[index % len(COLOURS)]}m{text}\x1b[0m"
        out[key] = f"{text} | ".encode()
    return out
