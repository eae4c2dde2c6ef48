"""The byte stream a session mode talks to, whichever transport carries it.

The native transport (pure-Python data channel) and the plugin transport (the official
session-manager-plugin under pexpect) both offer this; the interactive and one-off modes
are written once against it.
"""

from __future__ import annotations

from typing import Protocol


class RemoteStream(Protocol):
    """A started Session Manager session: bytes to and from the remote PTY."""

    async def send(self, data: bytes) -> None:
        """Queue input for the remote PTY; waits while too much is unacknowledged."""

    async def resize(self, cols: int, rows: int) -> None:
        """Tell the remote PTY the terminal size."""

    async def receive(self) -> bytes:
        """The next output bytes, in order; b"" once the session has ended."""

    async def close(self, *, terminate: bool = False) -> None:
        """Stop; with ``terminate`` also end the remote session (the process is killed)."""
