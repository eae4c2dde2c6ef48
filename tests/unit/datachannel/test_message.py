"""Golden vectors and error cases for the AgentMessage codec (docs/protocol.md#4-header)."""

from __future__ import annotations

import re
from hashlib import sha256
from pathlib import Path
from uuid import UUID

import pytest

from ecs_exec.datachannel.message import (
    HEADER_LENGTH,
    ClientMessage,
    MalformedMessage,
    MessageType,
    PayloadType,
    decode,
    encode,
    validate,
)
from ecs_exec.datachannel.payloads import acknowledge_payload
from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

FIXTURES = Path(__file__).parents[2] / "fixtures" / "messages"
EXAMPLE_ID = UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")
SIZE = b'{"cols":80,"rows":24}'


def load_hex(name: str) -> bytes:
    lines = (FIXTURES / name).read_text().splitlines()
    return bytes.fromhex(re.sub(r"\s", "", "".join(x for x in lines if not x.startswith("#"))))


def example() -> ClientMessage:
    return ClientMessage.create(
        MessageType.INPUT_STREAM_DATA,
        sequence_number=2,
        payload_type=PayloadType.SIZE,
        payload=SIZE,
        message_id=EXAMPLE_ID,
        created_date=1503434274948,
    )


def frame() -> bytearray:
    return bytearray(encode(example()))


def test_worked_example_encodes_byte_for_byte() -> None:
    golden = load_hex("size_example.hex")
    assert len(golden) == 141
    assert encode(example()) == golden


def test_worked_example_decodes_back() -> None:
    msg = decode(load_hex("size_example.hex"))
    assert msg == example()
    assert msg.message_type == "input_stream_data"
    assert msg.message_id == EXAMPLE_ID
    assert msg.header_length == HEADER_LENGTH == 116
    assert msg.payload_length == 21
    assert msg.payload_digest == sha256(SIZE).digest()


def test_str_never_shows_payload() -> None:
    msg = example()
    assert str(msg) == "input_stream_data seq=2 [21 bytes]"
    assert "cols" not in msg.describe()
    assert "pt=3" in msg.describe()
    assert str(EXAMPLE_ID) in msg.describe()


def test_ack_payload_of_the_worked_example() -> None:
    assert acknowledge_payload("output_stream_data", EXAMPLE_ID, 5) == (
        b'{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":'
        b'"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":5,'
        b'"IsSequentialMessage":true}'
    )
    assert len(acknowledge_payload("output_stream_data", EXAMPLE_ID, 5)) == 176


def test_empty_payload_digest_is_sha256_of_nothing() -> None:
    msg = ClientMessage.create(
        "acknowledge",
        sequence_number=0,
        payload_type=0,
        payload=b"",
        message_id=EXAMPLE_ID,
        created_date=1,
        flags=3,
    )
    raw = encode(msg)
    assert len(raw) == 120
    assert raw[80:112].hex().startswith("e3b0c442")
    assert decode(raw).payload == b""


@pytest.mark.parametrize("size", [0, 1, 119])
def test_truncated_header(size: int) -> None:
    with pytest.raises(MalformedMessage, match="truncated"):
        decode(encode(example())[:size])


def test_header_length_past_end() -> None:
    raw = frame()
    raw[0:4] = (0xFFFFFFFF).to_bytes(4, "big")
    with pytest.raises(MalformedMessage, match="header length"):
        decode(bytes(raw))


def test_header_length_moves_payload_start() -> None:
    raw = frame()
    raw[0:4] = (120).to_bytes(4, "big")  # payload now starts 4 bytes later
    msg = decode(bytes(raw), check=False)
    assert msg.payload == SIZE[4:]
    with pytest.raises(MalformedMessage, match="digest"):
        validate(msg)


def test_zero_header_length_is_invalid() -> None:
    raw = frame()
    raw[0:4] = bytes(4)
    with pytest.raises(MalformedMessage, match="header length is 0"):
        decode(bytes(raw))


def test_digest_mismatch() -> None:
    raw = frame()
    raw[-1] ^= 1
    with pytest.raises(MalformedMessage, match="digest"):
        decode(bytes(raw))
    assert issubclass(MalformedMessage, RemoteProtocolError)


def test_payload_length_zero_skips_digest_check() -> None:
    # messageparser.go Validate only checks the digest when PayloadLength != 0
    # (docs/protocol.md#43-validation).
    raw = frame()
    raw[-1] ^= 1
    raw[116:120] = bytes(4)
    msg = decode(bytes(raw))
    assert msg.payload_length == 0
    assert msg.payload[:-1] == SIZE[:-1]


def test_created_date_zero_is_invalid() -> None:
    raw = frame()
    raw[40:48] = bytes(8)
    with pytest.raises(MalformedMessage, match="created date"):
        decode(bytes(raw))


def test_empty_type_is_invalid() -> None:
    raw = frame()
    raw[4:36] = b" " * 32
    with pytest.raises(MalformedMessage, match="empty"):
        decode(bytes(raw))


def test_non_ascii_type() -> None:
    raw = frame()
    raw[4] = 0xFF
    with pytest.raises(MalformedMessage, match="ASCII"):
        decode(bytes(raw))


def test_nul_padded_type_accepted() -> None:
    raw = frame()
    raw[4:36] = b"input_stream_data".ljust(32, b"\x00")
    assert decode(bytes(raw)).message_type == "input_stream_data"


@pytest.mark.parametrize("mtype", ["start_publication", "pause_publication"])
def test_publication_messages_skip_validation(mtype: str) -> None:
    raw = bytearray(120)
    raw[4:36] = mtype.encode().ljust(32, b"\x00")
    msg = decode(bytes(raw))
    assert msg.message_type == mtype
    assert msg.created_date == 0


def test_unknown_types_are_kept() -> None:
    msg = ClientMessage.create(
        "agent_session_state",
        sequence_number=-1,
        payload_type=99,
        payload=b"x",
        message_id=EXAMPLE_ID,
        created_date=7,
    )
    back = decode(encode(msg))
    assert back.message_type == "agent_session_state"
    assert back.payload_type == 99
    assert back.sequence_number == -1


def test_encode_rejects_oversized_fields() -> None:
    with pytest.raises(LocalProtocolError):
        encode(
            ClientMessage.create(
                "x" * 33,
                sequence_number=0,
                payload_type=0,
                payload=b"",
                message_id=EXAMPLE_ID,
                created_date=1,
            )
        )
    with pytest.raises(LocalProtocolError):
        encode(
            ClientMessage.create(
                "acknowledge",
                sequence_number=2**63,
                payload_type=0,
                payload=b"",
                message_id=EXAMPLE_ID,
                created_date=1,
            )
        )


def test_enums_hold_wire_values() -> None:
    assert [int(p) for p in PayloadType] == list(range(13))
    assert MessageType.OUTPUT_STREAM_DATA == "output_stream_data"
    assert PayloadType.EXIT_CODE == 12


def test_message_id_source_makes_version_4_uuids() -> None:
    from ecs_exec.datachannel.message import MessageIdSource

    source = MessageIdSource()
    ids = {source() for _ in range(600)}  # crosses a batch boundary
    assert len(ids) == 600
    assert all(u.version == 4 and u.variant == "specified in RFC 4122" for u in ids)
    assert UUID(str(next(iter(ids)))) in ids


def test_encode_rejects_bad_digest_and_caches_only_a_few_types() -> None:
    bad = ClientMessage("acknowledge", 1, 1, 0, 3, EXAMPLE_ID, 0, b"", b"short", 0)
    with pytest.raises(LocalProtocolError, match="digest"):
        encode(bad)
    for i in range(80):
        msg = ClientMessage.create(
            f"type_{i}",
            sequence_number=0,
            payload_type=0,
            payload=b"",
            message_id=EXAMPLE_ID,
            created_date=1,
        )
        assert decode(encode(msg)).message_type == f"type_{i}"


def test_acknowledge_fast_path_errors() -> None:
    from ecs_exec.datachannel.message import acknowledge_payload_of

    ack = bytearray(
        encode(
            ClientMessage.create(
                "acknowledge",
                sequence_number=0,
                payload_type=0,
                payload=b"{}",
                message_id=EXAMPLE_ID,
                created_date=1,
                flags=3,
            )
        )
    )
    assert acknowledge_payload_of(bytes(ack)) == b"{}"
    assert acknowledge_payload_of(encode(example())) is None
    with pytest.raises(MalformedMessage, match="truncated"):
        acknowledge_payload_of(bytes(ack[:60]))
    ack[0:4] = (500).to_bytes(4, "big")
    with pytest.raises(MalformedMessage, match="header length"):
        acknowledge_payload_of(bytes(ack))
