"""Incoming buffer: in-order delivery of the far end's sequenced messages.

Theory of operation
-------------------
The counterpart of :mod:`~ecs_exec.datachannel.retransmit` (the outgoing buffer). The far end
numbers its stream messages from 0; :class:`IncomingBuffer` keeps the next sequence number
it expects and classifies every arrival (docs/protocol.md#7-sequencing):

* ``IN_ORDER`` (seq == expected): deliver it now, then drain what the gap was holding back
  (:meth:`IncomingBuffer.pop_next`);
* ``EARLY`` (seq > expected): keep it until the gap fills, at most
  :data:`INCOMING_MESSAGE_BUFFER_CAPACITY` messages (a repeat of a kept one is kept once);
* ``DUPLICATE`` (seq < expected): already delivered;
* ``OVERFLOW``: early, but the buffer is full; it is dropped *without an ack*, so the far
  end sends it again later.

Every arrival but an overflow is acknowledged by the channel, duplicates included: the real
agent re-acks duplicates, which lets a sender whose ack was lost move on.
"""

from __future__ import annotations

from enum import Enum

from ecs_exec.datachannel.message import ClientMessage

#: config.go IncomingMessageBufferCapacity: early messages kept for reordering.
INCOMING_MESSAGE_BUFFER_CAPACITY = 10_000


class Arrival(Enum):
    """How :meth:`IncomingBuffer.accept` classified a message."""

    IN_ORDER = "in order"  #: deliver now, then drain
    EARLY = "early"  #: kept until the gap fills
    DUPLICATE = "duplicate"  #: delivered before; ack again only
    OVERFLOW = "overflow"  #: early and no room: drop without an ack

    @property
    def acknowledged(self) -> bool:
        """Whether the channel acks a message that arrived this way."""
        return self is not Arrival.OVERFLOW


class IncomingBuffer:
    """The expected sequence number and the early messages waiting for it.

    Args:
        capacity: early messages kept at most; default
            :data:`INCOMING_MESSAGE_BUFFER_CAPACITY` (read at construction).
    """

    __slots__ = ("_early", "capacity", "expected")

    def __init__(self, *, capacity: int | None = None) -> None:
        self.capacity = INCOMING_MESSAGE_BUFFER_CAPACITY if capacity is None else capacity
        #: The sequence number of the next in-order message.
        self.expected = 0
        self._early: dict[int, ClientMessage] = {}

    def __len__(self) -> int:
        return len(self._early)

    def accept(self, msg: ClientMessage) -> Arrival:
        """Classify ``msg``; an in-order one advances :attr:`expected`, an early one is kept."""
        seq = msg.sequence_number
        if seq == self.expected:
            self.expected = seq + 1
            return Arrival.IN_ORDER
        if seq < self.expected:
            return Arrival.DUPLICATE
        if seq in self._early:
            return Arrival.EARLY
        if len(self._early) >= self.capacity:
            return Arrival.OVERFLOW
        self._early[seq] = msg
        return Arrival.EARLY

    def pop_next(self) -> ClientMessage | None:
        """Return the kept message that is now in order (advancing :attr:`expected`), or None."""
        msg = self._early.pop(self.expected, None)
        if msg is not None:
            self.expected += 1
        return msg


__all__ = ["INCOMING_MESSAGE_BUFFER_CAPACITY", "Arrival", "IncomingBuffer"]
