"""Payloads of the data channel outside the handshake, with byte-exact serialisers.

The OpenDataChannel frame, acknowledge, channel_closed, terminal size and flags
(docs/protocol.md#3-connection, #5-message-types, #11-terminal-size-and-flags); the handshake
payloads live in :mod:`~ecs_exec.datachannel.handshake_payloads`. The official plugin marshals
JSON with Go's ``encoding/json`` (compact, struct field order, ``null`` for nil slices and
pointers, ``<``/``>``/``&`` escaped), so :func:`go_json` reproduces that and the serialisers
emit the exact bytes the plugin and agent do. Parsers validate types and raise
:class:`~ecs_exec.errors.RemoteProtocolError` on anything the far end should not have sent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any
from uuid import UUID

from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

_UINT32 = struct.Struct(">I")
_MAX_UINT32 = 0xFFFFFFFF


class Flag(IntEnum):
    """The values of a PT10 Flag payload (clientmessage.go ``PayloadTypeFlag``)."""

    DISCONNECT_TO_PORT = 1  #: the local port connection closed
    TERMINATE_SESSION = 2  #: the client ends the session
    CONNECT_TO_PORT_ERROR = 3  #: the agent could not reach the destination port


def go_json(obj: object) -> bytes:
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


def load_object(payload: bytes, what: str) -> dict[str, Any]:
    """Parse ``payload`` as a JSON object; ``what`` names it in the error."""
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RemoteProtocolError(f"{what} payload is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RemoteProtocolError(f"{what} payload is not a JSON object")
    return obj


def get_str(obj: dict[str, Any], key: str, what: str, default: str | None = None) -> str:
    """Return ``obj[key]`` as a string (``default`` when absent or null, if given)."""
    value = obj.get(key, default)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise RemoteProtocolError(f"{what}: {key} must be a string")
    return value


def b64decode(text: str, what: str) -> bytes:
    """Decode strict base64, raising RemoteProtocolError naming ``what``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RemoteProtocolError(f"{what} is not valid base64") from None


def b64encode(data: bytes) -> str:
    """Encode standard base64, as Go's ``[]byte`` JSON encoding does."""
    return base64.b64encode(data).decode("ascii")


# --- OpenDataChannel text frame (docs/protocol.md#32-opendatachannel-frame) ----------------------


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
    return go_json(
        {
            "MessageSchemaVersion": "1.0",
            "RequestId": request_id,
            "TokenValue": token,
            "ClientId": client_id,
            "ClientVersion": client_version,
        }
    ).decode("utf-8")


# --- acknowledge (docs/protocol.md#51-acknowledge) -----------------------------------------------


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
    """Return the acknowledged sequence number, the only field the plugin reads
    (docs/protocol.md#51-acknowledge).

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
    obj = load_object(payload, "acknowledge")
    seq = obj.get("AcknowledgedMessageSequenceNumber")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise RemoteProtocolError("acknowledge: AcknowledgedMessageSequenceNumber must be an int")
    return seq


# --- channel_closed (docs/protocol.md#52-channel_closed) -----------------------------------------


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
        return go_json(
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
    return get_str(load_object(payload, "channel_closed"), "Output", "channel_closed", "")


# --- terminal size and flags (docs/protocol.md#11-terminal-size-and-flags) -----------------------


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
    obj = load_object(payload, "size")
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
    "ChannelClosedContent",
    "Flag",
    "acknowledge_payload",
    "flag_payload",
    "open_data_channel_frame",
    "parse_acknowledge",
    "parse_channel_closed",
    "parse_flag",
    "parse_size",
    "size_payload",
]
