"""Strip the exit marker of an interactive session from the raw terminal stream.

The interactive wrapper (:func:`~ecs_exec.remote.command.build_interactive_command`) prints
``ESC ] 7770 ; <nonce> ; <status> BEL`` after the command exits: an OSC sequence, which
terminals ignore if it ever reaches one. The filter removes it even when split across chunks
and holds back only a tail that could still become the marker, so output is not delayed.

The exit handshake: before printing the marker the wrapper switches the PTY to raw mode
without echo, and after it the wrapper reads lines until one contains the nonce (or 25 s
pass without input), because its exit as the session leader hangs the terminal up, which can
discard output not read yet. The client sends :attr:`ExitMarkerFilter.confirmation` as soon
as it has the marker. The leading LF ends whatever the user typed after the command exited,
so that line cannot hide the nonce; raw mode keeps the line from being echoed into the
output.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(rb"(\d{1,3})\x07")
_PARTIAL = re.compile(rb"\d{0,3}")


class ExitMarkerFilter:
    """Pure filter: feed raw output bytes, get the bytes to display and the exit status.

    Args:
        nonce: the nonce given to ``build_interactive_command``.
    """

    def __init__(self, nonce: str) -> None:
        self._prefix = b"\x1b]7770;" + nonce.encode("ascii") + b";"
        self._held = b""
        #: The remote exit status once the marker was seen, else None.
        self.exit_code: int | None = None
        #: Send this once the marker was seen: the wrapper then exits at once.
        self.confirmation = b"\n" + nonce.encode("ascii") + b"\n"

    def feed(self, data: bytes) -> bytes:
        """Return what of ``held + data`` can be displayed now, marker removed."""
        buf = self._held + data
        self._held = b""
        out = bytearray()
        while buf:
            at = buf.find(self._prefix)
            if at < 0:
                keep = self._partial_prefix(buf)
                out += buf[: len(buf) - keep]
                self._held = buf[len(buf) - keep :]
                break
            out += buf[:at]
            rest = buf[at + len(self._prefix) :]
            match = _DIGITS.match(rest)
            if match:
                self.exit_code = int(match.group(1))
                buf = rest[match.end() :]
            elif _PARTIAL.fullmatch(rest):
                self._held = buf[at:]  # the status digits or BEL are still to come
                break
            else:  # same prefix, but not our marker: show it
                out += buf[at : at + len(self._prefix)]
                buf = rest
        return bytes(out)

    def flush(self) -> bytes:
        """End of stream: release whatever was held back."""
        held, self._held = self._held, b""
        return held

    def _partial_prefix(self, buf: bytes) -> int:
        for size in range(min(len(buf), len(self._prefix) - 1), 0, -1):
            if self._prefix.startswith(buf[-size:]):
                return size
        return 0
