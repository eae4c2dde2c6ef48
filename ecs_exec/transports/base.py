"""The byte stream a session talks to, whichever transport carries it.

The native transport (pure-Python data channel) and the plugin transport (the official
session-manager-plugin under pexpect) both offer this; the session loop and its policies
(interactive, one-off, the drop-in's shell) are written once against it. Ending the remote
session (ssm:TerminateSession) is not the stream's business: the session loop does it, so
that every way out of a session does it, and reports when it fails.
"""

from __future__ import annotations

from typing import Protocol


class RemoteStream(Protocol):
    """A Session Manager session: bytes to and from the remote PTY."""

    async def start(self) -> None:
        """Connect (the websocket, or the plugin process); called once, before the rest."""

    async def send(self, data: bytes) -> None:
        """Queue input for the remote PTY; waits while too much is unacknowledged."""

    async def resize(self, cols: int, rows: int) -> None:
        """Tell the remote PTY the terminal size."""

    async def receive(self) -> bytes:
        """The next output bytes, in order; b"" once the session has ended."""

    async def close(self) -> None:
        """Stop: release the connection or process (the remote session is not ended)."""
