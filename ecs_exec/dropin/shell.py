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
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import termios
from collections.abc import Iterator
from typing import Any

from ecs_exec.errors import ConnectionLostError, EcsExecError, TerminalError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import FALLBACK_SIZE, Console, window_size, write_all
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
    """One shell session on a started-or-not stream, as the plugin runs it.

    Args:
        stream: the session's stream (``start`` is called by ``run``).
        console: local stdio.
        session_id: for the banners.
    """

    def __init__(self, stream: NativeStream, console: Console, session_id: str) -> None:
        self.stream = stream
        self.console = console
        self.session_id = session_id
        self._stop_signal: int | None = None

    async def run(self) -> int:
        """Run to the end; return the exit status (0 once the agent closed the channel).

        Raises:
            EcsExecError: the session could not start or was lost.
        """
        console = self.console
        write_all(console.stdout_fd, starting_banner(self.session_id))
        stream = self.stream
        try:
            await stream.start()
        except EcsExecError:
            raise
        except Exception as exc:  # OSError, timeouts, websockets' InvalidHandshake family
            raise ConnectionLostError(
                f"cannot connect to the session's stream URL: {exc or type(exc).__name__}",
                hint="check the network and proxy settings",
            ) from exc
        finished = False
        try:
            with cbreak_mode(console.stdin_fd) if console.stdin_isatty else _nothing():
                code = await self._pump()
            finished = True
            return code
        finally:
            await stream.close(terminate=not (finished and stream.closed_output is not None))

    async def _pump(self) -> int:
        loop = asyncio.get_running_loop()
        stream = self.stream
        console = self.console
        stdout = OutputWriter(console.stdout_fd)
        stdin_tty = console.stdin_isatty
        pending: set[asyncio.Future[Any]] = set()
        main = asyncio.current_task()

        def spawn(coro: Any) -> None:
            future = asyncio.ensure_future(coro)
            pending.add(future)
            future.add_done_callback(pending.discard)

        last_size: list[tuple[int, int]] = []

        async def send_size() -> None:
            size = terminal_size(console)
            if last_size and last_size[0] == size:
                return  # the plugin sends only changes
            last_size[:] = [size]
            await stream.resize(*size)

        def on_stop(signum: int) -> None:
            # SIGTERM/SIGHUP: the plugin just dies; we end the remote session and restore
            # the terminal on the way out.
            self._stop_signal = signum
            if main is not None:
                main.cancel()

        async def pump_input() -> None:
            reader = StdinReader(console.stdin_fd, read_size=STDIN_READ_SIZE)
            try:
                async for chunk in reader:
                    # The Enter rewrite of shellsession.go: a 1-byte read of LF is CR.
                    await stream.send(b"\r" if stdin_tty and chunk == b"\n" else chunk)
            finally:
                reader.stop()

        async def pump_output() -> None:
            while True:
                data = await stream.receive()
                if not data:
                    return
                await stdout.write(data)

        handled: list[int] = []

        def forward(data: bytes) -> None:
            spawn(stream.send(data))

        for signum, data in SIGNAL_BYTES.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, forward, data)
                handled.append(signum)
        for stop in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(stop, on_stop, int(stop))
                handled.append(stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGWINCH, lambda: spawn(send_size()))
            handled.append(signal.SIGWINCH)
        output_task = asyncio.ensure_future(pump_output())
        input_task = asyncio.ensure_future(pump_input())
        try:
            await send_size()
            done, _ = await asyncio.wait(
                {output_task, input_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if input_task in done and output_task not in done:
                input_task.result()  # a read error ends the session, as in the plugin
                if stdin_tty:
                    # EOF on a terminal means it went away (a hang-up): nobody is left to
                    # type, so end the remote shell instead of leaving it running.
                    raise ConnectionLostError(
                        "the terminal on stdin closed", hint="the remote session was ended"
                    )
                # A pipe ran dry: stop sending and show the rest of the session.
            await output_task
        except asyncio.CancelledError:
            if self._stop_signal is not None:
                return 128 + self._stop_signal
            raise
        finally:
            for handled_signal in handled:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(handled_signal)
            for task in (input_task, output_task, *pending):
                task.cancel()
            for task in (input_task, output_task, *pending):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if stream.closed_output is not None:
                with contextlib.suppress(OSError):
                    await stdout.write(ending_text(self.session_id, stream.closed_output or ""))
            with contextlib.suppress(OSError):
                await stdout.close()
        return 0


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield
