"""Interactive sessions: the local terminal in raw mode, wired to the remote PTY.

Ctrl-C, Ctrl-Z and Ctrl-\\ travel as bytes (raw mode), the size goes out at once and on
every SIGWINCH, and the remote shell's exit status comes back through the exit marker the
wrapper prints (ECS Exec itself never reports it).

The exit handshake (contract with the session loop): the wrapper stays alive after printing
the marker until it reads the marker's confirmation line (or 25 s pass without input), so
the terminal's hang-up cannot discard the marker. :func:`confirm_exit` sends that line and
waits up to :data:`CONFIRM_LINGER` for the session to end; call it as soon as the marker was
seen, before the input pump is cancelled and the stream closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from ecs_exec.errors import EcsExecError, SessionEndedError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import Console, raw_mode
from ecs_exec.remote import ExitMarkerFilter
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


async def run_interactive(
    stream: RemoteStream, console: Console, *, marker: ExitMarkerFilter
) -> int:
    """Run until the remote shell exits; return its exit status.

    Raises:
        SessionEndedError: the session ended without the exit marker.
    """
    loop = asyncio.get_running_loop()
    stdout = OutputWriter(console.stdout_fd)
    exit_code: int | None = None
    last_traffic = loop.time()

    async def send_size() -> None:
        cols, rows = console.get_size()
        await stream.resize(cols, rows)

    resizes: set[asyncio.Future[None]] = set()

    def on_winch() -> None:
        future = asyncio.ensure_future(send_size())
        resizes.add(future)
        future.add_done_callback(resizes.discard)

    async def pump_output() -> None:
        nonlocal exit_code, last_traffic
        while True:
            data = await stream.receive()
            if not data:
                tail = marker.flush()
                if tail:
                    await stdout.write(tail)
                return
            last_traffic = loop.time()
            shown = marker.feed(data)
            if shown:
                await stdout.write(shown)
            if marker.exit_code is not None:
                exit_code = marker.exit_code
                await confirm_exit(stream, marker)
                return

    async def pump_input() -> None:
        nonlocal last_traffic
        reader = StdinReader(console.stdin_fd, read_size=4096)
        try:
            async for chunk in reader:
                last_traffic = loop.time()
                await stream.send(chunk)
        finally:
            reader.stop()

    with raw_mode(console.stdin_fd):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, on_winch)
        await send_size()
        output_task = asyncio.ensure_future(pump_output())
        input_task = asyncio.ensure_future(pump_input())
        try:
            done, _ = await asyncio.wait(
                {output_task, input_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if input_task in done and output_task not in done:
                # Local stdin ended (a gateway closed it): let the remote finish what it has.
                await output_task
            await output_task
        finally:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGWINCH)
            input_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await input_task
            await stdout.close()
    if exit_code is None:
        raise ended_early(loop.time() - last_traffic)
    return exit_code
