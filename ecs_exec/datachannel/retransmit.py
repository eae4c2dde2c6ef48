"""Outgoing buffer, RTT estimate and resend deadlines: pure and ``now``-driven.

Theory of operation
-------------------
Every sequenced message a side sends (``input_stream_data`` for the client,
``output_stream_data`` for the agent) is kept here, as its exact wire bytes, until the far end
acknowledges its sequence number. The retransmission timeout follows session-manager-plugin
``src/datachannel/streaming.go`` ``calculateRetransmissionTimeout``
(docs/protocol.md#81-rtt-and-rto): Jacobson/Karels with SRTT 100 ms, RTTVAR 0, RTO 200 ms, gains
1/8 and 1/4, a 10 ms clock-granularity floor on the variance term and a 1 s cap. Each matched
ack contributes one sample, ``now - first send time`` (no Karn rule, as upstream).

Two resend policies exist:

``OLDEST_ONLY``
    What the official plugin and the real agent do (``ResendStreamDataMessageScheduler``): a
    scheduler ticks every 100 ms and looks only at the front (oldest) entry; once it is older
    than the RTO (measured from its *first* send, an upstream quirk) it is resent on every tick
    until acked. Later entries wait behind it. The tick phase is fixed by the first time the
    buffer sees a clock value.
``ALL_OVERDUE``
    Our client's choice: every entry has its own deadline, first ``send + max(RTO, 200 ms)``,
    then doubling (capped at 1 s) after each resend, and every overdue entry is resent.

After ``max_resends`` resends of one entry the buffer gives up (the plugin's
``ResendMaxAttempt`` = 3000) and reports it through :attr:`OutgoingBuffer.gave_up`.

The buffer can bound the number of unacknowledged messages (``max_in_flight``) so that a sender
that respects :attr:`OutgoingBuffer.has_room` keeps flat memory for any input size; without a
bound it behaves like the plugin's linked list of capacity 10 000 and drops the oldest entry
when full.
"""

from __future__ import annotations

import heapq
import math
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from ecs_exec.errors import LocalProtocolError

DEFAULT_ROUND_TRIP_TIME = 0.100  #: config.go DefaultRoundTripTime (s)
DEFAULT_ROUND_TRIP_TIME_VARIATION = 0.0  #: config.go DefaultRoundTripTimeVariation
DEFAULT_TRANSMISSION_TIMEOUT = 0.200  #: config.go DefaultTransmissionTimeout
RTT_CONSTANT = 1 / 8  #: config.go RTTConstant (SRTT gain)
RTTV_CONSTANT = 1 / 4  #: config.go RTTVConstant (RTTVAR gain)
CLOCK_GRANULARITY = 0.010  #: config.go ClockGranularity
MAX_TRANSMISSION_TIMEOUT = 1.0  #: config.go MaxTransmissionTimeout
RESEND_SLEEP_INTERVAL = 0.100  #: config.go ResendSleepInterval (scheduler tick)
RESEND_MAX_ATTEMPT = 3000  #: config.go ResendMaxAttempt
OUTGOING_MESSAGE_BUFFER_CAPACITY = 10_000  #: config.go OutgoingMessageBufferCapacity
#: ALL_OVERDUE's first timeout never goes below this (our choice, not the plugin's): on a
#: fast link the estimated RTO falls to tens of milliseconds, and an agent that pauses
#: briefly while the remote reads its stdin would otherwise see a whole window resent.
CLIENT_MIN_TRANSMISSION_TIMEOUT = 0.200

# Absorbs float error when a time lands exactly on a scheduler tick.
_TICK_EPSILON = 1e-6


class RetransmitPolicy(Enum):
    """Which unacknowledged messages a timer tick resends."""

    #: Front entry only, on a 100 ms tick (official plugin and real agent).
    OLDEST_ONLY = "oldest-only"
    #: Every overdue entry, each with its own exponential backoff (our client).
    ALL_OVERDUE = "all-overdue"


class RttEstimator:
    """Smoothed RTT and RTO, as streaming.go ``calculateRetransmissionTimeout``.

    Attributes:
        srtt: smoothed round-trip time, seconds.
        rttvar: round-trip time variation, seconds.
        rto: current retransmission timeout, seconds.
    """

    __slots__ = ("rto", "rttvar", "srtt")

    def __init__(self) -> None:
        self.srtt = DEFAULT_ROUND_TRIP_TIME
        self.rttvar = DEFAULT_ROUND_TRIP_TIME_VARIATION
        self.rto = DEFAULT_TRANSMISSION_TIMEOUT

    def update(self, sample: float) -> None:
        """Fold in one RTT sample.

        Args:
            sample: ``ack time - first send time``, seconds.
        """
        # RTTVAR uses the *old* SRTT, as upstream does.
        self.rttvar = (1 - RTTV_CONSTANT) * self.rttvar + RTTV_CONSTANT * abs(self.srtt - sample)
        self.srtt = (1 - RTT_CONSTANT) * self.srtt + RTT_CONSTANT * sample
        self.rto = min(
            self.srtt + max(CLOCK_GRANULARITY, 4 * self.rttvar), MAX_TRANSMISSION_TIMEOUT
        )


@dataclass(slots=True)
class _Entry:
    """One unacknowledged message and its resend bookkeeping."""

    seq: int
    data: bytes
    first_sent: float
    last_sent: float
    due: float  # ALL_OVERDUE only
    backoff: float  # ALL_OVERDUE only
    attempts: int = 0


class OutgoingBuffer:
    """Unacknowledged sequenced messages and their resend deadlines.

    Args:
        policy: the resend policy.
        max_in_flight: bound on unacknowledged messages (``None``: no window, plugin-style).
        capacity: without a window, the oldest entry is dropped beyond this many (plugin).
        max_resends: resends of one message before giving up.
        resend_interval: scheduler tick of ``OLDEST_ONLY``.
        tick_origin: phase of the ``OLDEST_ONLY`` ticks; default: the first ``now`` seen.
    """

    def __init__(
        self,
        policy: RetransmitPolicy,
        *,
        max_in_flight: int | None = None,
        capacity: int = OUTGOING_MESSAGE_BUFFER_CAPACITY,
        max_resends: int = RESEND_MAX_ATTEMPT,
        resend_interval: float = RESEND_SLEEP_INTERVAL,
        tick_origin: float | None = None,
    ) -> None:
        if max_in_flight is not None and max_in_flight < 1:
            raise LocalProtocolError("max_in_flight must be at least 1")
        self.policy = policy
        self.rtt = RttEstimator()
        self.max_in_flight = max_in_flight
        self.capacity = capacity
        self.max_resends = max_resends
        self.resend_interval = resend_interval
        self.tick_origin = tick_origin
        #: ``(sequence_number, attempts)`` once a message exhausted its resends.
        self.gave_up: tuple[int, int] | None = None
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._heap: list[tuple[float, int]] = []  # (due, seq), lazily pruned
        self._bytes = 0

    # -- inspection ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, seq: object) -> bool:
        return seq in self._entries

    @property
    def has_room(self) -> bool:
        """Whether :meth:`add` may be called without exceeding ``max_in_flight``."""
        return self.max_in_flight is None or len(self._entries) < self.max_in_flight

    @property
    def bytes_in_flight(self) -> int:
        """Wire bytes of all unacknowledged messages."""
        return self._bytes

    # -- inputs ----------------------------------------------------------------------------

    def add(self, seq: int, data: bytes, *, now: float, force: bool = False) -> None:
        """Record a message that was just sent for the first time.

        Args:
            seq: its sequence number.
            data: its exact wire bytes (resent unchanged, same MessageId).
            now: the send time.
            force: add even when the window is full (control messages).

        Raises:
            LocalProtocolError: the window is full, or ``seq`` is already buffered.
        """
        if not force and not self.has_room:
            raise LocalProtocolError("outgoing window is full")
        if seq in self._entries:
            raise LocalProtocolError(f"sequence number {seq} is already in flight")
        if self.tick_origin is None:
            self.tick_origin = now
        if len(self._entries) >= self.capacity:
            # streaming.go AddDataToOutgoingMessageBuffer: drop the oldest when full.
            _, old = self._entries.popitem(last=False)
            self._bytes -= len(old.data)
        rto = self.rtt.rto
        if self.policy is RetransmitPolicy.ALL_OVERDUE:
            rto = max(rto, CLIENT_MIN_TRANSMISSION_TIMEOUT)
        entry = _Entry(seq, data, now, now, now + rto, rto)
        self._entries[seq] = entry
        self._bytes += len(data)
        if self.policy is RetransmitPolicy.ALL_OVERDUE:
            heap = self._heap
            if len(heap) > 2 * len(self._entries) + 1024:
                # Acked entries leave stale heap items; rebuild so memory stays flat.
                heap[:] = [(e.due, e.seq) for e in self._entries.values()]
                heapq.heapify(heap)
            heapq.heappush(heap, (entry.due, seq))

    def acknowledge(self, seq: int, *, now: float) -> bool:
        """Remove the entry an ack names and feed the RTT estimate (streaming.go
        ``ProcessAcknowledgedMessage``). Unknown sequence numbers are a no-op.

        Args:
            seq: ``AcknowledgedMessageSequenceNumber``.
            now: the time the ack arrived.

        Returns:
            Whether an entry was removed.
        """
        entry = self._entries.pop(seq, None)
        if entry is None:
            return False
        self._bytes -= len(entry.data)
        self.rtt.update(now - entry.first_sent)
        return True

    def poll(self, *, now: float) -> list[bytes]:
        """Return the messages to resend at ``now`` and update their attempt counters.

        Sets :attr:`gave_up` when a message reaches ``max_resends``; nothing is resent after.

        Args:
            now: the current time (normally the deadline from :meth:`next_deadline`).

        Returns:
            Wire bytes to send again, oldest first.
        """
        if self.tick_origin is None:
            self.tick_origin = now
        if self.gave_up is not None or not self._entries:
            return []
        if self.policy is RetransmitPolicy.OLDEST_ONLY:
            deadline = self.next_deadline()
            assert deadline is not None
            if now + _TICK_EPSILON < deadline:
                return []
            front = next(iter(self._entries.values()))
            self._resent(front, now)
            return [front.data]
        out: list[bytes] = []
        heap = self._heap
        while heap and heap[0][0] <= now + _TICK_EPSILON and self.gave_up is None:
            due, seq = heapq.heappop(heap)
            entry = self._entries.get(seq)
            if entry is None or entry.due != due:
                continue  # acked, or superseded by a later deadline
            self._resent(entry, now)
            entry.backoff = min(entry.backoff * 2, MAX_TRANSMISSION_TIMEOUT)
            entry.due = now + entry.backoff
            heapq.heappush(heap, (entry.due, seq))
            out.append(entry.data)
        return out

    def resend_all(self, *, now: float) -> list[bytes]:
        """Return every unacknowledged message, to send again at once (after a resume).

        Each counts as one resend; the next timer deadlines are measured from ``now`` (the
        backoff is not doubled: nothing timed out). Nothing is returned after a give-up.

        Args:
            now: the current time.

        Returns:
            Wire bytes to send again, oldest first.
        """
        if self.tick_origin is None:
            self.tick_origin = now
        out: list[bytes] = []
        for entry in self._entries.values():
            if self.gave_up is not None:
                break
            self._resent(entry, now)
            out.append(entry.data)
            if self.policy is RetransmitPolicy.ALL_OVERDUE:
                entry.due = now + entry.backoff
                heapq.heappush(self._heap, (entry.due, entry.seq))
        return out

    def _resent(self, entry: _Entry, now: float) -> None:
        entry.attempts += 1
        entry.last_sent = now
        if entry.attempts >= self.max_resends:
            self.gave_up = (entry.seq, entry.attempts)

    # -- outputs ---------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """Return when :meth:`poll` next has something to do, or None.

        Returns:
            An absolute time in the caller's clock.
        """
        if self.gave_up is not None or not self._entries:
            return None
        if self.policy is RetransmitPolicy.OLDEST_ONLY:
            front = next(iter(self._entries.values()))
            # Strictly older than the RTO, measured from the first send (a plugin quirk,
            # docs/protocol.md#82-resend-policies), at the
            # first scheduler tick after that; and at most once per tick.
            due = self._tick_after(front.first_sent + self.rtt.rto)
            if front.attempts:
                due = max(due, self._tick_after(front.last_sent))
            return due
        heap = self._heap
        while heap:
            due, seq = heap[0]
            entry = self._entries.get(seq)
            if entry is not None and entry.due == due:
                return due
            heapq.heappop(heap)
        return None  # pragma: no cover - entries always have a live heap item

    def _tick_after(self, t: float) -> float:
        origin = self.tick_origin
        assert origin is not None
        k = math.floor((t - origin) / self.resend_interval + _TICK_EPSILON) + 1
        return origin + k * self.resend_interval


__all__ = [
    "CLOCK_GRANULARITY",
    "DEFAULT_ROUND_TRIP_TIME",
    "DEFAULT_TRANSMISSION_TIMEOUT",
    "MAX_TRANSMISSION_TIMEOUT",
    "RESEND_MAX_ATTEMPT",
    "RESEND_SLEEP_INTERVAL",
    "OutgoingBuffer",
    "RetransmitPolicy",
    "RttEstimator",
]
