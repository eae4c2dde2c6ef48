"""OutputBuffer: order, the high-water wait, and how the end and a failure are reported."""

from __future__ import annotations

import asyncio

import pytest

from ecs_exec.errors import ConnectionLostError
from ecs_exec.transports.outbuffer import OutputBuffer


def test_wait_room_blocks_above_high_water_until_half_is_taken() -> None:
    async def run() -> list[str]:
        log: list[str] = []
        buffer = OutputBuffer(high_water=10)
        for _ in range(4):
            buffer.put(b"abcd")  # 16 bytes: over the mark
        waiter = asyncio.ensure_future(buffer.wait_room())
        await asyncio.sleep(0)
        log.append(f"waiting={not waiter.done()}")
        await buffer.get()  # 12 left: still above half
        await asyncio.sleep(0)
        log.append(f"waiting={not waiter.done()}")
        await buffer.get()
        await buffer.get()  # 4 left: room
        await asyncio.wait_for(waiter, 5)
        log.append(f"peak={buffer.peak} size={buffer.size}")
        return log

    assert asyncio.run(run()) == ["waiting=True", "waiting=True", "peak=16 size=4"]


def test_data_comes_before_the_end_and_before_a_failure() -> None:
    async def run(fail: bool) -> list[bytes]:
        buffer = OutputBuffer()
        buffer.put(b"a")
        buffer.put(b"b")
        if fail:
            buffer.fail(ConnectionLostError("gone"))
        else:
            buffer.end()
        await buffer.wait_room()  # never waits once finished
        return [await buffer.get(), await buffer.get(), await buffer.get()]

    assert asyncio.run(run(False)) == [b"a", b"b", b""]
    with pytest.raises(ConnectionLostError):
        asyncio.run(run(True))


def test_a_failure_after_the_end_is_not_reported() -> None:
    async def run() -> bytes:
        buffer = OutputBuffer()
        buffer.end()
        buffer.fail(ConnectionLostError("late"))
        return await buffer.get()

    assert asyncio.run(run()) == b""
