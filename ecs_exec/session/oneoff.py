"""One-off commands: exact stdout and stderr, streamed stdin, the remote exit status.

The remote side is the framing script of ``ecs_exec.remote``; :class:`OneoffProtocol` feeds
it stdin once it says READY (input that arrived earlier would be echoed by the PTY before the
script switches it to raw mode) and turns its records back into local bytes and an exit
status.

A policy of the session loop (:mod:`ecs_exec.session.loop`), :meth:`OneoffProtocol.policy`:

* pumps: :meth:`OneoffProtocol.pump_output` (its verdict, the exit status, ends the session),
  :meth:`OneoffProtocol.pump_input` and :meth:`OneoffProtocol.pump_heartbeat` (both run until
  cancelled or done, and never end the session by themselves);
* the exit handshake is inside ``pump_output``: as soon as the exit record arrives it sends
  the confirmation (the script waits for it before exiting, see ``ecs_exec.remote.command``)
  and then waits up to :data:`CONFIRM_LINGER` for the session to end, so the confirmation is
  on the wire before the loop closes the stream;
* on SIGINT, SIGTERM or SIGHUP the loop awaits :meth:`OneoffProtocol.interrupt` (bounded by
  :data:`INTERRUPT_WAIT`) while the pumps still run; when no exit record came, it cancels
  the pumps and calls TerminateSession; either way it exits with 128+N;
* when ``pump_output`` sees the session end without an exit record, its verdict carries a
  :class:`~ecs_exec.errors.SessionEndedError` naming what most likely happened;
* local stdout closed ends the session (the loop's rule), so ``... -- yes | head`` exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from ecs_exec.errors import ConfigurationError, EcsExecError, SessionEndedError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import Console
from ecs_exec.remote import (
    Exited,
    Noise,
    Ready,
    SetupFailed,
    Stderr,
    StdinEncoder,
    Stdout,
    StreamDecoder,
    setup_error,
)
from ecs_exec.session.loop import Ended, Policy
from ecs_exec.transports.base import RemoteStream

logger = logging.getLogger("ecs_exec.oneoff")


class OutputSink(Protocol):
    """Where a stream of the command goes: ``OutputWriter`` on a descriptor, or a fan-out
    sink; ``write`` waits while the sink is full (that is the flow control)."""

    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


#: How often a running one-off sends a heartbeat (and gets one back): ECS Exec ends sessions
#: after 20 minutes without traffic, which a silent command (a migration, a sleep) would
#: otherwise reach. ECS_EXEC_HEARTBEAT overrides it.
HEARTBEAT_SECONDS = 60.0
#: ECS Exec's idle timeout, fixed by the service; used to name it when a session ends.
IDLE_TIMEOUT = 20 * 60.0
#: How long :meth:`OneoffProtocol.interrupt` waits for the exit record: the script sends
#: SIGINT at once and SIGTERM 2 s later (``ecs_exec.remote.command``), then reports.
INTERRUPT_WAIT = 5.0
#: How long to wait for the session's end after confirming the exit record.
CONFIRM_LINGER = 1.0


def heartbeat_seconds() -> float:
    """The heartbeat interval, from ECS_EXEC_HEARTBEAT or the default.

    Raises:
        ConfigurationError: the variable is not a positive number of seconds.
    """
    raw = os.environ.get("ECS_EXEC_HEARTBEAT")
    if not raw:
        return HEARTBEAT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < IDLE_TIMEOUT:
        raise ConfigurationError(
            f"ECS_EXEC_HEARTBEAT='{raw}' is not a number of seconds between 0 and 1200",
            hint=f"unset it for the default of {HEARTBEAT_SECONDS:.0f} seconds",
        )
    return value


class OneoffProtocol:
    """The client side of the one-off framing over one stream.

    Args:
        stream: the started session.
        console: local stdio.
        decoder: decodes the script's records (same nonce as the command).
        encoder: frames stdin and the control frames.
        attach_stdin: stream local stdin (else EOF at once).
        noise_to_stderr: show bytes outside records on stderr (off for the plugin, whose
            banners are filtered elsewhere).
        heartbeat: seconds between heartbeats; default :func:`heartbeat_seconds`.
        stdout, stderr: where the command's streams go instead of the console's descriptors
            (the fan-out's per-task sinks).
        stdin: what to stream instead of the console's stdin (the fan-out's spool).
    """

    def __init__(
        self,
        stream: RemoteStream,
        console: Console,
        *,
        decoder: StreamDecoder,
        encoder: StdinEncoder,
        attach_stdin: bool,
        noise_to_stderr: bool = True,
        heartbeat: float | None = None,
        stdout: OutputSink | None = None,
        stderr: OutputSink | None = None,
        stdin: Callable[[], AsyncIterator[bytes]] | None = None,
    ) -> None:
        self.stream = stream
        self.console = console
        self.decoder = decoder
        self.encoder = encoder
        self.attach_stdin = attach_stdin
        self.noise_to_stderr = noise_to_stderr
        self.heartbeat = heartbeat if heartbeat is not None else heartbeat_seconds()
        self.stdout: OutputSink = stdout or OutputWriter(console.stdout_fd)
        self.stderr: OutputSink = stderr or OutputWriter(console.stderr_fd)
        self.stdin_source = stdin
        #: Set once the script is ready for stdin and control frames.
        self.ready = asyncio.Event()
        #: Set once the exit record arrived (``exit_code`` is then its status).
        self.exited = asyncio.Event()
        self.exit_code: int | None = None
        self._last_heard: float | None = None
        self._interrupted = False

    # -- pumps ----------------------------------------------------------------------------

    async def pump_output(self) -> Ended:
        """Decode output until the exit record, confirm it; the verdict is its status.

        Raises:
            RemoteSetupError: the container lacks a tool the framing needs.
            RemoteProtocolError: the records are malformed.
            BrokenPipeError: local stdout or stderr was closed.
        """
        loop = asyncio.get_running_loop()
        while self.exit_code is None:
            data = await self.stream.receive()
            if not data:
                return Ended(255, error=self.ended_early(now=loop.time()))
            self._last_heard = loop.time()
            for event in self.decoder.feed(data):
                await self._handle(event)
        await self._confirm_exit()
        return Ended(self.exit_code)

    async def pump_input(self) -> None:
        """Stream local stdin as frames once the script is ready, then EOF."""
        await self.ready.wait()
        if self.attach_stdin and self.stdin_source is not None:
            async for chunk in self.stdin_source():
                for frame in self.encoder.encode(chunk):
                    await self.stream.send(frame)
        elif self.attach_stdin:
            reader = StdinReader(self.console.stdin_fd)
            try:
                async for chunk in reader:
                    for frame in self.encoder.encode(chunk):
                        await self.stream.send(frame)
            finally:
                reader.stop()
        await self.stream.send(self.encoder.eof())

    async def pump_heartbeat(self) -> None:
        """Every ``heartbeat`` seconds while the command runs, send a heartbeat frame (the
        script answers with a record the decoder drops): traffic both ways, so ECS Exec's
        idle timeout never ends a session whose command is merely silent."""
        await self.ready.wait()
        while not self.exited.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), self.heartbeat)
            if not self.exited.is_set():
                await self.stream.send(StdinEncoder.heartbeat())

    def policy(self) -> Policy:
        """This command as a session of the loop."""
        return Policy(
            pumps=(self.pump_output, self.pump_input, self.pump_heartbeat),
            interrupt=self.interrupt,
            finish=self.close,
        )

    # -- the loop's calls -----------------------------------------------------------------

    async def interrupt(self, signum: int) -> int | None:
        """Ask the script to stop the command, as Ctrl-C would, and wait for its exit record.

        The script sends SIGINT to the command's process group, SIGTERM 2 s later if it is
        still running, then reports the exit status and removes its temporary directory.
        Waits at most :data:`INTERRUPT_WAIT` in all (for READY too, when the signal came
        that early); ``pump_output`` must still be running to see the record. Idempotent.

        Args:
            signum: the local signal (logged; every signal asks for the same sequence).

        Returns:
            The remote exit status if it arrived in time, else None.
        """
        logger.debug("signal %d: interrupting the remote command", signum)
        try:
            async with asyncio.timeout(INTERRUPT_WAIT):
                await self.ready.wait()
                if not self.exited.is_set() and not self._interrupted:
                    self._interrupted = True
                    await self.stream.send(StdinEncoder.interrupt())
                await self.exited.wait()
        except (TimeoutError, EcsExecError) as exc:
            logger.debug("no exit record after the interrupt: %r", exc)
            return None
        return self.exit_code

    def ended_early(self, *, now: float) -> SessionEndedError:
        """The error for a session that ended before the exit record, naming the likely cause.

        Args:
            now: the event loop's time when the end was seen.
        """
        if not self.ready.is_set():
            return SessionEndedError(
                "the session ended before the command started in the container",
                reason="not-started",
                hint="ECS Exec runs the command with the image's sh; check that the image "
                "has /bin/sh (an interactive session shows the agent's view)",
            )
        if self.decoder.in_record:
            return SessionEndedError(
                "the session ended in the middle of the command's output: output was lost "
                "on the way and the exit status is unknown",
                reason="lost-output",
                hint="the connection dropped near the end; the command may have completed, "
                "so check its effects before running it again",
            )
        silent = now - self._last_heard if self._last_heard is not None else 0.0
        if silent >= IDLE_TIMEOUT - HEARTBEAT_SECONDS:
            return SessionEndedError(
                f"ECS Exec ended the session after {silent / 60:.0f} minutes without traffic "
                "(its idle timeout), before the command finished",
                reason="idle",
                hint="the heartbeats did not get through; check the network path to the "
                "Session Manager endpoint",
            )
        return SessionEndedError(
            "the session was terminated while the command was running; it was killed with it",
            reason="terminated",
            hint="something ended the session: TerminateSession (another tool, the console, "
            "an administrator), the task stopping, or the SSM agent restarting",
        )

    # -- internals ------------------------------------------------------------------------

    async def _handle(self, event: object) -> None:
        if isinstance(event, Stdout):
            await self.stdout.write(event.data)
        elif isinstance(event, Stderr):
            await self.stderr.write(event.data)
        elif isinstance(event, Ready):
            self.ready.set()
        elif isinstance(event, Exited):
            self.exit_code = event.code
            self.exited.set()
        elif isinstance(event, SetupFailed):
            raise setup_error(event.tool)
        elif isinstance(event, Noise):
            logger.debug("noise outside records: %r", event.data[:200])
            if self.noise_to_stderr:
                await self.stderr.write(event.data)

    async def _confirm_exit(self) -> None:
        """Tell the script its exit record arrived, then give the session a moment to end.

        The script stays alive until this confirmation (or 60 s) because its exit hangs the
        terminal up, which can discard output not read yet. Waiting for the session's end
        keeps the stream open until the confirmation has gone out; what arrives meanwhile
        (a last heartbeat record) is of no interest.
        """
        try:
            await self.stream.send(StdinEncoder.confirm_exit())
            async with asyncio.timeout(CONFIRM_LINGER):
                while await self.stream.receive():
                    pass
        except (TimeoutError, EcsExecError) as exc:
            logger.debug("after the exit record: %r", exc)

    async def close(self) -> None:
        """Flush and release local stdout and stderr."""
        try:
            await self.stdout.close()
        finally:
            await self.stderr.close()
