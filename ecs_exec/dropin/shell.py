"""The drop-in's shell session: the official plugin's ShellSession, run on ``NativeStream``.

Behaviour kept from ``shellsession.go``/``shellsession_unix.go``
(docs/protocol.md#12-the-plugins-shell-session, #11-terminal-size-and-flags, #13-session-end),
because users and the AWS CLI expect it:

* the banners and end lines, byte for byte, on stdout;
* the terminal in cbreak ``-echo`` (ISIG and ICRNL stay on) while stdin is a tty;
* stdin read at most 1024 bytes at a time, one input message per read, and a read that is
  exactly ``\\n`` sent as ``\\r`` (tty only: a piped "\\n" is data, not the Enter key);
* SIGINT, SIGQUIT and SIGTSTP sent as the bytes 03, 1C and 1A instead of acting locally;
* the size of stdout's terminal sent at start and on change (300x100 when not a tty);
* every output payload written raw to stdout; ``channel_closed`` ends with exit 0.

Improvements a drop-in's users want: stdin EOF on a pipe does not end the session (input
just stops and output is received until the session ends; the plugin exits at once and
loses the output), input is sent before the first output arrives (the native channel holds
it), pacing comes from the ack window instead of a 1 ms sleep per read, SIGWINCH replaces
the 500 ms size poll, the terminal is restored on every exit path, and failures exit non-zero.
A session cut short (SIGTERM or SIGHUP, a lost connection, stdout closed: exit 141) is ended
with TerminateSession on the way out, and a failure to end it is reported on stderr; it runs
on the session loop of :mod:`ecs_exec.session.loop` as a policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import termios
from collections.abc import Callable, Iterator

from ecs_exec.errors import ConnectionLostError, EcsExecError, TerminalError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import FALLBACK_SIZE, Console, window_size, write_all
from ecs_exec.session.loop import Ended, Policy, SessionEnd, run_session
from ecs_exec.transports.native import NativeStream

#: The plugin's stdin read size (``StdinBufferLimit``).
STDIN_READ_SIZE = 1024

#: Bytes the plugin sends for the signals it catches (``shellsession_unix.go``).
SIGNAL_BYTES = {
    signal.SIGINT: b"\x03",
    signal.SIGQUIT: b"\x1c",
    signal.SIGTSTP: b"\x1a",
}

#: Why a legacy (4-argument) invocation cannot use KMS encryption (``encrypter.go``).
LEGACY_KMS_REFUSAL = (
    "Installed version of CLI does not support Session Manager encryption feature. "
    "Please upgrade to the latest version of your CLI (e.g., AWS CLI)."
)


def starting_banner(session_id: str) -> bytes:
    return f"\nStarting session with SessionId: {session_id}\n".encode()


def ending_text(session_id: str, output: str) -> bytes:
    """What the plugin prints on ``channel_closed`` (``HandleChannelClosedMessage``)."""
    if output:
        return f"\n\nSessionId: {session_id} : {output}\n\n".encode()
    return f"\n\nExiting session with sessionId: {session_id}.\n\n".encode()


@contextlib.contextmanager
def cbreak_mode(fd: int) -> Iterator[None]:
    """``stty cbreak -echo`` on a terminal, restored on every exit path; nothing otherwise.

    Written out instead of ``tty.setcbreak`` because that also clears ICRNL from Python 3.12
    on, and the plugin keeps it. Restored with TCSADRAIN, as ``stty`` does, so keys typed
    after the session are not thrown away.
    """
    try:
        saved = termios.tcgetattr(fd)
    except (termios.error, OSError):
        yield
        return
    mode = list(saved)
    mode[3] &= ~(termios.ECHO | termios.ICANON)
    cc = list(saved[6])
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    mode[6] = cc
    try:
        termios.tcsetattr(fd, termios.TCSANOW, mode)
    except (termios.error, OSError) as exc:
        raise TerminalError(f"cannot set up the terminal on stdin: {exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(console: Console) -> tuple[int, int]:
    """(cols, rows) of stdout's terminal, or the plugin's 300x100 when it has none."""
    return window_size(console.stdout_fd) or FALLBACK_SIZE


class ShellSession:
    """One shell session as the plugin runs it, as a policy of the session loop.

    Args:
        stream: the session's stream (not started: ``run`` connects it).
        console: local stdio.
        session_id: for the banners.
        end: ends the session when it did not end by itself (TerminateSession).
    """

    def __init__(
        self, stream: NativeStream, console: Console, session_id: str, *, end: SessionEnd
    ) -> None:
        self.stream = stream
        self.console = console
        self.session_id = session_id
        self.end = end
        self.stdout = OutputWriter(console.stdout_fd)
        self._resized = asyncio.Event()
        self._keys: asyncio.Queue[bytes] = asyncio.Queue()
        self._last_size: tuple[int, int] | None = None

    async def run(self) -> int:
        """Run to the end; return the exit status (0 once the agent closed the channel).

        Raises:
            EcsExecError: the session could not start or was lost.
        """
        write_all(self.console.stdout_fd, starting_banner(self.session_id))
        return await run_session(self.stream, self.policy(), self.end, connect=self._connect)

    def policy(self) -> Policy:
        on_signal: dict[int, Callable[[], None]] = {signal.SIGWINCH: self._resized.set}
        for signum, data in SIGNAL_BYTES.items():
            on_signal[signum] = functools.partial(self._keys.put_nowait, data)
        return Policy(
            pumps=(self.pump_resize, self.pump_output, self.pump_input, self.pump_keys),
            on_signal=on_signal,
            # SIGTERM/SIGHUP: the plugin just dies; the session is ended and the terminal
            # restored on the way out.
            stop_signals=(signal.SIGTERM, signal.SIGHUP),
            local_mode=self._cbreak,
            finish=self.finish,
        )

    async def _connect(self) -> None:
        try:
            await self.stream.start()
        except EcsExecError:
            raise
        except Exception as exc:  # OSError, timeouts, websockets' InvalidHandshake family
            raise ConnectionLostError(
                f"cannot connect to the session's stream URL: {exc or type(exc).__name__}",
                hint="check the network and proxy settings",
            ) from exc

    @contextlib.contextmanager
    def _cbreak(self) -> Iterator[None]:
        if not self.console.stdin_isatty:
            yield
            return
        with cbreak_mode(self.console.stdin_fd):
            yield

    async def pump_output(self) -> Ended:
        """Every output payload, raw, to stdout; the session is over when the channel is."""
        while True:
            data = await self.stream.receive()
            if not data:
                return Ended(0, normal=self.stream.closed_output is not None)
            await self.stdout.write(data)

    async def pump_input(self) -> None:
        stdin_tty = self.console.stdin_isatty
        reader = StdinReader(self.console.stdin_fd, read_size=STDIN_READ_SIZE)
        try:
            async for chunk in reader:
                # The Enter rewrite of shellsession.go: a 1-byte read of LF is CR.
                await self.stream.send(b"\r" if stdin_tty and chunk == b"\n" else chunk)
        finally:
            reader.stop()
        if stdin_tty:
            # EOF on a terminal means it went away (a hang-up): nobody is left to type, so
            # end the remote shell instead of leaving it running.
            raise ConnectionLostError(
                "the terminal on stdin closed", hint="the remote session was ended"
            )
        # A pipe ran dry: stop sending and show the rest of the session.

    async def pump_keys(self) -> None:
        """SIGINT, SIGQUIT and SIGTSTP, as the bytes the plugin sends for them."""
        while True:
            await self.stream.send(await self._keys.get())

    async def pump_resize(self) -> None:
        """The size at the start and on every SIGWINCH; only changes, as the plugin."""
        while True:
            size = terminal_size(self.console)
            if size != self._last_size:
                self._last_size = size
                await self.stream.resize(*size)
            await self._resized.wait()
            self._resized.clear()

    async def finish(self) -> None:
        try:
            if self.stream.closed_output is not None:
                await self.stdout.write(ending_text(self.session_id, self.stream.closed_output))
        finally:
            await self.stdout.close()
