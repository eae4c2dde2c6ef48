"""The client end of the data channel: what session-manager-plugin does, sans-I/O.

Theory of operation
-------------------
:class:`ClientChannel` adds to the shared core (:mod:`~ecs_exec.datachannel.channel`) what
only the client does (docs/protocol.md#9-handshake, #10-encryption):

* it writes the OpenDataChannel text frame first on every (re)connect;
* stdin, terminal sizes and flags go out as ``input_stream_data``, queued and sent as the
  window allows (:data:`DEFAULT_MAX_IN_FLIGHT` unacknowledged messages); input is accepted
  before the session type is known, and held while a handshake runs (the agent would ack and
  discard it, and it may need a key not known yet);
* it answers the agent's HandshakeRequest action by action
  (:class:`~ecs_exec.datachannel.handshake.ClientHandshake`); a KMSEncryption action makes the
  response wait for :meth:`ClientChannel.provide_data_key` or
  :meth:`ClientChannel.reject_data_key`, and the encryption challenge is answered with the key;
* without a handshake, the first output starts a ``Standard_Stream`` session (the legacy path
  ECS Exec uses without KMS);
* output, stderr and exit-code payloads are decrypted once a key is in use, and delivered as
  :class:`~ecs_exec.datachannel.events.OutputReceived`.

Messages the reorder buffer holds back get the same handling as in-order ones once the gap
fills, handshake payloads included; the plugin hands them to its display handler instead,
which only breaks its own handshake.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable
from uuid import UUID

import ecs_exec.datachannel.handshake_payloads as hp
import ecs_exec.datachannel.payloads as pl
from ecs_exec.datachannel.channel import STREAM_DATA_PAYLOAD_SIZE, DataChannel, Side
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    FlagReceived,
    HandshakeCompleted,
    OutputReceived,
    SessionStarted,
)
from ecs_exec.datachannel.handshake import ClientHandshake
from ecs_exec.datachannel.message import ClientMessage, MessageType, PayloadType
from ecs_exec.datachannel.retransmit import RESEND_MAX_ATTEMPT, RetransmitPolicy
from ecs_exec.datachannel.state import CLIENT_TRANSITIONS, State, Trigger
from ecs_exec.errors import HandshakeError, InvalidStateError

#: The ClientVersion we report (a 4-part version: docs/protocol.md#15-versions-and-constants).
CLIENT_VERSION = "1.2.677.0"
#: Client window, in unacknowledged input messages: about 1 MiB, which keeps ~10 MB/s of
#: input flowing over a 100 ms round trip (256 capped it at ~2.5 MB/s at 50 ms latency).
DEFAULT_MAX_IN_FLIGHT = 1024

_OUTPUT_TYPES = frozenset({PayloadType.OUTPUT, PayloadType.STDERR, PayloadType.EXIT_CODE})


class ClientChannel(DataChannel):
    """The client (session-manager-plugin) end of a data channel.

    Args:
        session_id: the SessionId (KMS encryption context).
        token: TokenValue for the OpenDataChannel frame.
        client_id: the per-process ClientId (a UUID string), the same on every reconnect.
        wall_clock: epoch seconds, used only for CreatedDate.
        target_id: the Target (KMS encryption context), e.g. ``ecs:cluster_task_runtime``.
        client_version: ClientVersion to report.
        max_in_flight: window, in unacknowledged messages; None for none.
        message_id, random_bytes, retransmit_policy, max_resends, logger: as for
            :class:`~ecs_exec.datachannel.channel.DataChannel`.
    """

    side = Side.CLIENT
    default_policy = RetransmitPolicy.ALL_OVERDUE
    transitions = CLIENT_TRANSITIONS
    _send_type = MessageType.INPUT_STREAM_DATA
    _recv_type = MessageType.OUTPUT_STREAM_DATA

    def __init__(
        self,
        *,
        session_id: str,
        token: str,
        client_id: str,
        wall_clock: Callable[[], float],
        target_id: str = "",
        client_version: str = CLIENT_VERSION,
        max_in_flight: int | None = DEFAULT_MAX_IN_FLIGHT,
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
            max_in_flight=max_in_flight,
            max_resends=max_resends,
            logger=logger,
        )
        self.target_id = target_id
        self.client_version = client_version
        self._token = token
        self._pending: deque[tuple[int, bytes]] = deque()  # (ptype, plaintext)
        self._pending_bytes = 0
        self._handshake = ClientHandshake()

    # ---------------------------------------------------------------- properties

    @property
    def input_buffered(self) -> int:
        """Plaintext bytes accepted by ``send_*`` but not sent yet (window full or held)."""
        return self._pending_bytes

    @property
    def all_input_acknowledged(self) -> bool:
        """Whether everything this side sent or queued is acknowledged."""
        return not self._pending and super().all_input_acknowledged

    # ---------------------------------------------------------------- inputs

    def opening_frame(self, *, token: str | None = None, request_id: str | None = None) -> str:
        """Return the OpenDataChannel text frame to send first on every (re)connect.

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

    def send_input(self, data: bytes, *, now: float) -> None:
        """Queue stdin bytes as PT1 messages of at most 1024 bytes, and send what fits.

        Input is accepted before the session type is known. It is held while a handshake runs
        and when the window is full, and sent as acks free room.

        Raises:
            InvalidStateError: the channel is closed.
        """
        self._require_open("send input")
        size = STREAM_DATA_PAYLOAD_SIZE
        for i in range(0, len(data), size):
            self._queue(PayloadType.OUTPUT, data[i : i + size])
        self._flush(now)

    def send_terminal_size(self, cols: int, rows: int, *, now: float) -> None:
        """Queue a PT3 ``{"cols":C,"rows":R}`` message (never encrypted).

        Raises:
            LocalProtocolError: a dimension out of range.
            InvalidStateError: the channel is closed.
        """
        self._require_open("send a terminal size")
        self._queue(PayloadType.SIZE, pl.size_payload(cols, rows))
        self._flush(now)

    def send_flag(self, flag: int, *, now: float) -> None:
        """Queue a PT10 flag (uint32), e.g. ``payloads.Flag.TERMINATE_SESSION``.

        Raises:
            LocalProtocolError: the flag is out of range.
            InvalidStateError: the channel is closed.
        """
        self._require_open("send a flag")
        self._queue(PayloadType.FLAG, pl.flag_payload(flag))
        self._flush(now)

    def provide_data_key(self, plaintext: bytes, ciphertext_blob: bytes, *, now: float) -> None:
        """Hand over the KMS data key from GenerateDataKey; sends the held HandshakeResponse.

        Args:
            plaintext: the 64-byte data key.
            ciphertext_blob: its CiphertextBlob, sent to the agent.
            now: the current monotonic time.

        Raises:
            InvalidStateError: closed, or no data key was asked for.
            LocalProtocolError: the key is not 64 bytes.
        """
        self._require_open("provide a data key")
        if not self._handshake.key_requested:
            raise InvalidStateError("no data key was requested")
        self._cipher = CipherPair.from_data_key(
            plaintext, client=True, nonce_source=self._random_bytes
        )
        response = self._handshake.key_provided(ciphertext_blob, client_version=self.client_version)
        self._send_stream(PayloadType.HANDSHAKE_RESPONSE, response, now)

    def reject_data_key(self, reason: str, *, now: float) -> None:
        """Report that GenerateDataKey failed; the KMS action is answered as failed.

        Raises:
            InvalidStateError: closed, or no data key was requested.
        """
        self._require_open("reject a data key")
        if not self._handshake.key_requested:
            raise InvalidStateError("no data key was requested")
        response = self._handshake.key_rejected(reason, client_version=self.client_version)
        self._send_stream(PayloadType.HANDSHAKE_RESPONSE, response, now)

    # ---------------------------------------------------------------- receive

    def _dispatch(self, msg: ClientMessage, now: float) -> None:
        ptype = msg.payload_type
        if ptype in _OUTPUT_TYPES:
            if self._process(Trigger.OUTPUT):
                self._legacy_start(now)
            data = msg.payload
            if self._cipher is not None:
                data = self._cipher.decrypt(data)
            self._events.append(OutputReceived(data, PayloadType(ptype)))
        elif ptype == PayloadType.FLAG:
            self._events.append(FlagReceived(pl.parse_flag(msg.payload)))
        elif ptype == PayloadType.HANDSHAKE_REQUEST:
            self._on_handshake_request(msg, now)
        elif ptype == PayloadType.ENC_CHALLENGE_REQUEST:
            answer = ClientHandshake.answer_challenge(self._cipher, msg.payload)
            self._send_stream(PayloadType.ENC_CHALLENGE_RESPONSE, answer, now)
        elif ptype == PayloadType.HANDSHAKE_COMPLETE:
            self._on_handshake_complete(msg, now)

    def _legacy_start(self, now: float) -> None:
        # sessionhandler.go ProcessFirstMessage: the first output decides the session type.
        self.session_type = "Standard_Stream"
        self._events.append(SessionStarted("Standard_Stream", "", False, ""))
        self._flush(now)

    def _on_handshake_request(self, msg: ClientMessage, now: float) -> None:
        if not self._machine.allows(Trigger.HANDSHAKE_REQUEST):
            return  # never redo a handshake (docs/protocol.md#9-handshake)
        request = hp.parse_handshake_request(msg.payload)
        self._process(Trigger.HANDSHAKE_REQUEST)
        self.agent_version = request.agent_version
        handshake = self._handshake
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
        complete = hp.parse_handshake_complete(msg.payload)
        if not self._machine.allows(Trigger.HANDSHAKE_COMPLETE):
            return  # none is running: a stray or repeated HandshakeComplete
        if self.session_type is None:
            raise HandshakeError("unable to determine SessionType")
        self._process(Trigger.HANDSHAKE_COMPLETE)
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

    # ---------------------------------------------------------------- send

    def _acknowledged(self, now: float) -> None:
        if self._pending:
            self._flush(now)

    def _queue(self, ptype: int, payload: bytes) -> None:
        self._pending.append((ptype, payload))
        self._pending_bytes += len(payload)

    def _flush(self, now: float) -> None:
        # Held while a handshake runs; limited by the window otherwise.
        if self.state is State.HANDSHAKING:
            return
        pending = self._pending
        outgoing = self._outgoing
        cipher = self._cipher
        while pending and outgoing.has_room:
            ptype, payload = pending.popleft()
            self._pending_bytes -= len(payload)
            if cipher is not None and ptype == PayloadType.OUTPUT:
                payload = cipher.encrypt(payload)  # only PT1 goes out encrypted
            self._send_stream(ptype, payload, now)


__all__ = ["CLIENT_VERSION", "DEFAULT_MAX_IN_FLIGHT", "ClientChannel"]
