"""The native transport: an asyncio driver between a websocket and a ``ClientChannel``.

It stays dumb (aioquic's ``asyncio/protocol.py`` shape): after every input to the channel
it sends ``data_to_send()``, dispatches ``events_received()`` and re-arms one timer at
``get_timer()``. The protocol decisions are all in ``ecs_exec.datachannel``.

What it adds: dialing the streamUrl verbatim (wss with TLS verification, HTTPS_PROXY through
websockets' proxy support, ws:// only to loopback), KMS calls for the encryption handshake,
and resuming a dropped socket with ssm:ResumeSession on the *SSM* endpoint, keeping every
sequence number and resending what the agent has not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from ecs_exec import __version__
from ecs_exec.aws import kms as aws_kms, ssm as aws_ssm
from ecs_exec.aws._errors import is_retryable
from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import ExecSession
from ecs_exec.datachannel import (
    ChannelClosed,
    ClientChannel,
    EncryptionKeyRequested,
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
)
from ecs_exec.timing import mark
from ecs_exec.transports.urls import is_loopback_url
from ecs_exec.transports.wsbatch import send_messages

logger = logging.getLogger("ecs_exec.transports.native")

#: Stop reading local stdin while this much input is queued or unacknowledged.
INPUT_HIGH_WATER = 256 * 1024
#: How long a dropped session may take to come back before we give up.
RESUME_TIMEOUT = 30.0
CONNECT_TIMEOUT = 20.0


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
    ) -> None:
        check_stream_url(session.stream_url)
        self.session = session
        self.clients = clients
        self.resume_timeout = resume_timeout
        self.show_customer_message = show_customer_message
        self.refuse_kms = refuse_kms
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
        self._ws: Any = None
        self._output: asyncio.Queue[bytes] = asyncio.Queue()
        # Frames waiting for the writer task, which sends everything queued in one batch.
        self._outgoing: list[bytes | str] = []
        self._outgoing_ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0  # the channel deadline self._timer was armed for
        self._tasks: list[asyncio.Task[None]] = []
        self._error: EcsExecError | None = None
        self._ended = False
        self._closing = False
        self.started: SessionStarted | None = None
        self.bytes_received = 0
        self.bytes_sent = 0
        self.reconnects = 0

    # -- RemoteStream -------------------------------------------------------------------

    async def start(self) -> None:
        """Dial the stream URL and open the data channel."""
        self._ws = await self._dial(self.session.token_value)
        self._tasks = [
            asyncio.ensure_future(self._read_loop()),
            asyncio.ensure_future(self._write_loop()),
        ]

    async def send(self, data: bytes) -> None:
        self._raise_if_failed()
        self.channel.send_input(data, now=time.time())
        self.bytes_sent += len(data)
        self._process()
        while self.channel.input_buffered > INPUT_HIGH_WATER and not self._finished:
            self._drained.clear()
            await self._drained.wait()
            self._raise_if_failed()

    async def resize(self, cols: int, rows: int) -> None:
        self._raise_if_failed()
        self.channel.send_terminal_size(cols, rows, now=time.time())
        self._process()

    async def receive(self) -> bytes:
        if self._output.empty():
            self._raise_if_failed()
            if self._ended:
                return b""
        data = await self._output.get()
        if not data:
            self._raise_if_failed()
        return data

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
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), timeout=2)

    # -- driver -------------------------------------------------------------------------

    @property
    def _profile(self) -> str | None:
        return self.clients.settings.profile

    @property
    def _finished(self) -> bool:
        return self._ended or self._error is not None

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _fail(self, error: EcsExecError) -> None:
        if self._error is None and not self._ended:
            self._error = error
        self._drained.set()
        self._output.put_nowait(b"")

    async def _dial(self, token: str) -> Any:
        from websockets.asyncio.client import connect

        ws = await asyncio.wait_for(
            connect(
                self.session.stream_url,
                max_size=None,
                compression=None,
                ping_interval=20,
                ping_timeout=40,
                open_timeout=CONNECT_TIMEOUT,
                user_agent_header=f"ecs-exec/{__version__}",
                # HTTPS_PROXY/HTTP_PROXY are honoured (websockets reads them), but loopback
                # is never proxied, as gorilla's dialer in the official plugin does.
                proxy=None if is_loopback_url(self.session.stream_url) else True,
            ),
            timeout=CONNECT_TIMEOUT + 1,
        )
        await ws.send(self.channel.opening_frame(token=token))
        return ws

    def _process(self) -> None:
        """Drain the channel's outputs after an input; the one place that does."""
        frames = self.channel.data_to_send()
        if frames:
            self._outgoing.extend(frames)
            self._outgoing_ready.set()
        for event in self.channel.events_received():
            self._dispatch(event)
        if self.channel.input_buffered <= INPUT_HIGH_WATER:
            self._drained.set()
        self._arm_timer()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, OutputReceived):
            if not self.bytes_received:
                mark("first_output")
            self.bytes_received += len(event.data)
            self._output.put_nowait(event.data)
        elif isinstance(event, SessionStarted):
            self.started = event
            logger.debug("session started: %s", event)
            if self.show_customer_message and event.customer_message:
                self._output.put_nowait(f"{event.customer_message}\n".encode())
        elif isinstance(event, EncryptionKeyRequested):
            self._tasks.append(asyncio.ensure_future(self._provide_key(event)))
        elif isinstance(event, ChannelClosed):
            self.closed_output = event.output
            self._ended = True
            self._drained.set()
            self._output.put_nowait(b"")
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

    def _arm_timer(self) -> None:
        deadline = self.channel.get_timer()
        timer = self._timer
        if deadline is None or self._finished:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        if timer is not None:
            if self._timer_due <= deadline:
                # Already armed for no later than needed: an early wake-up finds nothing
                # overdue and re-arms. Not re-arming after every ack or message saves a
                # cancel + call_later per frame.
                return
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_due = deadline
        self._timer = loop.call_later(max(0.0, deadline - time.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.channel.handle_timer(now=time.time())
        self._process()

    async def _provide_key(self, event: EncryptionKeyRequested) -> None:
        if self.refuse_kms is not None:
            self.channel.reject_data_key(self.refuse_kms, now=time.time())
            self._process()
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
        self.channel.provide_data_key(key.plaintext, key.ciphertext_blob, now=time.time())
        self._process()

    async def _read_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while not self._ended:
            try:
                async for frame in self._ws:
                    if isinstance(frame, str):
                        continue  # the service sends only binary messages after the open
                    self.channel.receive_message(frame, now=time.time())
                    self._process()
                    if self._ended:
                        return
            except ConnectionClosed:
                pass
            except OSError as exc:
                logger.debug("socket error: %s", exc)
            if self._ended or self._closing:
                return
            try:
                await self._resume()
            except EcsExecError as exc:
                self._fail(exc)
                return

    async def _write_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while True:
            if not self._outgoing:
                self._outgoing_ready.clear()
                await self._outgoing_ready.wait()
                continue
            # Everything queued since the last write goes out together (one websocket
            # message per frame, one socket write): acks for a burst of output, input.
            frames, self._outgoing = self._outgoing, []
            ws = self._ws
            try:
                await send_messages(ws, frames)
            except (ConnectionClosed, OSError):
                # Lost frames are input the channel will resend, or acks the agent will
                # provoke again by resending its output; nothing to keep here.
                continue

    async def _resume(self) -> None:
        """Reconnect after a drop: ResumeSession for a new token, same URL and ClientId.

        Raises:
            ConnectionLostError: not back within ``resume_timeout``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.resume_timeout
        delay = 0.1
        last_error = "no answer"
        while loop.time() < deadline:
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
                remaining = max(0.5, deadline - loop.time())
                self._ws = await asyncio.wait_for(self._dial(token), timeout=remaining)
                logger.debug("resumed session %s", self.session.session_id)
                # Resend what the agent has not acknowledged without waiting for the RTO.
                self.channel.resend_unacknowledged(now=time.time())
                self._process()
                return
            except AwsError as exc:
                if not is_retryable(exc):
                    raise ConnectionLostError(
                        f"the connection dropped and ResumeSession failed: {exc} "
                        f"({self._progress()})",
                        hint=exc.hint,
                    ) from exc
                last_error = str(exc)
            except (OSError, TimeoutError) as exc:
                last_error = str(exc) or type(exc).__name__
            except Exception as exc:  # websockets' InvalidHandshake family and friends
                if isinstance(exc, EcsExecError):
                    raise
                last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
            delay = min(delay * 2, 2.0)
        raise ConnectionLostError(
            f"lost the connection to the session and could not resume it within "
            f"{self.resume_timeout:.0f} s ({self._progress()}; last error: {last_error})",
            hint="check the network; the remote command may still be running",
        )

    def _progress(self) -> str:
        return (
            f"{self.bytes_received} bytes of output received, {self.bytes_sent} bytes of input sent"
        )
