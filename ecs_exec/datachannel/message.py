"""The binary AgentMessage ("ClientMessage") codec of the Session Manager data channel.

Pure functions plus one value type: :func:`encode` turns a :class:`ClientMessage` into the
wire bytes, :func:`decode` parses them back and :func:`validate` applies the receive-side
checks of session-manager-plugin ``src/message/messageparser.go`` (``Validate``). Layout and
quirks are described in docs/protocol.md#4-header:

* every integer is big-endian, the header is 120 bytes and the writer always puts **116**
  (the offset of PayloadLength) in HeaderLength;
* MessageType is ASCII right-padded with spaces; NUL padding is accepted on read;
* the MessageId UUID is *half-swapped*: bytes 8..15 first, then 0..7
  (docs/protocol.md#42-messageid);
* the payload is everything from ``HeaderLength + 4`` to the end of the frame; the
  PayloadLength field is not used for slicing, and when it is 0 the digest is not checked.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from hashlib import sha256
from uuid import UUID, SafeUUID

from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

# Field offsets, named after the constants of session-manager-plugin
# src/message/clientmessage.go that messageparser.go reads and writes with.
HL_OFFSET = 0  #: HLOffset: uint32 HeaderLength
MESSAGE_TYPE_OFFSET = 4  #: MessageTypeOffset: 32 bytes of padded ASCII
SCHEMA_VERSION_OFFSET = 36  #: SchemaVersionOffset: uint32
CREATED_DATE_OFFSET = 40  #: CreatedDateOffset: uint64 epoch milliseconds
SEQUENCE_NUMBER_OFFSET = 48  #: SequenceNumberOffset: int64
FLAGS_OFFSET = 56  #: FlagsOffset: uint64
MESSAGE_ID_OFFSET = 64  #: MessageIdOffset: 16-byte half-swapped UUID
PAYLOAD_DIGEST_OFFSET = 80  #: PayloadDigestOffset: SHA-256 of the payload
PAYLOAD_TYPE_OFFSET = 112  #: PayloadTypeOffset: uint32
PAYLOAD_LENGTH_OFFSET = 116  #: PayloadLengthOffset: uint32 (not used to slice on read)
PAYLOAD_OFFSET = 120  #: where the payload starts when HeaderLength is 116

MESSAGE_TYPE_LENGTH = 32  #: MessageTypeLength
#: The HeaderLength every writer puts on the wire (clientmessage.go writes the offset of
#: PayloadLength, not of the payload: messageparser.go SerializeClientMessage).
HEADER_LENGTH = PAYLOAD_LENGTH_OFFSET
SCHEMA_VERSION = 1  #: the only schema version the plugin writes

# One precompiled layout for the whole 120-byte header: HL, type, schema, created, seq, flags,
# id (two 8-byte halves), digest, payload type, payload length.
_HEADER = struct.Struct(">I32sIQqQ8s8s32sII")
assert _HEADER.size == PAYLOAD_OFFSET


_new_object = object.__new__
_set_attribute = object.__setattr__
_VERSION_4 = bytes((x & 0x0F) | 0x40 for x in range(256))
_VARIANT_RFC4122 = bytes((x & 0x3F) | 0x80 for x in range(256))


def uuid_from_int(value: int) -> UUID:
    """Build a UUID without ``UUID.__init__``'s argument parsing (hot path; same object).

    Args:
        value: the 128-bit integer.

    Returns:
        ``UUID(int=value)``.
    """
    u = _new_object(UUID)
    _set_attribute(u, "int", value)
    _set_attribute(u, "is_safe", SafeUUID.unknown)
    return u


class MessageIdSource:
    """A faster ``uuid.uuid4``: version-4 UUIDs from batched ``secrets.token_bytes``.

    ``uuid4()`` makes one ``os.urandom`` system call per id; the data channel needs one id per
    message and per ack, so this draws 8 KiB at a time. Call the instance to get an id.
    """

    __slots__ = ("_buffer", "_position")

    _BATCH = 512

    def __init__(self) -> None:
        self._buffer = b""
        self._position = 0

    def raw(self) -> bytes:
        """Return the next id as its 16 canonical bytes (what ``UUID.bytes`` would give)."""
        pos = self._position
        if pos >= len(self._buffer):
            batch = bytearray(secrets.token_bytes(16 * self._BATCH))
            # Set the version (4) and variant (10xx) bits of every id at once, no Python loop.
            batch[6::16] = batch[6::16].translate(_VERSION_4)
            batch[8::16] = batch[8::16].translate(_VARIANT_RFC4122)
            self._buffer = bytes(batch)
            pos = 0
        self._position = pos + 16
        return self._buffer[pos : pos + 16]

    def __call__(self) -> UUID:
        return uuid_from_int(int.from_bytes(self.raw(), "big"))


class MalformedMessage(RemoteProtocolError):
    """A frame that cannot be a valid AgentMessage (truncated, bad digest, bad header)."""


class MessageType(StrEnum):
    """The MessageType strings of ``clientmessage.go`` (docs/protocol.md#5-message-types)."""

    INPUT_STREAM_DATA = "input_stream_data"  #: client -> agent, sequenced
    OUTPUT_STREAM_DATA = "output_stream_data"  #: agent -> client, sequenced
    ACKNOWLEDGE = "acknowledge"  #: both ways, seq 0, flags 3
    CHANNEL_CLOSED = "channel_closed"  #: service -> client, ends the session
    START_PUBLICATION = "start_publication"  #: service -> client, ignored by the client
    PAUSE_PUBLICATION = "pause_publication"  #: service -> client, ignored by the client


class PayloadType(IntEnum):
    """The PayloadType values of ``clientmessage.go`` (docs/protocol.md#6-payload-types)."""

    UNSET = 0  #: acknowledge, channel_closed, start/pause_publication
    OUTPUT = 1  #: terminal or stream bytes, both directions
    ERROR = 2  #: defined, never used by the plugin
    SIZE = 3  #: terminal size JSON, client -> agent
    PARAMETER = 4  #: defined, unused
    HANDSHAKE_REQUEST = 5  #: agent -> client
    HANDSHAKE_RESPONSE = 6  #: client -> agent
    HANDSHAKE_COMPLETE = 7  #: agent -> client
    ENC_CHALLENGE_REQUEST = 8  #: agent -> client
    ENC_CHALLENGE_RESPONSE = 9  #: client -> agent
    FLAG = 10  #: uint32 BE flag, both directions
    STDERR = 11  #: agent -> client, shown like Output
    EXIT_CODE = 12  #: agent -> client, ASCII ``EXIT_CODE: <n>``


#: Space- and NUL-padded forms of the known types, to skip the strip/decode per message.
_TYPE_NAMES: dict[bytes, str] = {
    t.value.encode().ljust(MESSAGE_TYPE_LENGTH, pad): t.value
    for t in MessageType
    for pad in (b" ", b"\0")
}
#: Types that skip validation entirely (messageparser.go ``Validate``).
_UNVALIDATED_TYPES = frozenset({MessageType.START_PUBLICATION, MessageType.PAUSE_PUBLICATION})


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """One AgentMessage as it travels over the websocket.

    Args:
        message_type: the MessageType string (see :class:`MessageType`; others are kept).
        schema_version: SchemaVersion, 1 for everything the plugin writes.
        created_date: CreatedDate in epoch milliseconds; 0 makes the message invalid.
        sequence_number: SequenceNumber (0 for acknowledge and control messages).
        flags: Flags; bit 0 SYN, bit 1 FIN (acks use 3).
        message_id: the MessageId, in canonical (unswapped) form.
        payload_type: PayloadType (see :class:`PayloadType`; others are kept).
        payload: the payload bytes.
        payload_digest: SHA-256 of the payload; :meth:`create` computes it.
        payload_length: the PayloadLength field as read (encode always writes the real length).
        header_length: the HeaderLength field as read (encode always writes 116).
    """

    message_type: str
    schema_version: int
    created_date: int
    sequence_number: int
    flags: int
    message_id: UUID
    payload_type: int
    payload: bytes
    payload_digest: bytes
    payload_length: int = -1
    header_length: int = HEADER_LENGTH

    @classmethod
    def create(
        cls,
        message_type: str,
        *,
        sequence_number: int,
        payload_type: int,
        payload: bytes,
        message_id: UUID,
        created_date: int,
        flags: int = 0,
        schema_version: int = SCHEMA_VERSION,
    ) -> ClientMessage:
        """Build an outgoing message, computing the digest of ``payload``.

        Returns:
            The message, ready for :func:`encode`.
        """
        return cls(
            message_type,
            schema_version,
            created_date,
            sequence_number,
            flags,
            message_id,
            payload_type,
            payload,
            sha256(payload).digest(),
            len(payload),
        )

    def __str__(self) -> str:
        # Never print payload contents: they carry keystrokes, keys and tokens
        # (websockets frames.py prints a preview; here only the size is safe).
        return f"{self.message_type} seq={self.sequence_number} [{len(self.payload)} bytes]"

    def describe(self) -> str:
        """Return a longer one-line description for DEBUG logs (still without payload bytes).

        Returns:
            ``type seq=N pt=P flags=F id=UUID [n bytes]``.
        """
        return (
            f"{self.message_type} seq={self.sequence_number} pt={self.payload_type} "
            f"flags={self.flags} id={self.message_id} [{len(self.payload)} bytes]"
        )


def encode(msg: ClientMessage) -> bytes:
    """Serialise a message exactly like messageparser.go ``SerializeClientMessage``.

    The digest written is ``msg.payload_digest`` (so tests can build bad frames); the
    PayloadLength written is always ``len(msg.payload)``.

    Args:
        msg: the message to serialise.

    Returns:
        The wire bytes, ``120 + len(payload)`` long.

    Raises:
        LocalProtocolError: a field does not fit its wire width (a caller bug).
    """
    return _pack(
        msg.message_type,
        msg.schema_version,
        msg.created_date,
        msg.sequence_number,
        msg.flags,
        msg.message_id.bytes,
        msg.payload_digest,
        msg.payload_type,
        msg.payload,
    )


def encode_fields(
    message_type: str,
    *,
    sequence_number: int,
    flags: int,
    message_id: bytes,
    payload_type: int,
    payload: bytes,
    created_date: int,
) -> bytes:
    """Serialise without building a :class:`ClientMessage` (the channel's hot path).

    ``message_id`` is the UUID's 16 canonical bytes (``UUID.bytes``).

    Returns:
        The same bytes as ``encode(ClientMessage.create(...))``.

    Raises:
        LocalProtocolError: a field does not fit its wire width.
    """
    return _pack(
        message_type,
        SCHEMA_VERSION,
        created_date,
        sequence_number,
        flags,
        message_id,
        sha256(payload).digest(),
        payload_type,
        payload,
    )


_PADDED_TYPES: dict[str, bytes] = {}


def _pack(
    message_type: str,
    schema_version: int,
    created_date: int,
    sequence_number: int,
    flags: int,
    idb: bytes,
    digest: bytes,
    payload_type: int,
    payload: bytes,
) -> bytes:
    padded = _PADDED_TYPES.get(message_type)
    if padded is None:
        raw = message_type.encode("ascii")
        if len(raw) > MESSAGE_TYPE_LENGTH:
            raise LocalProtocolError(f"message type {message_type!r} is longer than 32 bytes")
        padded = raw.ljust(MESSAGE_TYPE_LENGTH, b" ")
        if len(_PADDED_TYPES) < 64:
            _PADDED_TYPES[message_type] = padded
    if len(digest) != 32:
        raise LocalProtocolError("payload digest must be 32 bytes")
    try:
        header = _HEADER.pack(
            HEADER_LENGTH,
            padded,
            schema_version,
            created_date,
            sequence_number,
            flags,
            idb[8:16],  # "least significant long" first (clientmessage.go putUuid)
            idb[0:8],
            digest,
            payload_type,
            len(payload),
        )
    except struct.error as exc:
        raise LocalProtocolError(
            f"cannot encode {message_type} seq={sequence_number}: {exc}"
        ) from exc
    return header + payload


def decode(data: bytes, *, check: bool = True) -> ClientMessage:
    """Parse wire bytes like messageparser.go ``DeserializeClientMessage``.

    Args:
        data: one binary websocket frame.
        check: also apply :func:`validate` (the receive path always does).

    Returns:
        The message.

    Raises:
        MalformedMessage: the frame is truncated, its HeaderLength points past the end, its
            MessageType is not ASCII, or (with ``check``) :func:`validate` rejects it.
    """
    if len(data) < PAYLOAD_OFFSET:
        raise MalformedMessage(f"truncated message: {len(data)} bytes, header needs 120")
    (hl, mtype, schema, created, seq, flags, lo, hi, digest, ptype, plen) = _HEADER.unpack_from(
        data
    )
    # The payload starts after HeaderLength + the PayloadLength field, whatever HL says
    # (messageparser.go: input[headerLength+PayloadLengthLength:]).
    start = hl + 4
    if start > len(data):
        raise MalformedMessage(
            f"header length {hl} points past the end of a {len(data)}-byte frame"
        )
    text = _TYPE_NAMES.get(mtype)
    if text is None:
        try:
            # The reader trims NULs, then whitespace (messageparser.go getString + TrimSpace).
            text = mtype.strip(b"\x00").decode("ascii").strip()
        except UnicodeDecodeError:
            raise MalformedMessage("message type is not ASCII") from None
    msg = ClientMessage(
        text,
        schema,
        created,
        seq,
        flags,
        uuid_from_int(int.from_bytes(hi + lo, "big")),
        ptype,
        data[start:],
        digest,
        plen,
        hl,
    )
    if check:
        validate(msg)
    return msg


_ACK_PADDED = frozenset(k for k, v in _TYPE_NAMES.items() if v == MessageType.ACKNOWLEDGE)
_CHECK_FIELDS = struct.Struct(">I36xQ32x32s4xI")  # HL, CreatedDate, digest, PayloadLength
assert _CHECK_FIELDS.size == PAYLOAD_OFFSET


def acknowledge_payload_of(data: bytes) -> bytes | None:
    """Return the payload of a valid ``acknowledge`` frame without building a message.

    The receive path gets one ack per message sent, so this skips the dataclass and UUID
    work of :func:`decode` while applying exactly the same checks.

    Args:
        data: one binary frame.

    Returns:
        The payload, or None if the frame is not an acknowledge (use :func:`decode`).

    Raises:
        MalformedMessage: an acknowledge that :func:`decode` would reject.
    """
    if data[MESSAGE_TYPE_OFFSET:SCHEMA_VERSION_OFFSET] not in _ACK_PADDED:
        return None
    if len(data) < PAYLOAD_OFFSET:
        raise MalformedMessage(f"truncated message: {len(data)} bytes, header needs 120")
    hl, created, digest, plen = _CHECK_FIELDS.unpack_from(data)
    if hl + 4 > len(data):
        raise MalformedMessage(
            f"header length {hl} points past the end of a {len(data)}-byte frame"
        )
    payload = data[hl + 4 :]
    if hl == 0 or created == 0 or (plen != 0 and sha256(payload).digest() != digest):
        raise MalformedMessage("invalid acknowledge frame")
    return payload


def validate(msg: ClientMessage) -> None:
    """Apply the receive checks of messageparser.go ``Validate`` (docs/protocol.md#43-validation).

    start/pause_publication skip validation. Everything else needs a non-zero HeaderLength, a
    non-empty type, a non-zero CreatedDate and, when the PayloadLength field is non-zero, a
    matching SHA-256 digest. SchemaVersion and Flags are never checked.

    Args:
        msg: a decoded message.

    Raises:
        MalformedMessage: the message must be dropped without an ack.
    """
    if msg.message_type in _UNVALIDATED_TYPES:
        return
    if msg.header_length == 0:
        raise MalformedMessage(f"{msg}: header length is 0")
    if not msg.message_type:
        raise MalformedMessage("message type is empty")
    if msg.created_date == 0:
        raise MalformedMessage(f"{msg}: created date is 0")
    # Quirk kept on purpose: a zero PayloadLength field disables the digest check.
    if msg.payload_length != 0 and sha256(msg.payload).digest() != msg.payload_digest:
        raise MalformedMessage(f"{msg}: payload digest mismatch")


__all__ = [
    "HEADER_LENGTH",
    "ClientMessage",
    "MalformedMessage",
    "MessageIdSource",
    "MessageType",
    "PayloadType",
    "acknowledge_payload_of",
    "decode",
    "encode",
    "encode_fields",
    "uuid_from_int",
    "validate",
]
