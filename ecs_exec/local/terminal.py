"""The local terminal: injectable stdio and environment, raw mode that is always restored,
window size.

Nothing else in ecs-exec touches ``sys.stdin``/``sys.stdout`` or reads its own settings from
``os.environ`` directly; tests build a ``Console`` over files, pipes or a pty with an
environment of their own (as httpie's ``Environment``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import sys
import termios
import tty
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ecs_exec.errors import LocalStreamError

#: The official plugin's size when stdout is not a terminal (shellsession.go).
FALLBACK_SIZE = (300, 100)


@dataclass
class Console:
    """File descriptors of the local side and what they are.

    Args:
        stdin_fd, stdout_fd, stderr_fd: raw descriptors (bytes go through unchanged).
        environ: the environment ecs-exec reads its own settings from (CLUSTER_NAME, ...).
    """

    stdin_fd: int = 0
    stdout_fd: int = 1
    stderr_fd: int = 2
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    @classmethod
    def from_process(cls) -> Console:
        # The descriptors, not sys.stdin & co: Python sets those to None when a descriptor
        # was closed at start-up, and the CLI reopens closed ones on /dev/null.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
        return cls(0, 1, 2, os.environ)

    def write_out(self, text: str) -> None:
        """Text for the user on stdout, unbuffered.

        Raises:
            BrokenPipeError: the reader went away (``| head``), which is not an error.
            LocalStreamError: any other failed write (a full disk, a closed descriptor).
        """
        try:
            write_all(self.stdout_fd, text.encode("utf-8", errors="surrogateescape"))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise LocalStreamError(
                f"cannot write to stdout: {exc.strerror or exc}",
                hint="check where stdout goes (a full disk, a closed descriptor)",
            ) from exc

    def write_err(self, text: str) -> None:
        """Text for the user on stderr, unbuffered."""
        write_all(self.stderr_fd, text.encode("utf-8", errors="replace"))

    @property
    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin_fd)

    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout_fd)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr_fd)

    def get_size(self) -> tuple[int, int]:
        """(cols, rows) of the terminal on stdout, stdin or stderr; the fallback if none."""
        for fd in (self.stdout_fd, self.stdin_fd, self.stderr_fd):
            size = window_size(fd)
            if size is not None:
                return size
        return FALLBACK_SIZE

    def note(self, message: str) -> None:
        """One line for the user on stderr (in raw mode, with CR LF)."""
        write_all(self.stderr_fd, f"ecs-exec: {message}\r\n".encode())


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def window_size(fd: int) -> tuple[int, int] | None:
    """(cols, rows) of a terminal fd, or None when it is not a sized terminal."""
    try:
        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows, cols = struct.unpack("HHHH", packed)[:2]
    if not rows or not cols:
        return None
    return cols, rows


def write_all(fd: int, data: bytes) -> None:
    """Blocking write of every byte, for stderr notes and final flushes."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            import select

            select.select([], [fd], [], 1.0)
            continue
        view = view[written:]


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Put a terminal in raw mode and restore it on every exit path (TCSAFLUSH, as pexpect).

    Raw, not cbreak: Ctrl-C, Ctrl-Z and Ctrl-\\ must reach the remote as bytes instead of
    signalling ecs-exec, and CR must not become LF on the way.
    """
    if not _isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
