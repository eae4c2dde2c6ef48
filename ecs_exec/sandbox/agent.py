"""The agent side of one sandbox exec session: a PTY process behind an ``AgentChannel``.

By default it behaves like the SSM agent running an ECS Exec (``InteractiveCommands``) session
(docs/agent.md; amazon-ssm-agent ``agent/session/shell/shell.go``):

* no handshake unless the session has a KMS key; then HandshakeRequest (SessionType +
  KMSEncryption), the data key decrypted with the session's encryption context, the
  EncChallenge, and HandshakeComplete with "This session is encrypted using AWS KMS.";
* the command starts when the client first connects (after the handshake, if any); a command
  that cannot start produces no output, and the session closes 2 s later;
* output: the first PTY read happens 1 s after the start (``processStdoutData`` sleeps a
  second), then reads of at most 1024 bytes each followed by a 1 ms sleep; the agent's UTF-8
  handling (see :class:`AgentUtf8`); no window: acks are never waited for, only the socket's
  own backpressure; the reader pauses while no client is connected;
* resends: only the oldest unacked output, every 100 ms once older than the RTO (the core's
  ``OLDEST_ONLY``), and only while a client is connected;
* input is written to the PTY and acked only afterwards; Size → TIOCSWINSZ;
* at PTY EOF: up to 2 s (of connected time) for the output to be acked, reap the process,
  ``channel_closed`` with ``Output: ""`` (no exit code is ever sent), close;
* TerminateSession: kill the command, ``channel_closed``, close; from the end on, the client's
  frames are read and dropped until the socket is closed (docs/agent.md#6-end-of-session);
* a dropped client leaves the session paused; a new websocket with a resumed token continues
  it with the same sequence state.

All methods run on the sandbox's event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from ecs_exec.datachannel import (
    AgentChannel,
    DataKeyReceived,
    Event,
    HandshakeCompleted,
    InputReceived,
    ProtocolViolated,
    RetransmissionGaveUp,
    State,
    TerminalResized,
)
from ecs_exec.sandbox import kmsfake
from ecs_exec.sandbox.faults import FaultState, FrameLog, Link
from ecs_exec.sandbox.pty_process import CommandStartError, Launcher, PtyProcess
from ecs_exec.sandbox.state import ExecSession, SessionRegistry, SessionStatus
from ecs_exec.transports.driver import ChannelDriver

logger = logging.getLogger("ecs_exec.sandbox.agent")

#: agent/session/datachannel handshakeTimeout: per handshake step.
HANDSHAKE_TIMEOUT = 15.0
_FFFD = b"\xef\xbf\xbd"


@dataclass(frozen=True)
class AgentOptions:
    """How faithful the sandbox agent is. The defaults are the real agent's behaviour.

    Args:
        fast: no 1 s wait before the first read and no 1 ms sleep per chunk; the PTY is read
            in bulk (``fast_read_size``) and split into ``chunk_size`` messages, so message
            sizes stay realistic.
        utf8_mangling: the agent's UTF-8 handling (:class:`AgentUtf8`); off sends PTY bytes
            as read.
        initial_read_delay: shell.go ``processStdoutData`` ``time.Sleep(time.Second)``.
        chunk_size: config.go ``StreamDataPayloadSize``.
        fast_read_size: with ``fast``, how much one read of the PTY may collect (several
            ``read`` calls of up to ~4 KiB each); faithful mode reads ``chunk_size`` at a time.
        chunk_interval: the time one chunk takes in the real agent: its
            ``time.Sleep(time.Millisecond)`` plus read and send (about 0.1 ms), i.e. 1024 bytes
            per 1.1 ms, about 0.93 MB/s. asyncio's sleep overshoots 1 ms by more than Go's,
            so the reader keeps this schedule instead of sleeping a fixed 1 ms: same rate.
        start_failure_delay: the sleep before closing a session whose command did not start.
        eof_ack_wait: how long to wait at EOF for the output to be acknowledged.
        idle_timeout: sessions with no client traffic for this long are terminated (the
            service's 20 minutes).
    """

    fast: bool = False
    utf8_mangling: bool = True
    initial_read_delay: float = 1.0
    chunk_size: int = 1024
    fast_read_size: int = 64 * 1024
    chunk_interval: float = 0.0011
    start_failure_delay: float = 2.0
    eof_ack_wait: float = 2.0
    idle_timeout: float = 1200.0


def _is_continuation(byte: int) -> bool:
    return 0x80 <= byte < 0xC0


def _decode_at(buf: bytes, i: int) -> int:
    """Go's ``utf8.DecodeRune(buf[i:])`` as the agent sees it: the width of a valid rune other
    than U+FFFD, or ``0`` for its ``RuneError`` (invalid, incomplete, or a real U+FFFD)."""
    for width in range(1, min(4, len(buf) - i) + 1):
        try:
            char = buf[i : i + width].decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                continue  # a longer slice may complete it
            return 0
        return 0 if char == "\ufffd" else width
    return 0


def _held_back_from(buf: bytes) -> int:
    """Where the agent stops walking ``buf``: the first rune start within the last 3 bytes
    that decodes to ``RuneError`` (``len(buf)``: none).

    shell.go ``processStdoutData`` keeps everything from such a rune for the next read
    (``unprocessedBytesLen-i < utf8.UTFMax``), whether it is incomplete, invalid or a real
    U+FFFD. The walk only has to start near the end: a byte that is not a continuation byte
    is always a rune start (valid runes and U+FFFD span continuation bytes only), and a byte
    with three continuation bytes before it is one too.
    """
    n = len(buf)
    start = max(0, n - 4)
    for i in range(n - 4, max(-1, n - 8), -1):
        if not _is_continuation(buf[i]):
            start = i
            break
    i = start
    while i < n:
        width = _decode_at(buf, i)
        if width:
            i += width
            continue
        if n - i < 4:
            return i
        i += 3 if buf[i : i + 3] == _FFFD else 1
    return n


class AgentUtf8:
    """shell.go ``processStdoutData``: walk the bytes as UTF-8 runes.

    A complete valid rune passes; an invalid byte passes alone (``utf8.DecodeRune`` width 1);
    a real U+FFFD (``EF BF BD``) becomes the single byte ``EF``, because the agent tests
    ``rune == utf8.RuneError``, writes one byte and skips three; and whatever decodes to
    ``RuneError`` within the last 3 bytes of a read (an incomplete sequence, but also an
    invalid byte or a whole U+FFFD) is held back, with everything after it, for the next
    read. At EOF the agent stops reading and never sends what it held back (``writePump``
    returns on the read error): :meth:`flush` gives that tail, which the session drops.
    See docs/agent.md#3-output.
    """

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._tail + data
        cut = _held_back_from(buf)
        self._tail = buf[cut:]
        # EF is never a continuation byte, so every EF BF BD in the stream is a rune start in
        # the agent's walk, decoded as U+FFFD and shortened to EF; invalid bytes pass
        # unchanged. A plain replace is therefore exact, and O(n) where a rune-by-rune walk
        # of binary data is O(n^2) in Python.
        return buf[:cut].replace(_FFFD, b"\xef")

    def flush(self) -> bytes:
        """The held-back tail, which the real agent never sends (it is lost at EOF)."""
        tail, self._tail = self._tail, b""
        return tail


class AgentSession:
    """One exec session's agent: the channel, the process and the current connection.

    Args:
        session: the registry's session.
        registry: to mark the session connected/disconnected/terminated.
        launcher: starts the command.
        options: faithfulness knobs.
        faults: the session's fault settings and counters.
        logs: frame logs to write.
        on_pid: called with each started process's pid (leak checks).
        spawner: the threads that start commands (a KMS session's starts on the loop, from
            the handshake's event). A start blocks until the child has exec'd: on the loop,
            hundreds of sessions connecting at once (a fan-out) would queue behind each
            other and stall every running session's frames meanwhile.
    """

    def __init__(
        self,
        session: ExecSession,
        *,
        registry: SessionRegistry,
        launcher: Launcher,
        options: AgentOptions,
        faults: FaultState,
        logs: list[FrameLog],
        on_pid: Callable[[int], None] | None = None,
        spawner: Executor,
    ) -> None:
        self.session = session
        self.spawner = spawner
        self.registry = registry
        self.launcher = launcher
        self.options = options
        self.faults = faults
        self.logs = logs
        self.on_pid = on_pid
        self.channel: AgentChannel | None = None
        self.process: PtyProcess | None = None
        self.link: Link | None = None
        self.connections = 0
        self.returncode: int | None = None
        self.finished = asyncio.Event()
        self.last_activity = time.monotonic()
        self.driver: ChannelDriver | None = None
        self._connected = asyncio.Event()
        self._input: deque[bytes] = deque()  # received, not yet written to the PTY
        #: Stopped with its task: reads and ignores the client's frames, sends nothing.
        self.silent = False
        self._handshake_done = asyncio.Event()
        self._utf8 = AgentUtf8() if options.utf8_mangling else None
        self._main: asyncio.Task[None] | None = None

    @property
    def session_id(self) -> str:
        return self.session.session_id

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _now(self) -> float:
        # The driver's clock (the loop's monotonic time) for every channel input.
        return asyncio.get_running_loop().time()

    # -- connections ----------------------------------------------------------------------

    async def serve(self, ws: object, client_id: str) -> None:
        """Run one websocket connection (the OpenDataChannel frame was already checked)."""
        if self.finished.is_set():
            return
        link = Link(ws, session_id=self.session_id, faults=self.faults, logs=self.logs)
        if self.link is not None:
            self.link.abort("replaced by a new connection")
        self.link = link
        self.connections += 1
        self.last_activity = time.monotonic()
        self.registry.set_status(self.session_id, SessionStatus.CONNECTED)
        self._connected.set()
        first = self.channel is None
        if first:
            self.channel = AgentChannel(
                session_id=self.session_id,
                client_id=client_id,
                wall_clock=time.time,
            )
            # The agent writes input to the PTY, then acks it (shell.go); the timer pauses
            # while no client is connected (nothing is resent into a dead socket).
            self.driver = ChannelDriver(
                self.channel,
                on_event=self._on_event,
                ready=self._write_input,
                ack_after_processing=True,
            )
        try:
            if first:
                if not self.session.kms_key_id:
                    # Before the first frame is read: input and Size need the PTY to exist.
                    await self._start_process_off_loop()
                if self.finished.is_set():
                    return  # terminated meanwhile
                self._main = asyncio.ensure_future(self._run())
            assert self.driver is not None
            # A resumed client: the timer picks up the resend schedule where it paused.
            await self.driver.serve(_LinkConnection(self, link))
        finally:
            link.cancel()
            if self.link is link:
                self.link = None
                self._connected.clear()
                if not self.finished.is_set():
                    if self.faults.settings.refuse_resume:
                        # The service gives up on it: ResumeSession then has no token.
                        self.registry.terminate_session(self.session_id)
                    else:
                        self.registry.set_status(self.session_id, SessionStatus.DISCONNECTED)

    def _flush(self) -> None:
        if self.driver is not None:
            self.driver.process()

    # -- events ---------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if isinstance(event, InputReceived):
            if self.process is not None:
                self._input.append(event.data)  # written by _write_input, then acked
        elif isinstance(event, TerminalResized):
            if self.process is not None:
                self.process.set_size(event.cols, event.rows)
        elif isinstance(event, DataKeyReceived):
            self._open_data_key(event.ciphertext_blob)
        elif isinstance(event, HandshakeCompleted):
            self._start_process()  # before the next frame, which may be input
            self._handshake_done.set()
        elif isinstance(event, ProtocolViolated):
            logger.warning("session %s: %s", self.session_id, event.error)
            self._handshake_done.set()
        elif isinstance(event, RetransmissionGaveUp):
            logger.warning(
                "session %s: output %d never acked", self.session_id, event.sequence_number
            )

    async def _write_input(self) -> None:
        # The driver awaits this before the acks of the frame go out and the next frame is
        # read: a remote command that does not read its stdin stops the agent's reads.
        while self._input:
            data = self._input.popleft()
            if self.process is not None:
                await self.process.write(data)

    def _open_data_key(self, blob: bytes) -> None:
        assert self.channel is not None
        context = {
            "aws:ssm:SessionId": self.session_id,
            "aws:ssm:TargetId": self.session.target_id,
        }
        try:
            key = kmsfake.decrypt(blob, context)
        except kmsfake.InvalidCiphertextError as exc:
            logger.warning(
                "session %s: KMS Decrypt of the data key failed: %s", self.session_id, exc
            )
            # _run_session sees the handshake unfinished and ends the session with a message.
            self._handshake_done.set()
            return
        self.channel.provide_data_key(key.plaintext, blob, now=self._now())

    # -- the session ----------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._run_session()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("session %s: agent failure", self.session_id)
            await self._finish("")

    async def _run_session(self) -> None:
        channel = self.channel
        assert channel is not None
        if self.session.kms_key_id:
            channel.start_handshake(kms_key_id=self.session.kms_key_id, now=self._now())
            self._flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._handshake_done.wait(), 2 * HANDSHAKE_TIMEOUT)
            if channel.state is not State.OPEN:
                logger.warning("session %s: handshake failed", self.session_id)
                await self._finish("Handshake failed.")  # sandbox wording
                return
        if self.process is None:
            # shell.go: the start error is only logged; the session ends 2 s later, silently.
            await asyncio.sleep(self.options.start_failure_delay)
            await self._finish("")
            return
        await self._pump_output(self.process)
        await self._wait_acked(self.options.eof_ack_wait)
        self.returncode = await self.process.reap(2.0)
        await self._finish("")

    def _start_process(self) -> None:
        """Start the command now; on failure ``process`` stays None and ``_run`` ends it."""
        self._adopt(self._launch())

    def _launch(self) -> PtyProcess | None:
        try:
            process = self.launcher.start(
                self.session.command,
                environment=self.session.environment,
                working_directory=self.session.working_directory,
                path_mode=self.session.path_mode,
            )
        except CommandStartError as exc:
            logger.info("session %s: %s", self.session_id, exc)
            return None
        if self.on_pid is not None:
            self.on_pid(process.pid)
        return process

    def _adopt(self, process: PtyProcess | None) -> None:
        if process is not None and self.finished.is_set():
            # Terminated while it was being started: it never runs for anyone.
            _discard(process)
            return
        self.process = process

    async def _start_process_off_loop(self) -> None:
        """:meth:`_start_process` on a spawner thread (see the class's ``spawner``)."""
        started = self.spawner.submit(self._launch)
        try:
            process = await asyncio.wrap_future(started)
        except asyncio.CancelledError:
            # The connection or the sandbox ended first: whatever starts is not kept. The
            # callback runs on the spawner thread, which outlives a stopped loop.
            started.add_done_callback(_discard_started)
            raise
        self._adopt(process)

    async def _pump_output(self, process: PtyProcess) -> None:
        options = self.options
        if not options.fast:
            await asyncio.sleep(options.initial_read_delay)
        interval = options.chunk_interval
        due = time.monotonic()
        while True:
            if not self._connected.is_set():
                await self._connected.wait()  # paused while no client is connected
                due = time.monotonic()
            if self.driver is not None:
                await self.driver.wait_sent()
            link = self.link
            if link is not None:
                await link.wait_writable()
            if options.fast:
                data = await process.read_available(options.fast_read_size)
            else:
                data = await process.read(options.chunk_size)
            if not data:
                break
            self._send_output(self._utf8.feed(data) if self._utf8 else data)
            if not options.fast:
                # One interval per chunk on a fixed schedule; a late wake-up is made up on the
                # next chunk (at most one interval of catch-up, so idle time never bursts).
                now = time.monotonic()
                due = max(due + interval, now - interval)
                await asyncio.sleep(max(0.0, due - now))
        if self._utf8 is not None:
            # writePump returns on the read error without sending its held-back bytes.
            dropped = self._utf8.flush()
            if dropped:
                logger.debug(
                    "session %s: %d held-back byte(s) lost at EOF", self.session_id, len(dropped)
                )

    def _send_output(self, data: bytes) -> None:
        channel = self.channel
        if data and channel is not None and channel.state is not State.CLOSED:
            now = self._now()
            size = self.options.chunk_size
            # One message per chunk_size bytes (fast mode reads more than one chunk at once).
            for i in range(0, len(data), size):
                channel.send_output(data[i : i + size] if len(data) > size else data, now=now)
            self._flush()

    async def _wait_acked(self, seconds: float) -> None:
        # Polling, as the agent does: acks arrive through the channel, which has no callback.
        # The clock only runs while a client is connected: a paused agent does not give up on
        # output that a resuming client will still acknowledge.
        channel = self.channel
        step = 0.01
        while channel is not None and channel.messages_in_flight and seconds > 0:
            if not self._connected.is_set():
                await self._connected.wait()
                continue
            await asyncio.sleep(step)
            seconds -= step

    async def _finish(self, output: str) -> None:
        """End normally: channel_closed to the client, then close."""
        if self.finished.is_set():
            return
        self.finished.set()
        # The session is Terminated before the client can learn of the end, so whoever reads
        # the registry after the client returns sees it so (as after a TerminateSession call).
        self.registry.terminate_session(self.session_id)
        channel, link = self.channel, self.link
        if channel is not None and channel.state is not State.CLOSED:
            channel.send_channel_closed(output, now=self._now())
            self._flush()
        await self._stop_driver()
        if link is not None:
            await link.flush(2.0)
            await link.close()
        self._close_process()

    def _close_process(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.close()

    async def terminate(self, *, notify_client: bool, keep_open: bool = False) -> None:
        """TerminateSession, StopTask, idle timeout or sandbox shutdown: end the command.

        Args:
            notify_client: send ``channel_closed`` (TerminateSession); False ends with no
                message.
            keep_open: leave the socket open and silent (StopTask: the agent dies with the
                container, and the service keeps the client connected until its idle
                timeout, docs/agent.md#7-idle-timeout); False drops it.
        """
        if self.finished.is_set():
            return
        self.silent = keep_open and not notify_client
        self.finished.set()
        if self._main is not None and self._main is not asyncio.current_task():
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._main
        if self.process is not None:
            await self._end_process(cancel=notify_client)
        link, channel = self.link, self.channel
        if link is None:
            await self._stop_driver()
            return
        if notify_client and channel is not None and channel.state is not State.CLOSED:
            channel.send_channel_closed("", now=self._now())
            self._flush()
            await self._stop_driver()
            await link.flush(1.0)
            await link.close()
        else:
            await self._stop_driver()  # silent: nothing is sent, resends included
            if not self.silent:
                link.abort("session terminated")

    async def _end_process(self, *, cancel: bool) -> None:
        """Kill the command: a cancelled session as the agent does, else the whole group.

        A cancelled session (TerminateSession, idle timeout) kills the command alone and
        closes the PTY, so what it started gets SIGHUP and may clean up (the one-off script
        removes its temporary directory); what still runs after that is killed, as sandbox
        hygiene. A stopped container or the sandbox's shutdown takes everything at once.
        """
        process = self.process
        assert process is not None
        if cancel:
            process.kill_command()
            process.close()
            self.returncode = await process.reap(2.0)
            if not await process.wait_group(2.0):
                process.kill()
        else:
            process.kill()
            self.returncode = await process.reap(2.0)
            process.close()

    async def _stop_driver(self) -> None:
        """Hand what the channel queued to the link, then stop the timer and the writer."""
        driver = self.driver
        if driver is not None:
            await driver.wait_sent()
            await driver.close()


def _discard(process: PtyProcess) -> None:
    process.kill_and_reap()
    process.close()


def _discard_started(started: Future[PtyProcess | None]) -> None:
    process = None if started.cancelled() else started.result()
    if process is not None:
        _discard(process)


class _LinkConnection:
    """A faulty :class:`Link` as the driver's connection, with the agent's reading rules."""

    def __init__(self, agent: AgentSession, link: Link) -> None:
        self.agent = agent
        self.link = link

    async def frames(self) -> AsyncIterator[bytes | str]:
        agent = self.agent
        async for frame in self.link.frames():
            if agent.finished.is_set():
                # The session is over (its agent dead, when ``silent``), but the service reads
                # the socket until it is closed, dropping what comes: a client still sending
                # (an upload) is not stalled, channel_closed and the close frame reach it, and
                # its answer to the close is read (docs/agent.md#6-end-of-session). Leaving
                # this loop instead would drop the link before channel_closed is written.
                continue
            agent.last_activity = time.monotonic()
            yield frame

    async def send_frames(self, frames: Sequence[bytes]) -> None:
        for frame in frames:
            self.link.send(frame)  # never blocks: the pump waits on link.wait_writable()


__all__ = ["AgentOptions", "AgentSession", "AgentUtf8"]
