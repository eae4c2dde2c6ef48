"""The local terminal: injectable stdio, raw mode that is always restored, window size.

Nothing else in ecs-exec touches ``sys.stdin``/``sys.stdout`` directly; tests build a
``Console`` over pipes or a pty.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import sys
import termios
import tty
from collections.abc import Iterator
from dataclasses import dataclass

#: The official plugin's size when stdout is not a terminal (shellsession.go).
FALLBACK_SIZE = (300, 100)


@dataclass
class Console:
    """File descriptors of the local side and what they are.

    Args:
        stdin_fd, stdout_fd, stderr_fd: raw descriptors (bytes go through unchanged).
    """

    stdin_fd: int = 0
    stdout_fd: int = 1
    stderr_fd: int = 2

    @classmethod
    def from_process(cls) -> Console:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        return cls(sys.stdin.fileno(), sys.stdout.fileno(), sys.stderr.fileno())

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
