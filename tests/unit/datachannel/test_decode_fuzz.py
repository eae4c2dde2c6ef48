"""decode() returns a message or raises MalformedMessage, nothing else (websockets fuzz
contract); encode/decode round-trips."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings, strategies as st

from ecs_exec.datachannel.message import (
    ClientMessage,
    MalformedMessage,
    acknowledge_payload_of,
    decode,
    encode,
)

GOLDEN_HEADER = bytes.fromhex(
    "00000074696e7075745f73747265616d5f6461746120202020202020202020202020202000000001"
    "0000015e0baa788400000000000000020000000000000000a508b5f073f31b16dd01e56bff48483e"
)


@settings(max_examples=400)
@given(st.binary(max_size=400))
def test_decode_never_raises_anything_else(data: bytes) -> None:
    for candidate in (data, GOLDEN_HEADER + data, b"\x00\x00\x00\x74acknowledge" + data):
        try:
            decode(candidate)
        except MalformedMessage:
            pass
        try:
            acknowledge_payload_of(candidate)
        except MalformedMessage:
            pass


@given(
    mtype=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=32),
    seq=st.integers(-(2**63), 2**63 - 1),
    flags=st.integers(0, 2**64 - 1),
    ptype=st.integers(0, 2**32 - 1),
    created=st.integers(1, 2**64 - 1),
    mid=st.uuids(),
    payload=st.binary(max_size=2048),
)
def test_round_trip(
    mtype: str, seq: int, flags: int, ptype: int, created: int, mid: UUID, payload: bytes
) -> None:
    msg = ClientMessage.create(
        mtype,
        sequence_number=seq,
        payload_type=ptype,
        payload=payload,
        message_id=mid,
        created_date=created,
        flags=flags,
    )
    raw = encode(msg)
    assert len(raw) == 120 + len(payload)
    assert decode(raw) == msg
