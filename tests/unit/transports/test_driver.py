"""The channel driver with an in-memory channel and connection: ordering, flow control, the
timer, and what happens between connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from ecs_exec.transports.driver import ChannelDriver


class FakeChannel:
    """Answers each frame with an ack frame and an event; the timer resends "r"."""

    def __init__(self) -> None:
        self.to_send: list[bytes] = []
        self.events: list[object] = []
        self.deadline: float | None = None
        self.timer_calls: list[float] = []
        self.resends = 0
        self.fired: asyncio.Event | None = None

    def data_to_send(self) -> list[bytes]:
        out, self.to_send = self.to_send, []
        return out

    def events_received(self) -> list[object]:
        out, self.events = self.events, []
        return out

    def get_timer(self) -> float | None:
        return self.deadline

    def receive_message(self, data: bytes, *, now: float) -> None:
        self.to_send.append(b"ack " + data)
        self.events.append(data)

    def handle_timer(self, *, now: float) -> None:
        self.timer_calls.append(now)
        if self.fired is not None:
            self.fired.set()
        self.deadline = None
        self.to_send.append(b"r")

    def resend_unacknowledged(self, *, now: float) -> None:
        self.resends += 1
        self.to_send.append(b"all")


class FakeConnection:
    def __init__(self) -> None:
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.taken = 0

    async def frames(self) -> AsyncIterator[bytes | str]:
        while (frame := await self.incoming.get()) is not None:
            self.taken += 1
            yield frame

    async def send_frames(self, frames: Sequence[bytes]) -> None:
        self.sent.extend(frames)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_acks_go_out_before_ready_unless_held_for_processing() -> None:
    async def run(ack_after: bool) -> list[str]:
        log: list[str] = []
        conn = FakeConnection()

        async def ready() -> None:
            await settle()  # the write loop runs meanwhile
            log.append(f"ready, sent={len(conn.sent)}")

        channel = FakeChannel()
        driver = ChannelDriver(
            channel,  # type: ignore[arg-type]
            on_event=lambda e: log.append(f"event {e!r}"),
            ready=ready,
            ack_after_processing=ack_after,
        )
        serving = asyncio.ensure_future(driver.serve(conn))
        conn.incoming.put_nowait(b"a")
        await settle()
        await settle()
        log.append(f"end, sent={len(conn.sent)}")
        conn.incoming.put_nowait(None)
        await serving
        await driver.close()
        return log

    assert asyncio.run(run(False)) == ["event b'a'", "ready, sent=1", "end, sent=1"]
    assert asyncio.run(run(True)) == ["event b'a'", "ready, sent=0", "end, sent=1"]


def test_no_frame_is_read_while_ready_waits() -> None:
    async def run() -> tuple[int, int]:
        gate = asyncio.Event()
        conn = FakeConnection()
        driver = ChannelDriver(FakeChannel(), on_event=lambda e: None, ready=gate.wait)  # type: ignore[arg-type]
        serving = asyncio.ensure_future(driver.serve(conn))
        for frame in (b"1", b"2", b"3"):
            conn.incoming.put_nowait(frame)
        await settle()
        taken_while_blocked = conn.taken
        gate.set()
        conn.incoming.put_nowait(None)
        await serving
        await driver.close()
        return taken_while_blocked, conn.taken

    assert asyncio.run(run()) == (1, 3)


def test_the_timer_fires_at_the_channel_deadline_on_the_loop_clock() -> None:
    async def run() -> tuple[FakeChannel, FakeConnection, float]:
        channel = FakeChannel()
        conn = FakeConnection()
        driver = ChannelDriver(channel, on_event=lambda e: None)  # type: ignore[arg-type]
        serving = asyncio.ensure_future(driver.serve(conn))
        await settle()
        deadline = driver.now() + 0.02
        channel.deadline = deadline
        channel.fired = asyncio.Event()
        driver.process()  # an input: the driver re-arms at get_timer()
        await asyncio.wait_for(channel.fired.wait(), 10)
        await settle()
        conn.incoming.put_nowait(None)
        await serving
        await driver.close()
        return channel, conn, deadline

    channel, conn, deadline = asyncio.run(run())
    assert channel.timer_calls[0] >= deadline
    assert conn.sent == [b"r"]


def test_between_connections_frames_are_dropped_and_the_timer_waits() -> None:
    async def run() -> tuple[FakeChannel, FakeConnection]:
        channel = FakeChannel()
        driver = ChannelDriver(channel, on_event=lambda e: None)  # type: ignore[arg-type]
        first = FakeConnection()
        serving = asyncio.ensure_future(driver.serve(first))
        first.incoming.put_nowait(None)  # the socket dies
        await serving
        assert not driver.connected
        channel.to_send.append(b"lost")  # produced while nobody is connected
        channel.deadline = driver.now()  # overdue, but paused
        driver.process()
        await asyncio.sleep(0.05)
        assert channel.timer_calls == []
        second = FakeConnection()
        serving = asyncio.ensure_future(driver.serve(second, resend=True))
        await settle()
        second.incoming.put_nowait(None)
        await serving
        await driver.close()
        return channel, second

    channel, second = asyncio.run(run())
    assert channel.resends == 1
    assert b"lost" not in second.sent
    assert second.sent[0] == b"all"
    assert len(channel.timer_calls) == 1  # re-armed on the new connection


class StuckConnection(FakeConnection):
    """A peer that stops reading: a write blocks until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.writing = asyncio.Event()

    async def send_frames(self, frames: Sequence[bytes]) -> None:
        self.writing.set()
        await self.release.wait()
        self.sent.extend(frames)


def test_the_timer_waits_while_a_write_is_stuck() -> None:
    """Resends queued behind a write the peer does not take would pile up at every timeout
    for as long as it stalls; the timer runs once the queue has gone out instead."""

    async def run() -> tuple[FakeChannel, StuckConnection, list[float]]:
        channel = FakeChannel()
        conn = StuckConnection()
        driver = ChannelDriver(channel, on_event=lambda e: None)  # type: ignore[arg-type]
        serving = asyncio.ensure_future(driver.serve(conn))
        await settle()
        channel.to_send.append(b"data")
        channel.deadline = driver.now()  # overdue at once
        driver.process()
        await asyncio.wait_for(conn.writing.wait(), 10)
        for _ in range(3):  # inputs re-arm the timer: still nothing while stuck
            conn.incoming.put_nowait(b"in")
            await settle()
        while_stuck = list(channel.timer_calls)
        channel.fired = asyncio.Event()
        conn.release.set()
        await asyncio.wait_for(channel.fired.wait(), 10)
        await settle()
        conn.incoming.put_nowait(None)
        await serving
        await driver.close()
        return channel, conn, while_stuck

    channel, conn, while_stuck = asyncio.run(run())
    assert while_stuck == []
    assert len(channel.timer_calls) == 1
    assert conn.sent.count(b"r") == 1
    assert conn.sent[0] == b"data"
