"""Frame local stdin for the one-off script's stdin reader (see :mod:`ecs_exec.remote.command`).

Frames: the body length ``n`` as 8 ASCII characters (decimal, space-padded on the left),
then ``n`` body bytes; length 0 (``"       0"``) is EOF. A fixed-width header lets the remote
side read it with ``dd`` exactly, with no line reading (bash's ``read`` over-reads a raw tty).

* raw mode (an 8-bit clean transport): the body is the stdin bytes themselves.
* base64 mode (the official plugin, whose local PTY is not 8-bit clean): the body is base64
  without line breaks and ``n`` counts its characters. No frame contains LF at all, which
  matters because the plugin turns a 1-byte read of LF into CR.

Control frames are an 8-character header alone: seven spaces and a lowercase letter. They
are valid before and after EOF, because the script keeps reading its terminal until the end:

* ``h`` heartbeat: the script answers with a heartbeat record (see
  :mod:`ecs_exec.remote.decoder`), so the session carries traffic both ways while a command is
  silent (ECS Exec ends sessions idle for 20 minutes).
* ``i`` interrupt: the script sends SIGINT to the command (its whole process group, as a
  terminal's Ctrl-C does) and SIGTERM ``INTERRUPT_GRACE`` seconds later; it then finishes
  normally: exit record, temporary directory removed.
* ``a`` the client has the exit record: the script may exit now (see
  :mod:`ecs_exec.remote.command`, "the exit handshake").

Send no frame before the decoder has reported :class:`~ecs_exec.remote.events.Ready`: until
then the remote terminal still echoes and cooks input.
"""

from __future__ import annotations

import base64
from typing import Literal

from ecs_exec.errors import InvalidStateError

#: Largest frame body; the remote ``dd bs=<n>`` allocates this much.
MAX_BODY = 65536
#: Control frames: a header with a letter where the length would be.
HEARTBEAT = b"       h"
INTERRUPT = b"       i"
EXIT_CONFIRMED = b"       a"


class StdinEncoder:
    """Turns stdin reads into frames, each meant to be written in one piece.

    Args:
        mode: ``"raw"`` or ``"base64"``, matching the ``stdin_mode`` of the command.
        max_body: the largest frame body in bytes (at most :data:`MAX_BODY`).
    """

    def __init__(self, mode: Literal["raw", "base64"], *, max_body: int = MAX_BODY) -> None:
        if not 4 <= max_body <= MAX_BODY:
            raise ValueError(f"max_body must be between 4 and {MAX_BODY}")
        self.mode = mode
        # In base64 mode 3 input bytes become 4 characters; keep bodies under max_body.
        self._chunk = max_body if mode == "raw" else max_body // 4 * 3
        self._closed = False

    def encode(self, data: bytes) -> list[bytes]:
        """Frames carrying ``data`` (none for empty data, since ``0`` means EOF).

        Raises:
            InvalidStateError: after :meth:`eof`.
        """
        if self._closed:
            raise InvalidStateError("stdin was already closed")
        frames = []
        view = memoryview(data)
        for start in range(0, len(view), self._chunk):
            chunk = view[start : start + self._chunk]
            body = bytes(chunk) if self.mode == "raw" else base64.b64encode(chunk)
            frames.append(b"%8d" % len(body) + body)
        return frames

    def eof(self) -> bytes:
        """The frame that closes the command's stdin; call once.

        Raises:
            InvalidStateError: if called twice.
        """
        if self._closed:
            raise InvalidStateError("stdin was already closed")
        self._closed = True
        return b"%8d" % 0

    @staticmethod
    def heartbeat() -> bytes:
        """A frame the script answers with a heartbeat record and otherwise ignores."""
        return HEARTBEAT

    @staticmethod
    def interrupt() -> bytes:
        """A frame asking the script to interrupt the command (SIGINT, later SIGTERM)."""
        return INTERRUPT

    @staticmethod
    def confirm_exit() -> bytes:
        """The frame that tells the script its exit record arrived; send it once, last."""
        return EXIT_CONFIRMED
