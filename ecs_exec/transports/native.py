"""The native transport: a Session Manager session over a websocket, as a ``RemoteStream``.

The channel is driven by :class:`~ecs_exec.transports.driver.ChannelDriver`, the same driver
the sandbox agent uses; this module is the client's policy around it:

* dialing the streamUrl verbatim (:mod:`~ecs_exec.transports.connect`: wss with TLS
  verification, HTTPS_PROXY, ws:// only to loopback), every failure named;
* KMS calls for the encryption handshake;
* local flow control: output waits in a buffer of at most ``OUTPUT_HIGH_WATER`` bytes; above
  it the driver stops reading the websocket until the consumer catches up, so a slow stdout
  slows the agent down (through TCP) instead of growing memory;
* resuming a dropped socket with ssm:ResumeSession on the *SSM* endpoint (docs/protocol.md,
  "Resume"), keeping every sequence number and resending what the agent has not
  acknowledged, within a bounded budget of attempts and time, with backoff: a token the
  service keeps refusing costs a few ResumeSession calls, not an endless loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ecs_exec.aws import kms as aws_kms, ssm as aws_ssm
from ecs_exec.aws._errors import is_retryable
from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import ExecSession
from ecs_exec.datachannel import (
    ChannelClosed,
    ClientChannel,
    EncryptionKeyRequested,
    Event,
    OutputReceived,
    ProtocolViolated,
    RetransmissionGaveUp,
    SessionStarted,
)
from ecs_exec.errors import (
    AwsError,
    ConfigurationError,
    ConnectionLostError,
    EcsExecError,
    RemoteProtocolError,
    StreamConnectError,
)
from ecs_exec.timing import mark
from ecs_exec.transports.connect import backoff, open_websocket, refused_token
from ecs_exec.transports.driver import ChannelDriver, WebSocketConnection
from ecs_exec.transports.outbuffer import OUTPUT_HIGH_WATER, OutputBuffer
from ecs_exec.transports.urls import is_loopback_url

logger = logging.getLogger("ecs_exec.transports.native")

#: Stop reading local stdin while this much input is queued or unacknowledged.
INPUT_HIGH_WATER = 256 * 1024
#: How long a dropped session may take to come back before we give up.
RESUME_TIMEOUT = 30.0
#: Reconnect attempts (ResumeSession + dial) before giving up; the count restarts once a
#: resumed connection delivers a frame, so only consecutive failures use it up.
RESUME_ATTEMPTS = 8
#: A ping every this many seconds; a connection that answers nothing for
#: ``KEEPALIVE_TIMEOUT`` more, while we were reading it, is dropped and resumed.
KEEPALIVE_INTERVAL = 20.0
KEEPALIVE_TIMEOUT = 40.0
#: How long closing a websocket of a session that did not end by channel_closed may take
#: before its socket is aborted.
CLOSE_HANDSHAKE_TIMEOUT = 2.0


def check_stream_url(url: str) -> None:
    """Refuse plain ws:// except to loopback (a sandbox or a local test server).

    Raises:
        ConfigurationError: the URL is not wss://, or ws:// to a non-loopback host.
    """
    parts = urlsplit(url)
    if parts.scheme == "wss":
        return
    if parts.scheme == "ws":
        if is_loopback_url(url):
            return
        raise ConfigurationError(
            f"refusing an unencrypted ws:// stream URL to {parts.hostname}",
            hint="ws:// is only for a loopback sandbox; real sessions use wss://",
        )
    raise ConfigurationError(f"unsupported stream URL scheme '{parts.scheme}'")


class NativeStream:
    """A Session Manager session over a websocket, as a ``RemoteStream``.

    Args:
        session: what ExecuteCommand returned.
        clients: AWS clients (SSM for ResumeSession/TerminateSession, KMS for encryption).
        target: the SSM target id, used in the KMS encryption context.
        resume_timeout: how long to keep trying to resume a dropped socket.
        show_customer_message: put the handshake's CustomerMessage ("This session is
            encrypted using AWS KMS.") into the output, as the official plugin prints it.
        refuse_kms: answer a KMS encryption request as failed with this reason (the plugin's
            legacy 4-argument form); None to call kms:GenerateDataKey.
        output_high_water: bytes of output buffered before the websocket is not read.
    """

    def __init__(
        self,
        session: ExecSession,
        *,
        clients: AwsClients,
        target: str,
        resume_timeout: float = RESUME_TIMEOUT,
        show_customer_message: bool = False,
        refuse_kms: str | None = None,
        output_high_water: int = OUTPUT_HIGH_WATER,
    ) -> None:
        check_stream_url(session.stream_url)
        self.session = session
        self.clients = clients
        self.resume_timeout = resume_timeout
        self.show_customer_message = show_customer_message
        self.refuse_kms = refuse_kms
        self.output_high_water = output_high_water
        #: channel_closed's Output once the agent has closed the channel, else None.
        self.closed_output: str | None = None
        self.channel = ClientChannel(
            session_id=session.session_id,
            token=session.token_value,
            client_id=str(uuid.uuid4()),
            wall_clock=time.time,
            target_id=target,
            logger=logger if logger.isEnabledFor(logging.DEBUG) else None,
        )
        self._driver: ChannelDriver | None = None
        self._output: OutputBuffer | None = None
        self._ws: Any = None
        self._connection: WebSocketConnection | None = None
        self._drained: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = False
        self._closing = False
        self.started: SessionStarted | None = None
        self.bytes_received = 0
        self.bytes_sent = 0
        #: Reconnect attempts (ResumeSession calls) over the whole session.
        self.reconnects = 0

    # -- RemoteStream -------------------------------------------------------------------

    async def start(self) -> None:
        """Dial the stream URL and open the data channel.

        Raises:
            StreamConnectError: the websocket could not be opened (named cause).
            ConfigurationError: a malformed stream URL or proxy setting.
        """
        self._output = OutputBuffer(self.output_high_water)
        self._drained = asyncio.Event()
        self._drained.set()
        self._driver = ChannelDriver(self.channel, on_event=self._on_event, ready=self._ready)
        self._ws = await open_websocket(
            self.session.stream_url, self.channel.opening_frame(token=self.session.token_value)
        )
        # Attached now, not when the runner starts: input sent right away goes out at once.
        self._connection = WebSocketConnection(self._ws)
        self._driver.attach(self._connection)
        self._runner = asyncio.ensure_future(self._run())
        self._runner.add_done_callback(self._runner_done)
        keepalive = asyncio.ensure_future(self._keepalive())
        self._tasks.add(keepalive)
        keepalive.add_done_callback(self._tasks.discard)

    async def send(self, data: bytes) -> None:
        driver, drained = self._started()
        self._raise_if_failed()
        self.channel.send_input(data, now=driver.now())
        self.bytes_sent += len(data)
        driver.process()
        while self.channel.input_buffered > INPUT_HIGH_WATER and not self._finished:
            drained.clear()
            await drained.wait()
            self._raise_if_failed()

    async def resize(self, cols: int, rows: int) -> None:
        driver, _ = self._started()
        self._raise_if_failed()
        self.channel.send_terminal_size(cols, rows, now=driver.now())
        driver.process()

    async def receive(self) -> bytes:
        if self._output is None:
            raise ConnectionLostError("the session was not started")
        return await self._output.get()

    async def close(self, *, terminate: bool = False) -> None:
        self._closing = True
        if terminate and not self._ended:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(EcsExecError):
                await loop.run_in_executor(
                    None,
                    lambda: aws_ssm.terminate_session(
                        self.clients.ssm,
                        self.session.session_id,
                        profile=self.clients.settings.profile,
                    ),
                )
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._driver is not None:
            await self._driver.close()
        if self._ws is not None:
            if self._ended:
                # channel_closed ended the session: nothing written now matters, and a close
                # frame would wait behind input the agent will never read (an upload on a
                # slow or stalled link) for the whole close timeout. The official plugin
                # sends none either: it exits (docs/protocol.md#33-keepalive-and-closing).
                _drop_websocket(self._ws)
            else:
                await _close_websocket(self._ws, seconds=CLOSE_HANDSHAKE_TIMEOUT)

    @property
    def output_peak(self) -> int:
        """The most output bytes ever waiting for the consumer (bounded by flow control)."""
        return 0 if self._output is None else self._output.peak

    # -- events and flow control ----------------------------------------------------------

    def _started(self) -> tuple[ChannelDriver, asyncio.Event]:
        if self._driver is None or self._drained is None:
            raise ConnectionLostError("the session was not started")
        return self._driver, self._drained

    @property
    def _finished(self) -> bool:
        return self._output is None or self._output.finished

    def _raise_if_failed(self) -> None:
        error = None if self._output is None else self._output.error
        if error is not None:
            raise error

    def _fail(self, error: BaseException) -> None:
        if self._output is not None:
            self._output.fail(error)
        if self._drained is not None:
            self._drained.set()

    def _on_event(self, event: Event) -> None:
        output = self._output
        assert output is not None  # the driver exists only after start()
        if isinstance(event, OutputReceived):
            if not self.bytes_received:
                mark("first_output")
            self.bytes_received += len(event.data)
            output.put(event.data)
        elif isinstance(event, SessionStarted):
            self.started = event
            logger.debug("session started: %s", event)
            if self.show_customer_message and event.customer_message:
                output.put(f"{event.customer_message}\n".encode())
        elif isinstance(event, EncryptionKeyRequested):
            task = asyncio.ensure_future(self._provide_key(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(event, ChannelClosed):
            self.closed_output = event.output
            self._ended = True
            output.end()
            if self._drained is not None:
                self._drained.set()
        elif isinstance(event, RetransmissionGaveUp):
            self._fail(
                ConnectionLostError(
                    f"the agent stopped acknowledging input (message {event.sequence_number} "
                    f"was resent {event.attempts} times)",
                    hint="the container may have stopped; check the task in ECS",
                )
            )
        elif isinstance(event, ProtocolViolated):
            self._fail(RemoteProtocolError(f"the agent sent invalid data: {event.error}"))

    async def _ready(self) -> None:
        """After each frame: wake a blocked sender if acks made room, then wait while the
        local consumer is behind (the driver does not read the websocket meanwhile)."""
        if self._drained is not None and self.channel.input_buffered <= INPUT_HIGH_WATER:
            self._drained.set()
        if self._output is not None:
            await self._output.wait_room()

    async def _provide_key(self, event: EncryptionKeyRequested) -> None:
        driver, _ = self._started()
        if self.refuse_kms is not None:
            self.channel.reject_data_key(self.refuse_kms, now=driver.now())
            driver.process()
            return
        loop = asyncio.get_running_loop()
        try:
            key = await loop.run_in_executor(
                None,
                lambda: aws_kms.generate_data_key(
                    self.clients.kms,
                    event.kms_key_id,
                    event.encryption_context,
                    profile=self.clients.settings.profile,
                ),
            )
        except EcsExecError as exc:
            self._fail(exc)
            return
        self.channel.provide_data_key(key.plaintext, key.ciphertext_blob, now=driver.now())
        driver.process()

    # -- connections ----------------------------------------------------------------------

    async def _run(self) -> None:
        """Serve the connection; after a drop, resume and serve the next one."""
        driver, _ = self._started()
        url = self.session.stream_url
        delays: Iterator[float] | None = None  # backoff since the last working connection
        attempts = 0
        first_failure = 0.0
        resumed = False
        connection = self._connection
        assert connection is not None  # start() attached it
        while True:
            before = driver.frames_received
            await driver.serve(connection, resend=resumed)
            if self._ended or self._closing or self._finished:
                return
            refused = refused_token(self._ws, url) if driver.frames_received == before else None
            if refused is not None and not resumed:
                raise refused  # the token from ExecuteCommand itself
            if driver.frames_received > before:
                delays, attempts = None, 0  # that connection worked: a fresh budget
            if delays is None:
                delays = backoff()
                first_failure = driver.now()
            await _close_websocket(self._ws, seconds=1)
            self._ws, attempts = await self._resume(
                delays, attempts, first_failure, last_error=refused
            )
            connection = self._connection = WebSocketConnection(self._ws)
            resumed = True
            logger.debug("resumed session %s", self.session.session_id)

    async def _resume(
        self,
        delays: Iterator[float],
        attempts: int,
        first_failure: float,
        *,
        last_error: EcsExecError | None,
    ) -> tuple[Any, int]:
        """Reconnect after a drop: ResumeSession for a new token, same URL and ClientId.

        Retries what may pass (throttling, network errors, a refused token: the next
        ResumeSession gives a fresh one) with backoff, at most ``RESUME_ATTEMPTS`` times in a
        row and within ``resume_timeout``; anything else ends the session at once. Only
        the ecs-exec errors of those calls are caught: a bug is not a network condition.

        Returns:
            The new websocket and the attempts used so far.

        Raises:
            ConnectionLostError: not back within the budget, or a failure that retrying
                cannot fix.
        """
        loop = asyncio.get_running_loop()
        driver, _ = self._started()
        last: EcsExecError | None = last_error
        while attempts < RESUME_ATTEMPTS and driver.now() - first_failure < self.resume_timeout:
            if attempts:
                remaining = self.resume_timeout - (driver.now() - first_failure)
                await asyncio.sleep(max(0.0, min(next(delays), remaining)))
            attempts += 1
            self.reconnects += 1
            try:
                token = await loop.run_in_executor(
                    None,
                    lambda: aws_ssm.resume_session(
                        self.clients.ssm,
                        self.session.session_id,
                        profile=self.clients.settings.profile,
                    ),
                )
                if token is None:
                    raise ConnectionLostError(
                        f"the session ended while disconnected ({self._progress()})",
                        hint="the service timed the session out; start a new one",
                    )
                ws = await open_websocket(
                    self.session.stream_url, self.channel.opening_frame(token=token)
                )
                return ws, attempts
            except AwsError as exc:
                if not is_retryable(exc):
                    raise ConnectionLostError(
                        f"the connection dropped and ResumeSession failed: {exc} "
                        f"({self._progress()})",
                        hint=exc.hint,
                    ) from exc
                last = exc
            except StreamConnectError as exc:
                if not exc.retryable:
                    raise ConnectionLostError(
                        f"the connection dropped and reconnecting failed: {exc} "
                        f"({self._progress()})",
                        hint=exc.hint,
                    ) from exc
                last = exc
            except ConfigurationError as exc:
                raise ConnectionLostError(
                    f"the connection dropped and reconnecting failed: {exc}", hint=exc.hint
                ) from exc
        why = f": {last}" if last is not None else ""
        raise ConnectionLostError(
            f"lost the connection to the session and could not resume it in {attempts} "
            f"attempts over {driver.now() - first_failure:.0f} s{why} ({self._progress()})",
            hint=(last.hint if last is not None and last.hint else "check the network")
            + "; the remote command may still be running",
        )

    async def _keepalive(self) -> None:
        """Ping the current socket; drop it if it stays silent while we read it.

        websockets' own keepalive cannot tell a dead network from a socket we stopped
        reading on purpose (flow control: the pong waits unread behind the output). Here
        any frame received counts as a sign of life, and a wait during which the output
        buffer stalled proves nothing.
        """
        from websockets.exceptions import ConnectionClosed

        driver, _ = self._started()
        output = self._output
        assert output is not None
        while True:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            ws = self._ws
            progress = (driver.frames_received, output.stalls)
            try:
                # As websockets' keepalive: the clock starts once the ping is written (a
                # write blocked by the far end's backpressure is not silence).
                pong = await ws.ping()
                async with asyncio.timeout(KEEPALIVE_TIMEOUT):
                    await pong
                continue
            except ConnectionClosed:
                continue  # the read loop sees it too and resumes
            except TimeoutError:
                pass
            if ws is not self._ws or output.stalled:
                continue
            if (driver.frames_received, output.stalls) != progress:
                continue
            logger.debug("no answer to a ping for %.0f s: dropping the socket", KEEPALIVE_TIMEOUT)
            ws.transport.abort()  # the read loop ends and resumes the session

    def _runner_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            # EcsExecErrors are the named endings; anything else is a bug, and surfaces as
            # itself through receive() rather than being retried or swallowed.
            self._fail(error)

    def _progress(self) -> str:
        return (
            f"{self.bytes_received} bytes of output received, {self.bytes_sent} bytes of input sent"
        )


async def _close_websocket(ws: Any, *, seconds: float) -> None:
    """Close ``ws`` politely within ``seconds``, else abort its socket: a close handshake
    that never completes (a peer that stopped reading) must not leave the socket open after
    the event loop is gone."""
    with contextlib.suppress(Exception):  # any failure to close politely ends the same way
        await asyncio.wait_for(ws.close(), timeout=seconds)
    _drop_websocket(ws)


def _drop_websocket(ws: Any) -> None:
    """Abort ``ws``'s socket unless it is closed already; what is still unsent is dropped."""
    transport = getattr(ws, "transport", None)
    if transport is not None and not transport.is_closing():
        transport.abort()


__all__ = ["NativeStream", "check_stream_url"]
