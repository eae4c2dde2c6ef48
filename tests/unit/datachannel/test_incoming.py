"""The incoming buffer: in-order delivery, early messages, duplicates, overflow."""

from __future__ import annotations

from ecs_exec.datachannel.incoming import Arrival, IncomingBuffer
from ecs_exec.datachannel.message import ClientMessage, decode, encode_fields


def msg(seq: int) -> ClientMessage:
    return decode(
        encode_fields(
            "output_stream_data",
            sequence_number=seq,
            flags=0,
            message_id=bytes(16),
            payload_type=1,
            payload=str(seq).encode(),
            created_date=1,
        )
    )


def test_in_order_early_duplicate_and_drain() -> None:
    buf = IncomingBuffer()
    assert buf.accept(msg(0)) is Arrival.IN_ORDER
    assert buf.accept(msg(2)) is Arrival.EARLY
    assert buf.accept(msg(3)) is Arrival.EARLY
    assert buf.accept(msg(2)) is Arrival.EARLY  # kept once
    assert len(buf) == 2
    assert buf.pop_next() is None  # seq 1 is still missing
    assert buf.accept(msg(0)) is Arrival.DUPLICATE
    assert buf.accept(msg(1)) is Arrival.IN_ORDER
    drained = [buf.pop_next(), buf.pop_next(), buf.pop_next()]
    assert [m.payload if m else None for m in drained] == [b"2", b"3", None]
    assert buf.expected == 4
    assert len(buf) == 0


def test_overflow_is_not_acknowledged() -> None:
    buf = IncomingBuffer(capacity=1)
    assert buf.accept(msg(1)) is Arrival.EARLY
    assert buf.accept(msg(1)) is Arrival.EARLY  # already kept: no room needed
    assert buf.accept(msg(2)) is Arrival.OVERFLOW
    assert [a.acknowledged for a in Arrival] == [True, True, True, False]
    assert buf.expected == 0
