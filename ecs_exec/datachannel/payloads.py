"""JSON payload models of the data channel, with byte-exact serialisers.

The official plugin marshals these with Go's ``encoding/json`` (compact, struct field order,
``null`` for nil slices and pointers, ``<``/``>``/``&`` escaped), so :func:`_go_json`
reproduces that and the serialisers below emit the exact byte strings of the spec
(``ssm-protocol.md`` §4.2, §4.4, §5.2-5.4, §6.4, §9). Parsers validate types and raise
:class:`~ecs_exec.errors.RemoteProtocolError` on anything the far end should not have sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from uuid import UUID

from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

_UINT32 = struct.Struct(">I")
_MAX_UINT32 = 0xFFFFFFFF

#: The session types a HandshakeRequest may name (streaming.go ProcessSessionTypeHandshakeAction).
SESSION_TYPES = frozenset(
    {"Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port"}
)
SESSION_TYPE_ACTION = "SessionType"  #: ActionType of the session-type action
KMS_ENCRYPTION_ACTION = "KMSEncryption"  #: ActionType of the KMS action
#: CustomerMessage the agent sends when the session is encrypted ([agent] sessionplugin.go).
KMS_CUSTOMER_MESSAGE = "This session is encrypted using AWS KMS."


class ActionStatus(IntEnum):
    """ActionStatus of a processed client action (handshakemessage.go)."""

    SUCCESS = 1  #: the action was carried out
    FAILED = 2  #: the action failed; ``Error`` says why
    UNSUPPORTED = 3  #: unknown ActionType (the plugin puts this in ActionResult, status 0)


class Flag(IntEnum):
    """The values of a PT10 Flag payload (clientmessage.go ``PayloadTypeFlag``)."""

    DISCONNECT_TO_PORT = 1  #: the local port connection closed
    TERMINATE_SESSION = 2  #: the client ends the session
    CONNECT_TO_PORT_ERROR = 3  #: the agent could not reach the destination port


def _go_json(obj: object) -> bytes:
    """Serialise like Go ``json.Marshal``: compact, raw UTF-8, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (
            text.replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
            .replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029")
        )
    return text.encode("utf-8")


def _load_object(payload: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"{what} payload is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError(f"{what} payload is not a JSON object")
    return obj


def _get_str(obj: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise RemoteProtocolError(f"{what}: {key} must be a string")
    return value


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError(f"{what} is not valid base64") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- OpenDataChannel text frame (§2.2) ----------------------------------------------------


def open_data_channel_frame(
    *, request_id: str, token: str, client_id: str, client_version: str
) -> str:
    """Build the first websocket text frame, fields in the plugin's order (service.go).

    Args:
        request_id: a fresh UUIDv4 string, new on every open and reconnect.
        token: TokenValue from the session (or from ResumeSession after a reconnect).
        client_id: the per-process UUIDv4 string, the same on every reconnect.
        client_version: the plugin version to report, e.g. ``1.2.677.0``.

    Returns:
        The JSON text.
    """
    return _go_json(
        {
            "MessageSchemaVersion": "1.0",
            "RequestId": request_id,
            "TokenValue": token,
            "ClientId": client_id,
            "ClientVersion": client_version,
        }
    ).decode("utf-8")


# --- acknowledge (§4.2) -------------------------------------------------------------------


def acknowledge_payload(message_type: str, message_id: UUID, sequence_number: int) -> bytes:
    """Build the acknowledge JSON in the plugin's key order (streaming.go SendAcknowledgeMessage).

    This is on the per-message hot path, so it is formatted directly rather than through json:
    the message type is one of the sequenced types and the id a canonical UUID, so no
    escaping can be needed.

    Args:
        message_type: the acknowledged message's type.
        message_id: its MessageId.
        sequence_number: its SequenceNumber.

    Returns:
        ``{"AcknowledgedMessageType":...,"IsSequentialMessage":true}`` as bytes.
    """
    return (
        f'{{"AcknowledgedMessageType":"{message_type}","AcknowledgedMessageId":"{message_id}",'
        f'"AcknowledgedMessageSequenceNumber":{sequence_number},"IsSequentialMessage":true}}'
    ).encode("ascii")


_ACK_SHAPE = re.compile(
    rb'\{"AcknowledgedMessageType":"[a-z_]*","AcknowledgedMessageId":"[0-9a-f-]*",'
    rb'"AcknowledgedMessageSequenceNumber":(-?[0-9]{1,18}),"IsSequentialMessage":(?:true|false)\}'
)


def parse_acknowledge(payload: bytes) -> int:
    """Return the acknowledged sequence number, the only field the plugin reads (§7.2).

    Args:
        payload: the acknowledge message's payload.

    Returns:
        ``AcknowledgedMessageSequenceNumber``.

    Raises:
        RemoteProtocolError: not a JSON object, or the sequence number is not an integer.
    """
    # Fast path for the exact shape both the plugin and the agent write (one per message).
    match = _ACK_SHAPE.fullmatch(payload)
    if match is not None:
        return int(match[1])
    obj = _load_object(payload, "acknowledge")
    seq = obj.get("AcknowledgedMessageSequenceNumber")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise RemoteProtocolError("acknowledge: AcknowledgedMessageSequenceNumber must be an int")
    return seq


# --- channel_closed (§4.4) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelClosedContent:
    """The channel_closed payload; only ``output`` is used by the plugin.

    Args:
        message_id: MessageId string.
        created_date: CreatedDate, a *string* (ISO 8601) on the wire.
        destination_id: DestinationId.
        session_id: SessionId.
        output: Output, printed by the plugin when non-empty.
        schema_version: SchemaVersion.
    """

    message_id: str
    created_date: str
    destination_id: str
    session_id: str
    output: str
    schema_version: int = 1

    def to_bytes(self) -> bytes:
        """Serialise in the service's field order.

        Returns:
            The JSON payload.
        """
        return _go_json(
            {
                "MessageId": self.message_id,
                "CreatedDate": self.created_date,
                "DestinationId": self.destination_id,
                "SessionId": self.session_id,
                "MessageType": "channel_closed",
                "SchemaVersion": self.schema_version,
                "Output": self.output,
            }
        )


def parse_channel_closed(payload: bytes) -> str:
    """Return the ``Output`` text of a channel_closed payload.

    Raises:
        RemoteProtocolError: not a JSON object, or Output is not a string.
    """
    return _get_str(_load_object(payload, "channel_closed"), "Output", "channel_closed", "")


# --- handshake (§5) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestedClientAction:
    """One entry of ``RequestedClientActions``.

    Args:
        action_type: ActionType, e.g. ``SessionType`` or ``KMSEncryption``.
        action_parameters: ActionParameters as decoded JSON.
    """

    action_type: str
    action_parameters: Any


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """The PT5 HandshakeRequest payload (agent -> client).

    Args:
        agent_version: AgentVersion (``""`` when absent).
        actions: the requested actions, in order.
    """

    agent_version: str
    actions: tuple[RequestedClientAction, ...]

    @classmethod
    def build(
        cls,
        *,
        agent_version: str,
        session_type: str,
        kms_key_id: str | None = None,
        challenge: bytes | None = None,
    ) -> HandshakeRequest:
        """Build the request a real agent sends (SessionType, then KMSEncryption if keyed).

        Returns:
            The request.
        """
        actions = [
            RequestedClientAction(
                SESSION_TYPE_ACTION, {"SessionType": session_type, "Properties": None}
            )
        ]
        if kms_key_id is not None:
            params: dict[str, Any] = {"KMSKeyId": kms_key_id}
            if challenge is not None:
                params["Challenge"] = _b64encode(challenge)
            actions.append(RequestedClientAction(KMS_ENCRYPTION_ACTION, params))
        return cls(agent_version, tuple(actions))

    def to_bytes(self) -> bytes:
        """Serialise as the agent does.

        Returns:
            The JSON payload.
        """
        return _go_json(
            {
                "AgentVersion": self.agent_version,
                "RequestedClientActions": [
                    {"ActionType": a.action_type, "ActionParameters": a.action_parameters}
                    for a in self.actions
                ],
            }
        )


def parse_handshake_request(payload: bytes) -> HandshakeRequest:
    """Parse a PT5 payload.

    Raises:
        RemoteProtocolError: not an object, or actions are not objects with a string type.
    """
    obj = _load_object(payload, "HandshakeRequest")
    version = _get_str(obj, "AgentVersion", "HandshakeRequest", "")
    raw = obj.get("RequestedClientActions") or []
    if not isinstance(raw, list):
        raise RemoteProtocolError("HandshakeRequest: RequestedClientActions must be a list")
    actions = []
    for item in raw:
        if not isinstance(item, dict):
            raise RemoteProtocolError("HandshakeRequest: an action is not an object")
        kind = _get_str(item, "ActionType", "HandshakeRequest")
        actions.append(RequestedClientAction(kind, item.get("ActionParameters")))
    return HandshakeRequest(version, tuple(actions))


@dataclass(frozen=True, slots=True)
class ProcessedClientAction:
    """One entry of ``ProcessedClientActions``.

    Args:
        action_type: the ActionType this answers.
        action_status: 0, or an :class:`ActionStatus`.
        action_result: ActionResult: ``None``, a KMS result object, or (quirk) the int 3.
        error: Error text, ``""`` on success.
    """

    action_type: str
    action_status: int
    action_result: Any = None
    error: str = ""

    @classmethod
    def session_type_ok(cls) -> ProcessedClientAction:
        """Return the successful SessionType entry."""
        return cls(SESSION_TYPE_ACTION, ActionStatus.SUCCESS)

    @classmethod
    def kms_ok(cls, ciphertext_blob: bytes) -> ProcessedClientAction:
        """Return the successful KMSEncryption entry carrying the data key's CiphertextBlob."""
        return cls(
            KMS_ENCRYPTION_ACTION,
            ActionStatus.SUCCESS,
            {"KMSCipherTextKey": _b64encode(ciphertext_blob), "KMSCipherTextHash": None},
        )

    @classmethod
    def failed(cls, action_type: str, reason: str) -> ProcessedClientAction:
        """Return a failed entry, with the plugin's error wording."""
        return cls(
            action_type,
            ActionStatus.FAILED,
            None,
            f"Failed to process action {action_type}: {reason}",
        )

    @classmethod
    def unsupported(cls, action_type: str) -> ProcessedClientAction:
        """Return the plugin's (quirky) unsupported entry: status 0, ActionResult 3."""
        return cls(
            action_type, 0, int(ActionStatus.UNSUPPORTED), f"Unsupported action {action_type}"
        )


@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """The PT6 HandshakeResponse payload (client -> agent).

    Args:
        client_version: ClientVersion.
        actions: ProcessedClientActions, in request order.
        errors: Errors; serialised as ``null`` when empty, as Go does for a nil slice.
    """

    client_version: str
    actions: tuple[ProcessedClientAction, ...]
    errors: tuple[str, ...] = field(default=())

    def to_bytes(self) -> bytes:
        """Serialise byte-exactly as the plugin does (§5.3).

        Returns:
            The JSON payload.
        """
        return _go_json(
            {
                "ClientVersion": self.client_version,
                "ProcessedClientActions": [
                    {
                        "ActionType": a.action_type,
                        "ActionStatus": a.action_status,
                        "ActionResult": a.action_result,
                        "Error": a.error,
                    }
                    for a in self.actions
                ],
                "Errors": list(self.errors) or None,
            }
        )

    def kms_ciphertext(self) -> bytes | None:
        """Return the decoded ``KMSCipherTextKey`` of a successful KMS action, if any.

        Raises:
            RemoteProtocolError: the KMS result is not an object with a base64 key.
        """
        for action in self.actions:
            if action.action_type == KMS_ENCRYPTION_ACTION and action.action_status == 1:
                result = action.action_result
                if not isinstance(result, dict):
                    raise RemoteProtocolError(
                        "HandshakeResponse: KMS ActionResult is not an object"
                    )
                key = _get_str(result, "KMSCipherTextKey", "HandshakeResponse")
                return _b64decode(key, "HandshakeResponse KMSCipherTextKey")
        return None

    def succeeded(self, action_type: str) -> bool:
        """Return whether an action of that type was processed successfully."""
        return any(a.action_type == action_type and a.action_status == 1 for a in self.actions)


def parse_handshake_response(payload: bytes) -> HandshakeResponse:
    """Parse a PT6 payload (agent side).

    Raises:
        RemoteProtocolError: wrong JSON shapes.
    """
    obj = _load_object(payload, "HandshakeResponse")
    version = _get_str(obj, "ClientVersion", "HandshakeResponse", "")
    raw = obj.get("ProcessedClientActions") or []
    errors = obj.get("Errors") or []
    if not isinstance(raw, list) or not isinstance(errors, list):
        raise RemoteProtocolError("HandshakeResponse: actions and errors must be lists")
    actions = []
    for item in raw:
        if not isinstance(item, dict):
            raise RemoteProtocolError("HandshakeResponse: an action is not an object")
        status = item.get("ActionStatus", 0)
        if not isinstance(status, int) or isinstance(status, bool):
            raise RemoteProtocolError("HandshakeResponse: ActionStatus must be an int")
        actions.append(
            ProcessedClientAction(
                _get_str(item, "ActionType", "HandshakeResponse"),
                status,
                item.get("ActionResult"),
                _get_str(item, "Error", "HandshakeResponse", ""),
            )
        )
    return HandshakeResponse(version, tuple(actions), tuple(str(e) for e in errors))


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """The PT7 HandshakeComplete payload (agent -> client).

    Args:
        time_to_complete_ns: HandshakeTimeToComplete, a Go ``time.Duration`` (int ns).
        customer_message: CustomerMessage, printed by the client when non-empty.
    """

    time_to_complete_ns: int
    customer_message: str = ""

    def to_bytes(self) -> bytes:
        """Serialise as the agent does.

        Returns:
            The JSON payload.
        """
        return _go_json(
            {
                "HandshakeTimeToComplete": self.time_to_complete_ns,
                "CustomerMessage": self.customer_message,
            }
        )


def parse_handshake_complete(payload: bytes) -> HandshakeComplete:
    """Parse a PT7 payload; the duration must be a JSON integer, as Go requires (§5.4).

    Raises:
        RemoteProtocolError: not an object, a non-integer duration, a non-string message.
    """
    obj = _load_object(payload, "HandshakeComplete")
    ttc = obj.get("HandshakeTimeToComplete", 0)
    if not isinstance(ttc, int) or isinstance(ttc, bool):
        raise RemoteProtocolError("HandshakeComplete: HandshakeTimeToComplete must be an integer")
    return HandshakeComplete(ttc, _get_str(obj, "CustomerMessage", "HandshakeComplete", ""))


# --- encryption challenge (§6.4) ----------------------------------------------------------


def challenge_payload(sealed: bytes) -> bytes:
    """Build ``{"Challenge":"<base64>"}`` for PT8 or PT9.

    Args:
        sealed: nonce || ciphertext || tag.

    Returns:
        The JSON payload.
    """
    return _go_json({"Challenge": _b64encode(sealed)})


def parse_challenge(payload: bytes) -> bytes:
    """Return the sealed challenge bytes of a PT8 or PT9 payload.

    Raises:
        RemoteProtocolError: bad JSON or base64.
    """
    text = _get_str(_load_object(payload, "EncChallenge"), "Challenge", "EncChallenge")
    return _b64decode(text, "EncChallenge Challenge")


# --- terminal size (§9) and flags (§3.5) --------------------------------------------------


def size_payload(cols: int, rows: int) -> bytes:
    """Build ``{"cols":C,"rows":R}`` (shellsession.go ``handleTerminalResize``).

    Raises:
        LocalProtocolError: a dimension is not a uint32.
    """
    if not (0 <= cols <= _MAX_UINT32 and 0 <= rows <= _MAX_UINT32):
        raise LocalProtocolError(f"terminal size {cols}x{rows} out of range")
    return b'{"cols":%d,"rows":%d}' % (cols, rows)


def parse_size(payload: bytes) -> tuple[int, int]:
    """Return ``(cols, rows)`` of a PT3 payload.

    Raises:
        RemoteProtocolError: not an object of two uint32 values.
    """
    obj = _load_object(payload, "size")
    cols, rows = obj.get("cols"), obj.get("rows")
    for value in (cols, rows):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_UINT32:
            raise RemoteProtocolError("size: cols and rows must be uint32")
    assert isinstance(cols, int)
    assert isinstance(rows, int)
    return cols, rows


def flag_payload(flag: int) -> bytes:
    """Encode a PT10 flag as a big-endian uint32.

    Raises:
        LocalProtocolError: the flag is not a uint32.
    """
    if not 0 <= flag <= _MAX_UINT32:
        raise LocalProtocolError(f"flag {flag} out of range")
    return _UINT32.pack(flag)


def parse_flag(payload: bytes) -> int:
    """Decode a PT10 payload.

    Raises:
        RemoteProtocolError: the payload is not exactly 4 bytes.
    """
    if len(payload) != 4:
        raise RemoteProtocolError(f"flag payload must be 4 bytes, got {len(payload)}")
    value: int = _UINT32.unpack(payload)[0]
    return value


__all__ = [
    "KMS_CUSTOMER_MESSAGE",
    "KMS_ENCRYPTION_ACTION",
    "SESSION_TYPES",
    "SESSION_TYPE_ACTION",
    "ActionStatus",
    "ChannelClosedContent",
    "Flag",
    "HandshakeComplete",
    "HandshakeRequest",
    "HandshakeResponse",
    "ProcessedClientAction",
    "RequestedClientAction",
    "acknowledge_payload",
    "challenge_payload",
    "flag_payload",
    "open_data_channel_frame",
    "parse_acknowledge",
    "parse_challenge",
    "parse_channel_closed",
    "parse_flag",
    "parse_handshake_complete",
    "parse_handshake_request",
    "parse_handshake_response",
    "parse_size",
    "size_payload",
]
