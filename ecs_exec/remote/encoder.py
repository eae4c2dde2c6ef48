"""Frame local stdin for the one-off script's stdin reader (see :mod:`ecs_exec.remote.command`).

Frames: the body length ``n`` as 8 ASCII characters (decimal, space-padded on the left),
then ``n`` body bytes; length 0 (``"       0"``) is EOF. A fixed-width header lets the remote
side read it with ``dd`` exactly, with no line reading (bash's ``read`` over-reads a raw tty).

* raw mode (an 8-bit clean transport): the body is the stdin bytes themselves.
* base64 mode (the official plugin, whose local PTY is not 8-bit clean): the body is base64
  without line breaks and ``n`` counts its characters. No frame contains LF at all, which
  matters because the plugin turns a 1-byte read of LF into CR.

Send no frame before the decoder has reported :class:`~ecs_exec.remote.events.Ready`: until
then the remote terminal still echoes and cooks input.
"""

from __future__ import annotations

import base64
from typing import Literal

from ecs_exec.errors import InvalidStateError

#: Largest frame body; the remote ``dd bs=<n>`` allocates this much.
MAX_BODY = 65536


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
