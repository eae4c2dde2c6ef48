"""A client/agent channel pair over an in-memory lossy link, on a virtual clock
(h11 tests/helpers.py ConnectionPair; aioquic test_connection.py loss tests)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from itertools import count
from typing import Literal, overload
from uuid import UUID

from ecs_exec.datachannel.agent import AgentChannel
from ecs_exec.datachannel.channel import DataChannel, Side
from ecs_exec.datachannel.client import ClientChannel
from ecs_exec.datachannel.events import Event

DATA_KEY = bytes(range(64))
DATA_KEY_BLOB = b"fake-kms-ciphertext-blob"


def id_source(seed: int) -> Callable[[], UUID]:
    counter = count(1)
    return lambda: UUID(int=(seed << 64) | next(counter), version=4)


def nonces(seed: int) -> Callable[[int], bytes]:
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


@overload
def make(side: Literal[Side.CLIENT], **kwargs: object) -> ClientChannel: ...
@overload
def make(side: Literal[Side.AGENT], **kwargs: object) -> AgentChannel: ...


def make(side: Side, **kwargs: object) -> DataChannel:
    seed = 1 if side is Side.CLIENT else 2
    params: dict[str, object] = {
        "session_id": "sess-1",
        "client_id": "95bf0401-0000-4000-8000-000000000000",
        "message_id": id_source(seed),
        "random_bytes": nonces(seed),
        "wall_clock": lambda: 1_700_000_000.0,
    }
    if side is Side.CLIENT:
        params.update(token="TOKEN", target_id="ecs:cluster_task_runtime")
    params.update(kwargs)
    role = ClientChannel if side is Side.CLIENT else AgentChannel
    return role(**params)  # type: ignore[arg-type]


class Link:
    """One direction: frames are delivered after ``delay``, maybe dropped, duplicated or
    reordered (by a random extra delay)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        delay: float = 0.01,
        loss: float = 0.0,
        duplicate: float = 0.0,
        jitter: float = 0.0,
    ) -> None:
        self.rng = rng
        self.delay = delay
        self.loss = loss
        self.duplicate = duplicate
        self.jitter = jitter
        self.drop_next = 0
        self.sent: list[bytes] = []


class Pair:
    """Client and agent on a virtual clock; ``run`` advances time until idle or a deadline."""

    def __init__(
        self,
        *,
        seed: int = 0,
        client: ClientChannel | None = None,
        agent: AgentChannel | None = None,
        **link: float,
    ) -> None:
        rng = random.Random(seed)
        self.client = client or make(Side.CLIENT)
        self.agent = agent or make(Side.AGENT)
        self.links = {Side.CLIENT: Link(rng, **link), Side.AGENT: Link(rng, **link)}
        self.now = 0.0
        self.queue: list[tuple[float, int, Side, bytes]] = []  # (arrival, n, to, frame)
        self.n = count()
        self.events: dict[Side, list[Event]] = {Side.CLIENT: [], Side.AGENT: []}
        self.max_in_flight_seen = 0

    def channel(self, side: Side) -> DataChannel:
        return self.client if side is Side.CLIENT else self.agent

    def pump(self) -> None:
        """Move pending output of both channels onto the links, collect events."""
        for side in (Side.CLIENT, Side.AGENT):
            ch = self.channel(side)
            link = self.links[side]
            to = Side.AGENT if side is Side.CLIENT else Side.CLIENT
            for frame in ch.data_to_send():
                link.sent.append(frame)
                if link.drop_next:
                    link.drop_next -= 1
                    continue
                if link.rng.random() < link.loss:
                    continue
                copies = 2 if link.rng.random() < link.duplicate else 1
                for _ in range(copies):
                    at = self.now + link.delay + link.rng.random() * link.jitter
                    heapq.heappush(self.queue, (at, next(self.n), to, frame))
            self.events[side].extend(ch.events_received())
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.client.bytes_in_flight)

    def step(self) -> bool:
        """Advance to the next arrival or timer; False when nothing is left to do."""
        self.pump()
        timers = [t for t in (self.client.get_timer(), self.agent.get_timer()) if t is not None]
        candidates = timers + ([self.queue[0][0]] if self.queue else [])
        if not candidates:
            return False
        self.now = max(self.now, min(candidates))
        while self.queue and self.queue[0][0] <= self.now:
            _, _, to, frame = heapq.heappop(self.queue)
            self.channel(to).receive_message(frame, now=self.now)
        for ch in (self.client, self.agent):
            timer = ch.get_timer()
            if timer is not None and timer <= self.now:
                ch.handle_timer(now=self.now)
        self.pump()
        return True

    def run(self, until: float = 1e9, idle: Callable[[], bool] | None = None) -> None:
        while self.now < until:
            if idle is not None and idle():
                return
            if not self.step():
                return

    def take(self, side: Side) -> list[Event]:
        out, self.events[side] = self.events[side], []
        return out
