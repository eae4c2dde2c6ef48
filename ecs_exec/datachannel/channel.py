"""The Session Manager data channel as a sans-I/O state machine, for either end.

Theory of operation
-------------------
A :class:`DataChannel` turns inputs (frames received, data to send, the passing of time) into
outputs (frames to send, events, the next deadline). It never reads a socket, a clock or a
random source of its own: ``now`` is a parameter, ids and nonces come from injected callables
(style §3.2).

Two clocks: every input takes ``now``, a *monotonic* time in seconds used only for
retransmission and RTT deadlines (and returned by :meth:`DataChannel.get_timer`); the
protocol's CreatedDate field comes from the injected ``wall_clock`` (epoch seconds).

The same class plays the **client** (session-manager-plugin) and the **agent**
(the sandbox/emulator), sharing sequencing, acknowledgement and retransmission, as websockets'
``Protocol(side)`` does.

Sequencing (spec §7.1, §7.4): each side numbers its own stream messages from 0
(``input_stream_data`` for the client, ``output_stream_data`` for the agent). On receipt:

* the expected message is acked, delivered, and the reorder buffer drained;
* an early message (seq > expected) is acked and buffered (at most 10 000), then delivered
  when the gap fills;
* a duplicate (seq < expected) is **re-acked** (the real agent does this; the plugin does not,
  which stalls agents whose ack was lost) and not delivered again;
* a frame that fails :func:`~ecs_exec.datachannel.message.validate` is dropped with no ack.

Buffered messages get the same handling as in-order ones when the gap fills, handshake
payloads included; the plugin hands them to its display handler instead (§5.5), which only
breaks its own handshake.

States
------
``STARTING``
    The session type is unknown. The client waits for a HandshakeRequest or for the first
    output (the legacy no-handshake path ECS exec uses without KMS, §5.6); stdin may already be
    sent. The agent waits for :meth:`DataChannel.start_handshake` or its first output.
``HANDSHAKING``
    A HandshakeRequest was sent/received and HandshakeComplete has not happened yet. The
    client holds back stream data (the agent would ack and discard it, and it may need to be
    encrypted with a key not known yet); the agent discards stream data, as the real one does.
``OPEN``
    The session type is known; data flows both ways.
``CLOSED``
    ``channel_closed`` was received or sent, :meth:`DataChannel.close` was called, or the far
    end violated the protocol (a
    :class:`~ecs_exec.datachannel.events.ProtocolViolated` event says so).
    Nothing is sent or delivered any more.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from uuid import UUID

from ecs_exec.datachannel import payloads as pl
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    ChannelClosed,
    DataKeyReceived,
    Event,
    FlagReceived,
    HandshakeCompleted,
    InputReceived,
    OutputReceived,
    ProtocolViolated,
    RetransmissionGaveUp,
    SessionStarted,
    TerminalResized,
)
from ecs_exec.datachannel.handshake import AgentHandshake, ClientHandshake, complete_payload
from ecs_exec.datachannel.message import (
    ClientMessage,
    MalformedMessage,
    MessageIdSource,
    MessageType,
    PayloadType,
    acknowledge_payload_of,
    decode as decode_message,
    encode_fields,
)
from ecs_exec.datachannel.retransmit import RESEND_MAX_ATTEMPT, OutgoingBuffer, RetransmitPolicy
from ecs_exec.errors import (
    HandshakeError,
    InvalidStateError,
    LocalProtocolError,
    RemoteProtocolError,
    SessionError,
)

CLIENT_VERSION = "1.2.677.0"  #: the ClientVersion we report (must be a 4-part version, §12.3)
AGENT_VERSION = "3.3.40.0"  #: the AgentVersion the agent side reports by default
STREAM_DATA_PAYLOAD_SIZE = 1024  #: config.go StreamDataPayloadSize / StdinBufferLimit
INCOMING_MESSAGE_BUFFER_CAPACITY = 10_000  #: config.go IncomingMessageBufferCapacity
#: Client window, in unacknowledged input messages: about 1 MiB, which keeps ~10 MB/s of
#: input flowing over a 100 ms round trip (256 capped it at ~2.5 MB/s at 50 ms latency).
DEFAULT_MAX_IN_FLIGHT = 1024
ACK_FLAGS = 3  #: SYN|FIN, what every acknowledge carries (§3.4)
SYN_FLAG = 1  #: the agent's first output_stream_data

_OUTPUT_TYPES = frozenset({PayloadType.OUTPUT, PayloadType.STDERR, PayloadType.EXIT_CODE})
_ENCRYPTED_TYPES = _OUTPUT_TYPES  # §6.3: only PT1 goes out encrypted; PT1/11/12 come back so


class Side(Enum):
    """Which end of the data channel this object plays."""

    CLIENT = "client"  #: session-manager-plugin's role
    AGENT = "agent"  #: the SSM agent (relayed by the service); used by the sandbox


class State(Enum):
    """Lifecycle of a channel; see the module docstring."""

    STARTING = "starting"  #: session type not known yet
    HANDSHAKING = "handshaking"  #: handshake in progress
    OPEN = "open"  #: session type known, data flows
    CLOSED = "closed"  #: over; nothing more is sent or delivered


#: Allowed transitions (h11 ``_state.py`` style); anything else is a bug in this module.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.STARTING: frozenset({State.HANDSHAKING, State.OPEN, State.CLOSED}),
    State.HANDSHAKING: frozenset({State.OPEN, State.CLOSED}),
    State.OPEN: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class DataChannel:
    """One end of a Session Manager data channel.

    Args:
        side: CLIENT or AGENT.
        session_id: the SessionId (KMS encryption context, channel_closed).
        token: TokenValue for the OpenDataChannel frame.
        client_id: the per-process ClientId (a UUID string).
        target_id: the Target (KMS encryption context), e.g. ``ecs:cluster_task_runtime``.
        client_version: ClientVersion to report.
        message_id: source of MessageIds and RequestIds; default a batched ``uuid4``
            (:class:`~ecs_exec.datachannel.message.MessageIdSource`).
        random_bytes: source of nonces and challenges.
        wall_clock: epoch seconds, e.g. ``time.time``; used only for CreatedDate. ``now``
            arguments are monotonic and never reach the wire.
        retransmit_policy: default ALL_OVERDUE for the client, OLDEST_ONLY (real agent) for
            the agent.
        max_in_flight: client window, in unacknowledged messages (the agent has none).
        max_resends: resends of one message before :class:`RetransmissionGaveUp`.
        logger: DEBUG logging of every frame (never payloads).
    """

    def __init__(
        self,
        side: Side,
        *,
        session_id: str,
        token: str,
        client_id: str,
        wall_clock: Callable[[], float],
        target_id: str = "",
        client_version: str = CLIENT_VERSION,
        message_id: Callable[[], UUID] | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        retransmit_policy: RetransmitPolicy | None = None,
        max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT,
        max_resends: int = RESEND_MAX_ATTEMPT,
        logger: logging.Logger | None = None,
    ) -> None:
        self.side = side
        self.session_id = session_id
        self.client_id = client_id
        self.target_id = target_id
        self.client_version = client_version
        self._token = token
        if message_id is None:
            ids = MessageIdSource()
            self._message_id: Callable[[], UUID] = ids
            self._raw_id: Callable[[], bytes] = ids.raw
        else:
            self._message_id = message_id
            self._raw_id = lambda: message_id().bytes
        self._random_bytes = random_bytes
        self._wall_clock = wall_clock
        self.logger = logger or logging.getLogger("ecs_exec.datachannel")
        self.debug = self.logger.isEnabledFor(logging.DEBUG)
        client = side is Side.CLIENT
        if retransmit_policy is None:
            retransmit_policy = (
                RetransmitPolicy.ALL_OVERDUE if client else RetransmitPolicy.OLDEST_ONLY
            )
        self._outgoing = OutgoingBuffer(
            retransmit_policy,
            max_in_flight=max_in_flight if client else None,
            max_resends=max_resends,
        )
        self._send_type = (
            MessageType.INPUT_STREAM_DATA if client else MessageType.OUTPUT_STREAM_DATA
        )
        self._recv_type = (
            MessageType.OUTPUT_STREAM_DATA if client else MessageType.INPUT_STREAM_DATA
        )
        self._state = State.STARTING
        self._out_seq = 0
        self._expected = 0
        self._reorder: dict[int, ClientMessage] = {}
        self._pending: deque[tuple[int, bytes]] = deque()  # client: (ptype, plaintext)
        self._pending_bytes = 0
        self._to_send: list[bytes] = []
        self._events: list[Event] = []
        self._cipher: CipherPair | None = None
        self._gave_up_reported = False
        # Handshake state. Client: what the agent asked for; agent: what it is waiting for.
        self.session_type: str | None = None
        self.agent_version = ""
        self._client_handshake = ClientHandshake()
        self._agent_handshake = AgentHandshake(random_bytes)

    # ---------------------------------------------------------------- properties

    @property
    def state(self) -> State:
        """The current :class:`State`."""
        return self._state

    @property
    def encrypted(self) -> bool:
        """Whether a KMS data key is in use."""
        return self._cipher is not None

    @property
    def bytes_in_flight(self) -> int:
        """Wire bytes sent and not yet acknowledged."""
        return self._outgoing.bytes_in_flight

    @property
    def messages_in_flight(self) -> int:
        """Sequenced messages sent and not yet acknowledged."""
        return len(self._outgoing)

    @property
    def input_buffered(self) -> int:
        """Plaintext bytes accepted by ``send_*`` but not sent yet (window full or held)."""
        return self._pending_bytes

    @property
    def all_input_acknowledged(self) -> bool:
        """Whether everything this side sent (or queued) is acknowledged."""
        return not self._pending and not len(self._outgoing)

    @property
    def next_sequence_number(self) -> int:
        """The sequence number the next stream message will carry."""
        return self._out_seq

    @property
    def expected_sequence_number(self) -> int:
        """The sequence number of the next in-order message from the far end."""
        return self._expected

    @property
    def retransmission_timeout(self) -> float:
        """The current RTO, seconds."""
        return self._outgoing.rtt.rto

    # ---------------------------------------------------------------- outputs

    def data_to_send(self) -> list[bytes]:
        """Return and clear the binary frames to write, in order."""
        out, self._to_send = self._to_send, []
        return out

    def events_received(self) -> list[Event]:
        """Return and clear the events produced since the last call."""
        out, self._events = self._events, []
        return out

    def get_timer(self) -> float | None:
        """Return when :meth:`handle_timer` must next be called, or None."""
        if self._state is State.CLOSED:
            return None
        return self._outgoing.next_deadline()

    # ---------------------------------------------------------------- inputs

    def opening_frame(self, *, token: str | None = None, request_id: str | None = None) -> str:
        """Return the OpenDataChannel text frame to send first on every (re)connect (§2.2).

        Args:
            token: a new TokenValue (from ResumeSession); it replaces the stored one.
            request_id: the RequestId; default a fresh one from ``message_id``.

        Returns:
            The JSON text; the ClientId is the same on every call.
        """
        if token is not None:
            self._token = token
        return pl.open_data_channel_frame(
            request_id=request_id or str(self._message_id()),
            token=self._token,
            client_id=self.client_id,
            client_version=self.client_version,
        )

    def receive_message(self, data: bytes, *, now: float) -> None:
        """Process one binary frame from the far end. Never raises for remote garbage.

        Args:
            data: the frame.
            now: the current time, seconds.
        """
        if self._state is State.CLOSED:
            return
        try:
            ack = acknowledge_payload_of(data)
            if ack is not None:
                self._receive_ack(ack, now)
                return
            msg = decode_message(data)
        except MalformedMessage as exc:
            # messageparser.go Validate failures are dropped with no ack (§3.3).
            if self.debug:
                self.logger.debug("%s: dropped invalid frame: %s", self.side.value, exc)
            return
        if self.debug:
            self.logger.debug("%s < %s", self.side.value, msg.describe())
        try:
            mtype = msg.message_type
            if mtype == self._recv_type:
                self._receive_stream(msg, now)
            elif mtype == MessageType.CHANNEL_CLOSED:
                try:
                    output = pl.parse_channel_closed(msg.payload)
                except RemoteProtocolError:
                    output = ""  # the plugin only logs payload errors and still exits
                self._events.append(ChannelClosed(output))
                self._set_state(State.CLOSED)
            # start/pause_publication and unknown types (e.g. agent_session_state) are
            # ignored, as streaming.go OutputMessageHandler does.
        except (RemoteProtocolError, HandshakeError) as exc:
            self._fail(exc)

    def send_input(self, data: bytes, *, now: float) -> None:
        """(client) Queue stdin bytes as PT1 messages of at most 1024 bytes, and send what fits.

        Input is accepted before the session type is known. It is held while a handshake runs
        and when the window is full, and sent as acks free room.

        Raises:
            LocalProtocolError: called on the agent side.
            InvalidStateError: the channel is closed.
        """
        self._require(Side.CLIENT, "send_input")
        size = STREAM_DATA_PAYLOAD_SIZE
        for i in range(0, len(data), size):
            self._queue(PayloadType.OUTPUT, data[i : i + size])
        self._flush(now)

    def send_terminal_size(self, cols: int, rows: int, *, now: float) -> None:
        """(client) Queue a PT3 ``{"cols":C,"rows":R}`` message (never encrypted, §9).

        Raises:
            LocalProtocolError: agent side, or a dimension out of range.
            InvalidStateError: the channel is closed.
        """
        self._require(Side.CLIENT, "send_terminal_size")
        self._queue(PayloadType.SIZE, pl.size_payload(cols, rows))
        self._flush(now)

    def send_flag(self, flag: int, *, now: float) -> None:
        """Send a PT10 flag (uint32), e.g. ``payloads.Flag.TERMINATE_SESSION``.

        Raises:
            LocalProtocolError: the flag is out of range.
            InvalidStateError: the channel is closed.
        """
        self._require(None, "send_flag")
        payload = pl.flag_payload(flag)
        if self.side is Side.CLIENT:
            self._queue(PayloadType.FLAG, payload)
            self._flush(now)
        else:
            self._send_stream(PayloadType.FLAG, payload, now)

    def send_output(
        self, data: bytes, *, now: float, payload_type: PayloadType = PayloadType.OUTPUT
    ) -> None:
        """(agent) Send output; one output_stream_data per 1024 bytes (one per call normally).

        The agent has no window: it never waits for acks. Its first message carries SYN.

        Raises:
            LocalProtocolError: client side.
            InvalidStateError: closed, or a handshake is still running.
        """
        self._require(Side.AGENT, "send_output")
        if self._state is State.HANDSHAKING:
            raise InvalidStateError("cannot send output before the handshake completes")
        if self._state is State.STARTING:
            self._set_state(State.OPEN)  # the legacy path: the first output starts the session
        size = STREAM_DATA_PAYLOAD_SIZE
        for i in range(0, len(data), size):
            self._send_stream(payload_type, data[i : i + size], now)

    def start_handshake(
        self,
        *,
        session_type: str = "InteractiveCommands",
        kms_key_id: str | None = None,
        agent_version: str = AGENT_VERSION,
        now: float,
    ) -> None:
        """(agent) Send the HandshakeRequest (§5.2); KMSEncryption only with a key id.

        Raises:
            LocalProtocolError: client side.
            InvalidStateError: the session already started.
        """
        self._require(Side.AGENT, "start_handshake")
        if self._state is not State.STARTING:
            raise InvalidStateError(f"cannot start a handshake in state {self._state.name}")
        request = self._agent_handshake.request(
            session_type=session_type, kms_key_id=kms_key_id, agent_version=agent_version, now=now
        )
        self.session_type = session_type
        self.agent_version = agent_version
        self._set_state(State.HANDSHAKING)
        self._send_stream(PayloadType.HANDSHAKE_REQUEST, request, now)

    def provide_data_key(self, plaintext: bytes, ciphertext_blob: bytes, *, now: float) -> None:
        """Hand over the KMS data key.

        Client: after GenerateDataKey; sends the held HandshakeResponse with the blob.
        Agent: after KMS Decrypt of the blob; sends the EncChallengeRequest.

        Args:
            plaintext: the 64-byte data key.
            ciphertext_blob: its CiphertextBlob.
            now: the current time.

        Raises:
            InvalidStateError: no data key was asked for.
            LocalProtocolError: the key is not 64 bytes.
        """
        self._require(None, "provide_data_key")
        client = self.side is Side.CLIENT
        handshake = self._client_handshake if client else self._agent_handshake
        if not handshake.key_requested:
            raise InvalidStateError("no data key was requested")
        cipher = CipherPair.from_data_key(plaintext, client=client, nonce_source=self._random_bytes)
        self._cipher = cipher
        if client:
            response = self._client_handshake.key_provided(
                ciphertext_blob, client_version=self.client_version
            )
            self._send_stream(PayloadType.HANDSHAKE_RESPONSE, response, now)
        else:
            challenge = self._agent_handshake.challenge(cipher)
            self._send_stream(PayloadType.ENC_CHALLENGE_REQUEST, challenge, now)

    def reject_data_key(self, reason: str, *, now: float) -> None:
        """(client) Report that GenerateDataKey failed; the KMS action is answered as failed.

        Raises:
            InvalidStateError: no data key was requested.
        """
        self._require(Side.CLIENT, "reject_data_key")
        if not self._client_handshake.key_requested:
            raise InvalidStateError("no data key was requested")
        response = self._client_handshake.key_rejected(reason, client_version=self.client_version)
        self._send_stream(PayloadType.HANDSHAKE_RESPONSE, response, now)

    def send_channel_closed(self, output: str = "", *, now: float) -> None:
        """(agent/service) Send ``channel_closed`` and close (§4.4). Not retransmitted.

        Raises:
            InvalidStateError: the channel is already closed.
        """
        self._require(None, "send_channel_closed")
        created = self._created()
        mid = self._message_id()
        content = pl.ChannelClosedContent(
            message_id=str(mid),
            created_date=datetime.fromtimestamp(created / 1000, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            destination_id=self.client_id,
            session_id=self.session_id,
            output=output,
        )
        self._emit(MessageType.CHANNEL_CLOSED, 0, 0, PayloadType.UNSET, content.to_bytes(), now)
        self._set_state(State.CLOSED)

    def handle_timer(self, *, now: float) -> None:
        """Resend what is overdue; report a give-up once (the state does not change then:
        the driver ends the session, e.g. with TerminateSession, as the plugin does)."""
        if self._state is State.CLOSED:
            return
        resends = self._outgoing.poll(now=now)
        if resends:
            if self.debug:
                self.logger.debug("%s: resending %d message(s)", self.side.value, len(resends))
            self._to_send.extend(resends)
        self._report_give_up()

    def _report_give_up(self) -> None:
        gave_up = self._outgoing.gave_up
        if gave_up is not None and not self._gave_up_reported:
            self._gave_up_reported = True
            self._events.append(RetransmissionGaveUp(*gave_up))

    def resend_unacknowledged(self, *, now: float) -> None:
        """Resend every unacknowledged stream message now, whatever its deadline.

        What a driver calls after a resume (a new websocket): the far end may have lost
        everything in flight with the old connection, so waiting for each RTO would stall.
        The resends count towards ``max_resends``.
        """
        if self._state is State.CLOSED:
            return
        resends = self._outgoing.resend_all(now=now)
        if self.debug:
            self.logger.debug("%s: resending %d message(s) now", self.side.value, len(resends))
        self._to_send.extend(resends)
        self._report_give_up()

    def close(self, *, now: float) -> None:
        """Close locally: stop sending, resending and delivering. Idempotent."""
        if self._state is not State.CLOSED:
            self._set_state(State.CLOSED)

    # ---------------------------------------------------------------- receive internals

    def _receive_ack(self, payload: bytes, now: float) -> None:
        try:
            seq = pl.parse_acknowledge(payload)
        except RemoteProtocolError:
            return  # streaming.go only logs a bad ack
        if self._outgoing.acknowledge(seq, now=now) and self._pending:
            self._flush(now)

    def _receive_stream(self, msg: ClientMessage, now: float) -> None:
        seq = msg.sequence_number
        expected = self._expected
        if seq == expected:
            # Ack before processing, as streaming.go does for handshake payloads.
            self._ack(msg, now)
            self._expected = seq + 1
            self._dispatch(msg, now)
            reorder = self._reorder
            while reorder and self._state is not State.CLOSED:
                nxt = reorder.pop(self._expected, None)
                if nxt is None:
                    break
                self._expected += 1
                self._dispatch(nxt, now)
        elif seq > expected:
            if seq in self._reorder:
                self._ack(msg, now)
            elif len(self._reorder) < INCOMING_MESSAGE_BUFFER_CAPACITY:
                self._ack(msg, now)
                self._reorder[seq] = msg
            # else: dropped without an ack; the sender will resend (§7.4)
        else:
            # A duplicate: re-ack so a sender whose ack was lost can move on (§7.4, [agent]).
            self._ack(msg, now)

    def _dispatch(self, msg: ClientMessage, now: float) -> None:
        ptype = msg.payload_type
        if self.side is Side.CLIENT:
            if ptype == PayloadType.HANDSHAKE_REQUEST:
                self._on_handshake_request(msg, now)
            elif ptype == PayloadType.ENC_CHALLENGE_REQUEST:
                answer = ClientHandshake.answer_challenge(self._cipher, msg.payload)
                self._send_stream(PayloadType.ENC_CHALLENGE_RESPONSE, answer, now)
            elif ptype == PayloadType.HANDSHAKE_COMPLETE:
                self._on_handshake_complete(msg, now)
            elif ptype in _OUTPUT_TYPES:
                if self._state is State.STARTING:
                    # Legacy path (sessionhandler.go ProcessFirstMessage): the first output
                    # decides the session type.
                    self.session_type = "Standard_Stream"
                    self._set_state(State.OPEN)
                    self._events.append(SessionStarted("Standard_Stream", "", False, ""))
                    self._flush(now)
                data = msg.payload
                if self._cipher is not None:
                    data = self._cipher.decrypt(data)
                self._events.append(OutputReceived(data, PayloadType(ptype)))
            elif ptype == PayloadType.FLAG:
                self._events.append(FlagReceived(pl.parse_flag(msg.payload)))
            return
        if ptype == PayloadType.OUTPUT:
            if self._state is State.HANDSHAKING:
                return  # the real agent acks but discards stream data until the handshake ends
            data = msg.payload
            if self._cipher is not None:
                data = self._cipher.decrypt(data)
            self._events.append(InputReceived(data))
        elif ptype == PayloadType.SIZE:
            self._events.append(TerminalResized(*pl.parse_size(msg.payload)))
        elif ptype == PayloadType.FLAG:
            self._events.append(FlagReceived(pl.parse_flag(msg.payload)))
        elif ptype == PayloadType.HANDSHAKE_RESPONSE:
            self._on_agent_handshake(self._agent_handshake.receive_response(msg.payload, now), now)
        elif ptype == PayloadType.ENC_CHALLENGE_RESPONSE:
            self._on_agent_handshake(
                self._agent_handshake.receive_challenge_response(self._cipher, msg.payload, now),
                now,
            )

    # ---------------------------------------------------------------- client handshake

    def _on_handshake_request(self, msg: ClientMessage, now: float) -> None:
        if self._state is not State.STARTING:
            return  # never redo a handshake (§5.5)
        request = pl.parse_handshake_request(msg.payload)
        self._set_state(State.HANDSHAKING)
        self.agent_version = request.agent_version
        handshake = self._client_handshake
        key_request = handshake.receive_request(
            request, {"aws:ssm:SessionId": self.session_id, "aws:ssm:TargetId": self.target_id}
        )
        if handshake.session_type is not None:
            self.session_type = handshake.session_type
        if key_request is not None:
            self._events.append(key_request)
        else:
            response = handshake.response(None, client_version=self.client_version)
            self._send_stream(PayloadType.HANDSHAKE_RESPONSE, response, now)

    def _on_handshake_complete(self, msg: ClientMessage, now: float) -> None:
        complete = pl.parse_handshake_complete(msg.payload)
        if self._state is not State.HANDSHAKING:
            return
        if self.session_type is None:
            raise HandshakeError("unable to determine SessionType")
        self._set_state(State.OPEN)
        self._events.append(
            HandshakeCompleted(complete.time_to_complete_ns, complete.customer_message)
        )
        self._events.append(
            SessionStarted(
                self.session_type,
                self.agent_version,
                self._cipher is not None,
                complete.customer_message,
            )
        )
        self._flush(now)

    # ---------------------------------------------------------------- agent handshake

    def _on_agent_handshake(
        self, event: DataKeyReceived | HandshakeCompleted | None, now: float
    ) -> None:
        if isinstance(event, HandshakeCompleted):
            self._send_stream(PayloadType.HANDSHAKE_COMPLETE, complete_payload(event), now)
            self._set_state(State.OPEN)
        if event is not None:
            self._events.append(event)

    # ---------------------------------------------------------------- send internals

    def _require(self, side: Side | None, what: str) -> None:
        if side is not None and self.side is not side:
            raise LocalProtocolError(f"{what} is for the {side.value} side")
        if self._state is State.CLOSED:
            raise InvalidStateError(f"cannot {what}: the channel is closed")

    def _queue(self, ptype: int, payload: bytes) -> None:
        self._pending.append((ptype, payload))
        self._pending_bytes += len(payload)

    def _flush(self, now: float) -> None:
        # Held while a handshake runs; limited by the window otherwise.
        if self._state is State.HANDSHAKING:
            return
        pending = self._pending
        outgoing = self._outgoing
        cipher = self._cipher
        while pending and outgoing.has_room:
            ptype, payload = pending.popleft()
            self._pending_bytes -= len(payload)
            if cipher is not None and ptype == PayloadType.OUTPUT:
                payload = cipher.encrypt(payload)
            self._send_stream(ptype, payload, now)

    def _send_stream(self, ptype: int, payload: bytes, now: float) -> None:
        if self.side is Side.AGENT and ptype in _ENCRYPTED_TYPES and self._cipher is not None:
            payload = self._cipher.encrypt(payload)
        seq = self._out_seq
        # The agent marks its first stream message SYN; the client always writes 0 (§3.4).
        flags = SYN_FLAG if seq == 0 and self.side is Side.AGENT else 0
        data = self._emit(self._send_type, seq, flags, ptype, payload, now)
        # The window is applied by _flush; handshake replies bypass it (they are few and must
        # not wait behind input), and the agent has none.
        self._outgoing.add(seq, data, now=now, force=True)
        self._out_seq = seq + 1

    def _ack(self, msg: ClientMessage, now: float) -> None:
        payload = pl.acknowledge_payload(msg.message_type, msg.message_id, msg.sequence_number)
        self._emit(MessageType.ACKNOWLEDGE, 0, ACK_FLAGS, PayloadType.UNSET, payload, now)

    def _emit(
        self, mtype: str, seq: int, flags: int, ptype: int, payload: bytes, now: float
    ) -> bytes:
        raw_id = self._raw_id()
        if self.debug:
            self.logger.debug(
                "%s > %s seq=%d pt=%d flags=%d id=%s [%d bytes]",
                self.side.value,
                mtype,
                seq,
                ptype,
                flags,
                UUID(bytes=raw_id),
                len(payload),
            )
        data = encode_fields(
            mtype,
            sequence_number=seq,
            flags=flags,
            message_id=raw_id,
            payload_type=ptype,
            payload=payload,
            created_date=self._created(),
        )
        self._to_send.append(data)
        return data

    def _created(self) -> int:
        # Epoch milliseconds; CreatedDate 0 would make the far end drop the message.
        return max(1, int(self._wall_clock() * 1000))

    def _set_state(self, state: State) -> None:
        if state not in TRANSITIONS[self._state]:
            raise LocalProtocolError(f"illegal transition {self._state.name} -> {state.name}")
        if self.debug:
            self.logger.debug("%s: %s -> %s", self.side.value, self._state.name, state.name)
        self._state = state

    def _fail(self, exc: SessionError) -> None:
        self.logger.warning("%s: protocol violation: %s", self.side.value, exc)
        self._events.append(ProtocolViolated(exc))
        self._set_state(State.CLOSED)


__all__ = ["TRANSITIONS", "DataChannel", "Side", "State"]
