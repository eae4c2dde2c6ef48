"""RTO arithmetic and resend policies of streaming.go (docs/protocol.md#8-retransmission)."""

from __future__ import annotations

import pytest

from ecs_exec.datachannel.retransmit import OutgoingBuffer, RetransmitPolicy, RttEstimator
from ecs_exec.errors import LocalProtocolError


def test_initial_values() -> None:
    rtt = RttEstimator()
    assert (rtt.srtt, rtt.rttvar, rtt.rto) == (0.1, 0.0, 0.2)


def test_one_millisecond_ack_example() -> None:
    rtt = RttEstimator()
    rtt.update(0.001)
    assert rtt.srtt == pytest.approx(0.087625)
    assert rtt.rttvar == pytest.approx(0.02475)
    assert rtt.rto == pytest.approx(0.186625)


def test_rto_floor_and_cap() -> None:
    rtt = RttEstimator()
    for _ in range(200):
        rtt.update(0.1)
    assert rtt.rto == pytest.approx(0.1 + 0.01, abs=1e-4)  # clock granularity floor
    for _ in range(50):
        rtt.update(30.0)
    assert rtt.rto == 1.0


def test_ack_updates_rtt_from_first_send_and_ignores_unknown() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.OLDEST_ONLY)
    buf.add(0, b"abc", now=10.0)
    assert buf.bytes_in_flight == 3
    assert 0 in buf
    assert not buf.acknowledge(7, now=10.001)
    assert buf.acknowledge(0, now=10.001)
    assert buf.rtt.rto == pytest.approx(0.186625)
    assert len(buf) == 0
    assert buf.bytes_in_flight == 0
    assert buf.next_deadline() is None
    assert buf.poll(now=20.0) == []


def test_oldest_only_resends_front_on_every_tick() -> None:
    # Observed: sent at 0.515, resent at 0.716, 0.817, 0.917 ... with the scheduler's ticks
    # starting at 0.016 (the plugin's ticks drift by ~1 ms; ours do not).
    buf = OutgoingBuffer(RetransmitPolicy.OLDEST_ONLY, tick_origin=0.016)
    buf.add(0, b"m0", now=0.515)
    buf.add(1, b"m1", now=0.6)
    assert buf.next_deadline() == pytest.approx(0.716)
    assert buf.poll(now=0.616) == []
    times = []
    for _ in range(4):
        t = buf.next_deadline()
        assert t is not None
        assert buf.poll(now=t) == [b"m0"]  # only the front, never m1
        times.append(t)
    assert times == pytest.approx([0.716, 0.816, 0.916, 1.016])
    buf.acknowledge(0, now=1.05)
    # m1 was sent at 0.6, its RTO has long passed: it goes at the next tick.
    assert buf.poll(now=buf.next_deadline() or 0) == [b"m1"]


def test_tick_origin_defaults_to_first_time_seen() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.OLDEST_ONLY)
    assert buf.poll(now=3.0) == []
    assert buf.tick_origin == 3.0


def test_all_overdue_resends_each_with_its_own_backoff() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE)
    buf.add(0, b"a", now=0.0)
    buf.add(1, b"b", now=0.05)
    buf.add(2, b"c", now=0.5)
    assert buf.next_deadline() == pytest.approx(0.2)
    assert buf.poll(now=0.3) == [b"a", b"b"]
    assert buf.next_deadline() == pytest.approx(0.7)  # c: 0.5 + 0.2
    assert buf.poll(now=0.7) == [b"a", b"b", b"c"]  # a, b: 0.3 + 0.4 backoff; ties by seq
    buf.acknowledge(1, now=0.75)
    assert buf.poll(now=1.6) == [b"c", b"a"]
    # backoff caps at 1 s
    for _ in range(5):
        buf.poll(now=(buf.next_deadline() or 0))
    t = buf.next_deadline()
    assert t is not None
    buf.acknowledge(0, now=t)
    buf.acknowledge(2, now=t)
    assert buf.next_deadline() is None


def test_all_overdue_heap_stays_bounded() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE, max_in_flight=8)
    buf.add(0, b"old", now=0.0)  # stays unacked at the heap's top
    for seq in range(1, 5000):
        buf.add(seq, b"x", now=0.0)
        buf.acknowledge(seq, now=0.0)
    assert len(buf._heap) < 2000
    assert buf.next_deadline() is not None


def test_window_limits_and_duplicates() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE, max_in_flight=2)
    buf.add(0, b"a", now=0.0)
    with pytest.raises(LocalProtocolError):
        buf.add(0, b"a", now=0.0)
    buf.add(1, b"b", now=0.0)
    assert not buf.has_room
    with pytest.raises(LocalProtocolError):
        buf.add(2, b"c", now=0.0)
    buf.add(2, b"c", now=0.0, force=True)
    assert len(buf) == 3
    with pytest.raises(LocalProtocolError):
        OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE, max_in_flight=0)


def test_capacity_drops_oldest_like_the_plugin() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.OLDEST_ONLY, capacity=2)
    for seq in range(3):
        buf.add(seq, b"xy", now=0.0)
    assert 0 not in buf
    assert len(buf) == 2
    assert buf.bytes_in_flight == 4


@pytest.mark.parametrize("policy", list(RetransmitPolicy))
def test_give_up_after_max_resends(policy: RetransmitPolicy) -> None:
    buf = OutgoingBuffer(policy, max_resends=3)
    buf.add(0, b"a", now=0.0)
    count = 0
    while buf.gave_up is None:
        t = buf.next_deadline()
        assert t is not None
        count += len(buf.poll(now=t))
    assert buf.gave_up == (0, 3)
    assert count == 3
    assert buf.next_deadline() is None
    assert buf.poll(now=100.0) == []


def test_all_overdue_first_timeout_has_a_floor():
    """Our client never resends before 200 ms, even when the estimated RTO is lower."""
    buffer = OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE)
    buffer.add(0, b"a", now=0.0)
    buffer.acknowledge(0, now=0.001)
    assert buffer.rtt.rto < 0.2
    buffer.add(1, b"b", now=1.0)
    assert buffer.next_deadline() == pytest.approx(1.2)
    assert buffer.poll(now=1.19) == []
    assert buffer.poll(now=1.2) == [b"b"]


@pytest.mark.parametrize("policy", list(RetransmitPolicy))
def test_resend_all_sends_everything_now_and_restarts_deadlines(policy: RetransmitPolicy) -> None:
    buf = OutgoingBuffer(policy)
    assert buf.resend_all(now=0.0) == []
    buf.add(0, b"a", now=0.0)
    buf.add(1, b"b", now=0.0)
    assert buf.resend_all(now=0.05) == [b"a", b"b"]  # long before any RTO
    deadline = buf.next_deadline()
    assert deadline is not None and deadline > 0.05
    # The earlier deadline was superseded: nothing is due before the new one.
    assert buf.poll(now=deadline - 0.01) == []
    assert buf.poll(now=deadline)[0] == b"a"


def test_resend_all_counts_towards_give_up() -> None:
    buf = OutgoingBuffer(RetransmitPolicy.ALL_OVERDUE, max_resends=1)
    buf.add(0, b"a", now=0.0)
    buf.add(1, b"b", now=0.0)
    assert buf.resend_all(now=1.0) == [b"a"]
    assert buf.gave_up == (0, 1)
    assert buf.resend_all(now=2.0) == []
