"""The Session Manager data channel's shared core: sequencing, acks and retransmission.

Theory of operation
-------------------
A channel turns inputs (frames received, data to send, the passing of time) into outputs
(frames to send, events, the next deadline), as python-websockets' ``Protocol`` does, and
like it comes in two roles that share this core: :class:`~ecs_exec.datachannel.client.ClientChannel`
(session-manager-plugin's end) and :class:`~ecs_exec.datachannel.agent.AgentChannel` (the SSM
agent's end, played by the sandbox). :class:`DataChannel` is their base; it never reads a
socket, a clock or a random source of its own.

Two clocks: every input takes ``now``, a *monotonic* time in seconds used only for
retransmission and RTT deadlines (and returned by :meth:`DataChannel.get_timer`); the
protocol's CreatedDate field comes from the injected ``wall_clock`` (epoch seconds). Message
ids and nonces come from injected callables too.

The core does for both roles what does not depend on the role (docs/protocol.md#7-sequencing,
#8-retransmission):

* a frame that fails :func:`~ecs_exec.datachannel.message.validate` is dropped with no ack;
* an ``acknowledge`` goes to the outgoing buffer
  (:class:`~ecs_exec.datachannel.retransmit.OutgoingBuffer`), which frees the message and
  feeds the RTT estimate;
* a stream message of the far end's type goes through the incoming buffer
  (:class:`~ecs_exec.datachannel.incoming.IncomingBuffer`): it is acked (duplicates too, unless
  the buffer is full), and delivered in sequence order to the role's ``_dispatch``, handshake
  payloads included;
* ``channel_closed`` closes the channel; other message types (publication control,
  agent_session_state) are ignored, as the plugin ignores them;
* every own stream message gets the next sequence number and stays in the outgoing buffer,
  exact bytes and MessageId, until acked; :meth:`DataChannel.handle_timer` resends what is
  overdue and :meth:`DataChannel.resend_unacknowledged` everything at once (after a resume).

State changes go through the role's transition table (:mod:`~ecs_exec.datachannel.state`); a
protocol violation by the far end closes the channel with a
:class:`~ecs_exec.datachannel.events.ProtocolViolated` event instead of raising.
"""

from __future__ import annotations

import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import Enum
from typing import ClassVar
from uuid import UUID

import ecs_exec.datachannel.payloads as pl
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    ChannelClosed,
    Event,
    ProtocolViolated,
    RetransmissionGaveUp,
)
from ecs_exec.datachannel.incoming import Arrival, IncomingBuffer
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
from ecs_exec.datachannel.state import State, StateMachine, Table, Trigger
from ecs_exec.errors import (
    HandshakeError,
    InvalidStateError,
    RemoteProtocolError,
    SessionError,
)

STREAM_DATA_PAYLOAD_SIZE = 1024  #: config.go StreamDataPayloadSize / StdinBufferLimit
ACK_FLAGS = 3  #: SYN|FIN, what every acknowledge carries (docs/protocol.md#4-header)


class Side(Enum):
    """Which end of the data channel a channel class plays (for logs and tests)."""

    CLIENT = "client"  #: session-manager-plugin's role
    AGENT = "agent"  #: the SSM agent (relayed by the service); used by the sandbox


class DataChannel(ABC):
    """What both ends of a Session Manager data channel share; see the module docstring.

    Args:
        session_id: the SessionId (KMS encryption context, channel_closed).
        client_id: the per-process ClientId (a UUID string).
        wall_clock: epoch seconds, e.g. ``time.time``; used only for CreatedDate. ``now``
            arguments are monotonic and never reach the wire.
        message_id: source of MessageIds and RequestIds; default a batched ``uuid4``
            (:class:`~ecs_exec.datachannel.message.MessageIdSource`).
        random_bytes: source of nonces and challenges.
        retransmit_policy: default: the role's :attr:`default_policy`.
        max_in_flight: window, in unacknowledged messages (None: no window).
        max_resends: resends of one message before :class:`RetransmissionGaveUp`.
        logger: DEBUG logging of every frame (never payloads).
    """

    side: ClassVar[Side]
    #: The resend policy when none is given.
    default_policy: ClassVar[RetransmitPolicy]
    #: The role's transition table.
    transitions: ClassVar[Table]
    _send_type: ClassVar[str]  # the MessageType of this side's stream messages
    _recv_type: ClassVar[str]  # the MessageType of the far end's stream messages
    _first_flags: ClassVar[int] = 0  # Flags of this side's first stream message

    def __init__(
        self,
        *,
        session_id: str,
        client_id: str,
        wall_clock: Callable[[], float],
        message_id: Callable[[], UUID] | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        retransmit_policy: RetransmitPolicy | None = None,
        max_in_flight: int | None = None,
        max_resends: int = RESEND_MAX_ATTEMPT,
        logger: logging.Logger | None = None,
    ) -> None:
        self.session_id = session_id
        self.client_id = client_id
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
        self._outgoing = OutgoingBuffer(
            retransmit_policy or self.default_policy,
            max_in_flight=max_in_flight,
            max_resends=max_resends,
        )
        self._incoming = IncomingBuffer()
        self._machine = StateMachine(self.transitions)
        self._out_seq = 0
        self._to_send: list[bytes] = []
        self._events: list[Event] = []
        self._cipher: CipherPair | None = None
        self._gave_up_reported = False
        #: The session type, once known (requested by the agent, or Standard_Stream).
        self.session_type: str | None = None
        #: The AgentVersion of the HandshakeRequest ("" without one).
        self.agent_version = ""

    # ---------------------------------------------------------------- properties

    @property
    def state(self) -> State:
        """The current :class:`~ecs_exec.datachannel.state.State`."""
        return self._machine.state

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
    def all_input_acknowledged(self) -> bool:
        """Whether everything this side sent (or queued) is acknowledged."""
        return not len(self._outgoing)

    @property
    def next_sequence_number(self) -> int:
        """The sequence number the next stream message will carry."""
        return self._out_seq

    @property
    def expected_sequence_number(self) -> int:
        """The sequence number of the next in-order message from the far end."""
        return self._incoming.expected

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
        """Return when :meth:`handle_timer` must next be called (monotonic), or None."""
        if self.state is State.CLOSED:
            return None
        return self._outgoing.next_deadline()

    # ---------------------------------------------------------------- inputs

    def receive_message(self, data: bytes, *, now: float) -> None:
        """Process one binary frame from the far end. Never raises for remote garbage.

        Args:
            data: the frame.
            now: the current monotonic time, seconds.
        """
        if self.state is State.CLOSED:
            return
        try:
            ack = acknowledge_payload_of(data)
            if ack is not None:
                self._receive_ack(ack, now)
                return
            msg = decode_message(data)
        except MalformedMessage as exc:
            # messageparser.go Validate failures are dropped with no ack
            # (docs/protocol.md#4-header).
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
                self._process(Trigger.CLOSE)
            # start/pause_publication and unknown types (e.g. agent_session_state) are
            # ignored, as streaming.go OutputMessageHandler does.
        except (RemoteProtocolError, HandshakeError) as exc:
            self._fail(exc)

    def handle_timer(self, *, now: float) -> None:
        """Resend what is overdue; report a give-up once (the state does not change then:
        the driver ends the session, e.g. with TerminateSession, as the plugin does)."""
        if self.state is State.CLOSED:
            return
        resends = self._outgoing.poll(now=now)
        if resends:
            if self.debug:
                self.logger.debug("%s: resending %d message(s)", self.side.value, len(resends))
            self._to_send.extend(resends)
        self._report_give_up()

    def resend_unacknowledged(self, *, now: float) -> None:
        """Resend every unacknowledged stream message now, whatever its deadline.

        What a driver calls after a resume (a new websocket): the far end may have lost
        everything in flight with the old connection, so waiting for each RTO would stall.
        The resends count towards ``max_resends``.
        """
        if self.state is State.CLOSED:
            return
        resends = self._outgoing.resend_all(now=now)
        if self.debug:
            self.logger.debug("%s: resending %d message(s) now", self.side.value, len(resends))
        self._to_send.extend(resends)
        self._report_give_up()

    def close(self, *, now: float) -> None:
        """Close locally: stop sending, resending and delivering. Idempotent."""
        self._process(Trigger.CLOSE)

    # ---------------------------------------------------------------- role hooks

    @abstractmethod
    def _dispatch(self, msg: ClientMessage, now: float) -> None:
        """Act on one in-order stream message of the far end (already acked)."""

    @abstractmethod
    def _acknowledged(self, now: float) -> None:
        """An ack freed a message: a role with a window sends what now fits."""

    # ---------------------------------------------------------------- receive internals

    def _receive_ack(self, payload: bytes, now: float) -> None:
        try:
            seq = pl.parse_acknowledge(payload)
        except RemoteProtocolError:
            return  # streaming.go only logs a bad ack
        if self._outgoing.acknowledge(seq, now=now):
            self._acknowledged(now)

    def _receive_stream(self, msg: ClientMessage, now: float) -> None:
        arrival = self._incoming.accept(msg)
        if arrival.acknowledged:
            # Ack before processing, as streaming.go does for handshake payloads.
            self._ack(msg, now)
        if arrival is not Arrival.IN_ORDER:
            return
        self._dispatch(msg, now)
        # A violation raises out of here and closes the channel; what stays buffered is
        # never delivered.
        while (nxt := self._incoming.pop_next()) is not None:
            self._dispatch(nxt, now)

    # ---------------------------------------------------------------- send internals

    def _require_open(self, what: str) -> None:
        if self.state is State.CLOSED:
            raise InvalidStateError(f"cannot {what}: the channel is closed")

    def _require(self, trigger: Trigger, what: str) -> None:
        if not self._machine.allows(trigger):
            raise InvalidStateError(f"cannot {what} in state {self.state.name}")

    def _send_stream(self, ptype: int, payload: bytes, now: float) -> None:
        seq = self._out_seq
        flags = self._first_flags if seq == 0 else 0
        data = self._emit(self._send_type, seq, flags, ptype, payload, now)
        # A role's window (if any) is applied before this; control messages bypass it (they
        # are few and must not wait behind input).
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

    def _report_give_up(self) -> None:
        gave_up = self._outgoing.gave_up
        if gave_up is not None and not self._gave_up_reported:
            self._gave_up_reported = True
            self._events.append(RetransmissionGaveUp(*gave_up))

    def _process(self, trigger: Trigger) -> bool:
        """Apply ``trigger`` through the transition table; return whether the state changed."""
        old = self._machine.process(trigger)
        new = self._machine.state
        if new is old:
            return False
        if self.debug:
            self.logger.debug("%s: %s -> %s", self.side.value, old.name, new.name)
        return True

    def _fail(self, exc: SessionError) -> None:
        self.logger.warning("%s: protocol violation: %s", self.side.value, exc)
        self._events.append(ProtocolViolated(exc))
        self._process(Trigger.CLOSE)


__all__ = ["ACK_FLAGS", "STREAM_DATA_PAYLOAD_SIZE", "DataChannel", "Side"]
