"""Interactive sessions: the local terminal in raw mode, wired to the remote PTY.

Ctrl-C, Ctrl-Z and Ctrl-\\ travel as bytes (raw mode), the size goes out at once and on
every SIGWINCH, and the remote shell's exit status comes back through the exit marker the
wrapper prints (ECS Exec itself never reports it). A policy of the session loop
(:mod:`ecs_exec.session.loop`): output, input and resize pumps, the marker as the verdict.

The exit handshake: the wrapper stays alive after printing the marker until it reads the
marker's confirmation line (or 25 s pass without input), so the terminal's hang-up cannot
discard the marker. :func:`confirm_exit` sends that line and waits up to
:data:`CONFIRM_LINGER` for the session to end; the output pump calls it as soon as the marker
was seen, before its verdict lets the loop cancel the input pump and close the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import termios
from collections.abc import Iterator

from ecs_exec.errors import EcsExecError, SessionEndedError, TerminalError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import Console, raw_mode
from ecs_exec.remote import ExitMarkerFilter
from ecs_exec.session.loop import Ended, Policy
from ecs_exec.session.oneoff import IDLE_TIMEOUT
from ecs_exec.transports.base import RemoteStream

#: How long to wait for the session's end after confirming the exit marker.
CONFIRM_LINGER = 1.0


async def confirm_exit(stream: RemoteStream, marker: ExitMarkerFilter) -> None:
    """Send the wrapper the marker's confirmation; wait briefly for the session to end.

    Output after the marker is of no interest (there should be none): it is dropped.
    """
    try:
        await stream.send(marker.confirmation)
        async with asyncio.timeout(CONFIRM_LINGER):
            while await stream.receive():
                pass
    except (TimeoutError, EcsExecError):
        pass


def ended_early(silent_for: float) -> SessionEndedError:
    """The error for a session that ended without the exit marker.

    Args:
        silent_for: seconds without traffic either way before the end.
    """
    if silent_for >= IDLE_TIMEOUT - 60:
        return SessionEndedError(
            f"ECS Exec ended the session after {silent_for / 60:.0f} minutes without input or "
            "output (its idle timeout)",
            reason="idle",
            hint="ECS Exec's 20-minute idle timeout cannot be changed; for long silent "
            "commands use a one-off command (ecs-exec ... -- CMD), which keeps itself alive",
        )
    return SessionEndedError(
        "the session ended without reporting the shell's exit status",
        reason="terminated",
        hint="something ended the session: TerminateSession (another tool, the console, an "
        "administrator), the task stopping, or the SSM agent restarting",
    )


def check_terminal(console: Console) -> None:
    """Fail now, before a session is started, if the terminal cannot be put in raw mode.

    Raises:
        TerminalError: stdin is not a usable terminal, or ecs-exec runs in the background
            (changing the terminal's mode would stop it with SIGTTOU).
    """
    fd = console.stdin_fd
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError) as exc:
        raise TerminalError(
            f"stdin is not a usable terminal: {exc}",
            hint="run an interactive session from a terminal, or give a command after --",
        ) from exc
    try:
        foreground = os.tcgetpgrp(fd)
    except OSError:
        return  # not our controlling terminal: its mode can still be set
    if foreground != os.getpgrp():
        raise TerminalError(
            "the terminal belongs to another job (ecs-exec runs in the background)",
            hint="run it in the foreground (fg), or give a command after -- for a one-off",
        )


class InteractiveSession:
    """The local terminal attached to a remote PTY.

    Args:
        stream: the session's stream.
        console: local stdio (stdin a terminal).
        marker: strips the exit marker from the output and reads the status from it.
    """

    def __init__(self, stream: RemoteStream, console: Console, *, marker: ExitMarkerFilter) -> None:
        self.stream = stream
        self.console = console
        self.marker = marker
        self.stdout = OutputWriter(console.stdout_fd)
        self._resized = asyncio.Event()
        self._last_traffic = asyncio.get_running_loop().time()

    def policy(self) -> Policy:
        return Policy(
            # The size goes out first: the remote shell reads it at its start.
            pumps=(self.pump_resize, self.pump_output, self.pump_input),
            on_signal={signal.SIGWINCH: self._resized.set},
            local_mode=self._raw_mode,
            finish=self.stdout.close,
        )

    @contextlib.contextmanager
    def _raw_mode(self) -> Iterator[None]:
        with raw_mode(self.console.stdin_fd):
            yield

    async def pump_output(self) -> Ended:
        """Remote output to the terminal, until the exit marker."""
        loop = asyncio.get_running_loop()
        while True:
            data = await self.stream.receive()
            if not data:
                tail = self.marker.flush()
                if tail:
                    await self.stdout.write(tail)
                return Ended(255, error=ended_early(loop.time() - self._last_traffic))
            self._last_traffic = loop.time()
            shown = self.marker.feed(data)
            if shown:
                await self.stdout.write(shown)
            if self.marker.exit_code is not None:
                await confirm_exit(self.stream, self.marker)
                return Ended(self.marker.exit_code)

    async def pump_input(self) -> None:
        """Keys to the remote; at EOF (a gateway closed stdin) the remote finishes alone."""
        loop = asyncio.get_running_loop()
        reader = StdinReader(self.console.stdin_fd, read_size=4096)
        try:
            async for chunk in reader:
                self._last_traffic = loop.time()
                await self.stream.send(chunk)
        finally:
            reader.stop()

    async def pump_resize(self) -> None:
        """The terminal size now and after every SIGWINCH."""
        while True:
            cols, rows = self.console.get_size()
            await self.stream.resize(cols, rows)
            await self._resized.wait()
            self._resized.clear()
