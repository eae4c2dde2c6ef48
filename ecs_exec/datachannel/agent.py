"""The agent end of the data channel, as the real SSM agent plays it; used by the sandbox.

Theory of operation
-------------------
:class:`AgentChannel` adds to the shared core (:mod:`~ecs_exec.datachannel.channel`) what
only the agent does (docs/protocol.md#9-handshake, docs/agent.md):

* output goes out as ``output_stream_data`` at once, one message per 1024 bytes: the agent
  has no window and never waits for acks; its first stream message carries the SYN flag;
* it resends only its oldest unacknowledged message, on a 100 ms tick
  (:attr:`~ecs_exec.datachannel.retransmit.RetransmitPolicy.OLDEST_ONLY`), as the real agent;
* :meth:`AgentChannel.start_handshake` sends the HandshakeRequest; until HandshakeComplete it
  discards stream input (acked, not delivered) and refuses to send output, as the real agent
  does; with a KMS key id the client's CiphertextBlob is reported as
  :class:`~ecs_exec.datachannel.events.DataKeyReceived`, the driver decrypts it and calls
  :meth:`AgentChannel.provide_data_key`, which sends the encryption challenge;
* without a handshake the first output opens the session (the legacy path);
* input, terminal sizes and flags from the client are delivered as events, input decrypted
  once a key is in use; :meth:`AgentChannel.send_channel_closed` ends the session as the
  service does.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import ecs_exec.datachannel.payloads as pl
from ecs_exec.datachannel.channel import STREAM_DATA_PAYLOAD_SIZE, DataChannel, Side
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    DataKeyReceived,
    FlagReceived,
    HandshakeCompleted,
    InputReceived,
    TerminalResized,
)
from ecs_exec.datachannel.handshake import AgentHandshake, complete_payload
from ecs_exec.datachannel.message import ClientMessage, MessageType, PayloadType
from ecs_exec.datachannel.retransmit import RESEND_MAX_ATTEMPT, RetransmitPolicy
from ecs_exec.datachannel.state import AGENT_TRANSITIONS, State, Trigger
from ecs_exec.errors import InvalidStateError

AGENT_VERSION = "3.3.40.0"  #: the AgentVersion reported by default
SYN_FLAG = 1  #: Flags of the agent's first output_stream_data

#: Only these go out encrypted once a key is in use (docs/protocol.md#10-encryption).
_ENCRYPTED_TYPES = frozenset({PayloadType.OUTPUT, PayloadType.STDERR, PayloadType.EXIT_CODE})


class AgentChannel(DataChannel):
    """The agent end of a data channel (relayed by the service); the sandbox plays it.

    Args:
        session_id: the SessionId (channel_closed).
        client_id: the ClientId of the client's OpenDataChannel frame (channel_closed).
        wall_clock: epoch seconds, used only for CreatedDate.
        message_id, random_bytes, retransmit_policy, max_resends, logger: as for
            :class:`~ecs_exec.datachannel.channel.DataChannel`; the policy defaults to the real
            agent's OLDEST_ONLY.
    """

    side = Side.AGENT
    default_policy = RetransmitPolicy.OLDEST_ONLY
    transitions = AGENT_TRANSITIONS
    _send_type = MessageType.OUTPUT_STREAM_DATA
    _recv_type = MessageType.INPUT_STREAM_DATA
    _first_flags = SYN_FLAG

    def __init__(
        self,
        *,
        session_id: str,
        client_id: str,
        wall_clock: Callable[[], float],
        message_id: Callable[[], UUID] | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        retransmit_policy: RetransmitPolicy | None = None,
        max_resends: int = RESEND_MAX_ATTEMPT,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(
            session_id=session_id,
            client_id=client_id,
            wall_clock=wall_clock,
            message_id=message_id,
            random_bytes=random_bytes,
            retransmit_policy=retransmit_policy,
            max_in_flight=None,
            max_resends=max_resends,
            logger=logger,
        )
        self._handshake = AgentHandshake(random_bytes)

    # ---------------------------------------------------------------- inputs

    def send_output(
        self, data: bytes, *, now: float, payload_type: PayloadType = PayloadType.OUTPUT
    ) -> None:
        """Send output; one output_stream_data per 1024 bytes (one per call normally).

        Raises:
            InvalidStateError: closed, or a handshake is still running.
        """
        self._require(Trigger.OUTPUT, "send output")
        self._process(Trigger.OUTPUT)  # the first output opens a session without handshake
        cipher = self._cipher if payload_type in _ENCRYPTED_TYPES else None
        size = STREAM_DATA_PAYLOAD_SIZE
        for i in range(0, len(data), size):
            chunk = data[i : i + size]
            if cipher is not None:
                chunk = cipher.encrypt(chunk)
            self._send_stream(payload_type, chunk, now)

    def send_flag(self, flag: int, *, now: float) -> None:
        """Send a PT10 flag (uint32), e.g. ``payloads.Flag.CONNECT_TO_PORT_ERROR``.

        Raises:
            LocalProtocolError: the flag is out of range.
            InvalidStateError: the channel is closed.
        """
        self._require_open("send a flag")
        self._send_stream(PayloadType.FLAG, pl.flag_payload(flag), now)

    def start_handshake(
        self,
        *,
        session_type: str = "InteractiveCommands",
        kms_key_id: str | None = None,
        agent_version: str = AGENT_VERSION,
        now: float,
    ) -> None:
        """Send the HandshakeRequest; KMSEncryption only with a key id.

        Raises:
            InvalidStateError: the session already started (or the channel is closed).
        """
        self._require(Trigger.HANDSHAKE_REQUEST, "start a handshake")
        request = self._handshake.request(
            session_type=session_type, kms_key_id=kms_key_id, agent_version=agent_version, now=now
        )
        self.session_type = session_type
        self.agent_version = agent_version
        self._process(Trigger.HANDSHAKE_REQUEST)
        self._send_stream(PayloadType.HANDSHAKE_REQUEST, request, now)

    def provide_data_key(self, plaintext: bytes, ciphertext_blob: bytes, *, now: float) -> None:
        """Hand over the data key (KMS Decrypt of the client's blob); sends the challenge.

        Args:
            plaintext: the 64-byte data key.
            ciphertext_blob: the CiphertextBlob it was decrypted from.
            now: the current monotonic time.

        Raises:
            InvalidStateError: closed, or no data key was received.
            LocalProtocolError: the key is not 64 bytes.
        """
        self._require_open("provide a data key")
        if not self._handshake.key_requested:
            raise InvalidStateError("no data key was requested")
        cipher = CipherPair.from_data_key(plaintext, client=False, nonce_source=self._random_bytes)
        self._cipher = cipher
        self._send_stream(PayloadType.ENC_CHALLENGE_REQUEST, self._handshake.challenge(cipher), now)

    def send_channel_closed(self, output: str = "", *, now: float) -> None:
        """Send ``channel_closed`` and close, as the service does. Not retransmitted.

        Raises:
            InvalidStateError: the channel is already closed.
        """
        self._require_open("send channel_closed")
        created = self._created()
        content = pl.ChannelClosedContent(
            message_id=str(self._message_id()),
            created_date=datetime.fromtimestamp(created / 1000, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            destination_id=self.client_id,
            session_id=self.session_id,
            output=output,
        )
        self._emit(MessageType.CHANNEL_CLOSED, 0, 0, PayloadType.UNSET, content.to_bytes(), now)
        self._process(Trigger.CLOSE)

    # ---------------------------------------------------------------- receive

    def _acknowledged(self, now: float) -> None:
        """Nothing waits for room: the agent has no window."""

    def _dispatch(self, msg: ClientMessage, now: float) -> None:
        ptype = msg.payload_type
        if ptype == PayloadType.OUTPUT:
            if self.state is State.HANDSHAKING:
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
            self._on_handshake(self._handshake.receive_response(msg.payload, now), now)
        elif ptype == PayloadType.ENC_CHALLENGE_RESPONSE:
            self._on_handshake(
                self._handshake.receive_challenge_response(self._cipher, msg.payload, now), now
            )

    def _on_handshake(self, event: DataKeyReceived | HandshakeCompleted | None, now: float) -> None:
        if isinstance(event, HandshakeCompleted):
            self._send_stream(PayloadType.HANDSHAKE_COMPLETE, complete_payload(event), now)
            self._process(Trigger.HANDSHAKE_COMPLETE)
        if event is not None:
            self._events.append(event)


__all__ = ["AGENT_VERSION", "SYN_FLAG", "AgentChannel"]
