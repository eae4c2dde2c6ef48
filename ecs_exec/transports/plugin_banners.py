"""The lines AWS's session-manager-plugin prints into a session's output, and their removal.

The plugin writes its banners (``Starting session with SessionId: …``, ``This session is
encrypted using AWS KMS.``, ``Exiting session with sessionId: …``, ``Cannot perform start
session: …``, a timed-out line) into the same stream as the remote's output, and only at its
start and at its end. ``BannerFilter`` is sans-I/O: the plugin transport feeds it what it reads
from the plugin's terminal and releases held bytes when output pauses.
"""

from __future__ import annotations

#: Held at most this long at the end of the stream waiting to see whether it is a trailer.
_MAX_TRAILER = 64 * 1024

_KMS_LINE = b"This session is encrypted using AWS KMS.\n"
_INSTALL_MESSAGE = (
    b"\nThe Session Manager plugin was installed successfully. "
    b"Use the AWS CLI to start a session.\n\n"
)
_FAILURE_HEAD = b"Cannot perform start session: "


class BannerFilter:
    """Removes the plugin's own lines from the start and the end of its output (sans-I/O).

    At the start it drops the starting banner, the KMS line and the install message, each
    at most once and only while the stream still begins with them. At the end it holds back
    anything that could be the beginning of a closing line until more output shows it is
    not, or the stream ends (``finish``). Closing lines are final, so text that looks like
    one but is followed by more output is passed on unchanged.

    Args:
        session_id: the session's id, which the banners contain.
    """

    def __init__(self, session_id: str) -> None:
        sid = session_id.encode()
        self._heads = [f"\nStarting session with SessionId: {session_id}\n".encode()]
        self._heads += [_KMS_LINE, _INSTALL_MESSAGE]
        self._exiting = b"\n\nExiting session with sessionId: " + sid + b".\n\n"
        self._closed_head = b"\n\nSessionId: " + sid + b" : "
        self._timeout = b"Session: " + sid + b" timed out."
        self._in_head = True
        self._buf = bytearray()
        #: The plugin said the session ended normally (channel_closed).
        self.ended = False
        #: The text of a ``Cannot perform start session``/timed-out line, if one ended it.
        self.failure: str | None = None
        #: ``channel_closed``'s Output, when the plugin printed one.
        self.closed_output: str | None = None

    def feed(self, data: bytes) -> bytes:
        """Output bytes that are certainly the remote's."""
        self._buf += data
        if self._in_head and not self._strip_head(final=False):
            return b""
        hold = self._hold_from()
        out = bytes(self._buf[:hold])
        del self._buf[:hold]
        return out

    @property
    def holding(self) -> bool:
        """Whether bytes are held back (``release_partial`` may free them)."""
        return bool(self._buf) and not self._in_head

    def release_partial(self) -> bytes:
        """Free bytes held only because they look like the first bytes of a closing line.

        The driver calls this when output has paused: the plugin prints a closing line in
        one write, so a line that has not grown for a while is the remote's (typically a
        final ``\\n`` that would otherwise wait for the next output).
        """
        if self._in_head:
            return b""
        hold = self._hold_from(partial=False)
        out = bytes(self._buf[:hold])
        del self._buf[:hold]
        return out

    def finish(self) -> bytes:
        """The rest of the output at end of stream, with a closing line removed."""
        if self._in_head:
            self._strip_head(final=True)
        buf = bytes(self._buf)
        self._buf.clear()
        for start in sorted(self._trailer_starts(buf)):
            if self._complete_trailer(buf[start:]):
                return buf[:start]
        return buf

    # -- internals ------------------------------------------------------------------------

    def _strip_head(self, *, final: bool) -> bool:
        """Drop leading banners; False while the buffer may still be an unfinished banner."""
        progress = True
        while self._buf and progress:
            progress = False
            for head in self._heads:
                if self._buf.startswith(head):
                    del self._buf[: len(head)]
                    self._heads.remove(head)
                    progress = True
                    break
                if head.startswith(self._buf):
                    if not final:
                        return False
                    self._buf.clear()  # the plugin died in the middle of printing it
                    break
        if self._buf or final:
            self._in_head = False
        return not self._in_head

    def _heads_at_end(self) -> list[bytes]:
        return [self._exiting, self._closed_head, _FAILURE_HEAD, self._timeout]

    def _could_be_trailer(self, rest: bytes) -> bool:
        if self._exiting.startswith(rest) or rest.startswith(self._exiting):
            return rest == self._exiting or len(rest) < len(self._exiting)
        if rest.startswith(self._closed_head):
            return len(rest) <= _MAX_TRAILER
        if rest.startswith(_FAILURE_HEAD):
            return b"\n" not in rest[:-1] and len(rest) <= _MAX_TRAILER
        if rest.startswith(self._timeout):
            return not rest[len(self._timeout) :].strip(b"\r\n")
        return any(head.startswith(rest) for head in self._heads_at_end())

    def _trailer_starts(self, buf: bytes, *, partial: bool = True) -> set[int]:
        starts: set[int] = set()
        for head in self._heads_at_end():
            index = buf.find(head)
            while index >= 0:
                starts.add(index)
                index = buf.find(head, index + 1)
            if not partial:
                continue
            # A partial head at the very end.
            for size in range(min(len(head) - 1, len(buf)), 0, -1):
                if buf.endswith(head[:size]):
                    starts.add(len(buf) - size)
                    break
        return starts

    def _hold_from(self, *, partial: bool = True) -> int:
        buf = bytes(self._buf)
        for start in sorted(self._trailer_starts(buf, partial=partial)):
            if self._could_be_trailer(buf[start:]):
                return start
        return len(buf)

    def _complete_trailer(self, rest: bytes) -> bool:
        if rest == self._exiting:
            self.ended = True
            return True
        if rest.startswith(self._closed_head) and rest.endswith(b"\n\n"):
            self.ended = True
            self.closed_output = rest[len(self._closed_head) : -2].decode("utf-8", "replace")
            return True
        if rest.startswith(_FAILURE_HEAD) and b"\n" not in rest[:-1]:
            self.failure = rest.decode("utf-8", "replace").strip()
            return True
        if rest.startswith(self._timeout) and not rest[len(self._timeout) :].strip(b"\r\n"):
            self.failure = rest.decode("utf-8", "replace").strip()
            return True
        return False
