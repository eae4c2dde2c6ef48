"""OutputWriter: order, and a bounded queue in front of a reader that does not keep up."""

from __future__ import annotations

import asyncio
import os
import threading

from ecs_exec.local.stdio import OutputWriter


def test_a_stalled_reader_bounds_the_queue_and_every_byte_arrives_in_order() -> None:
    chunk, count, limit = 10_000, 1_000, 50_000
    payload = [bytes([i % 251]) * chunk for i in range(count)]

    async def run() -> tuple[int, bool, bytes]:
        read_fd, write_fd = os.pipe()
        writer = OutputWriter(write_fd, max_bytes=limit)
        most = 0

        async def produce() -> None:
            nonlocal most
            for data in payload:
                await writer.write(data)
                most = max(most, writer._queued)

        producing = asyncio.ensure_future(produce())
        # Nobody reads: the pipe fills, then the queue, then write() waits.
        for _ in range(200):
            await asyncio.sleep(0.01)
            if producing.done():
                break
        stalled = not producing.done()
        got = bytearray()

        def drain() -> None:
            while data := os.read(read_fd, 65536):
                got.extend(data)

        reader = threading.Thread(target=drain)
        reader.start()
        await producing
        await writer.close()
        os.close(write_fd)
        reader.join(timeout=30)
        os.close(read_fd)
        return most, stalled, bytes(got)

    most, stalled, got = asyncio.run(run())
    assert stalled  # 10 MB cannot fit in a pipe plus 50 kB of queue
    assert most <= limit
    assert got == b"".join(payload)


def test_a_chunk_larger_than_the_bound_is_written_alone() -> None:
    async def run() -> bytes:
        read_fd, write_fd = os.pipe()
        writer = OutputWriter(write_fd, max_bytes=10)
        got = bytearray()

        def drain() -> None:
            while data := os.read(read_fd, 65536):
                got.extend(data)

        reader = threading.Thread(target=drain)
        reader.start()
        await writer.write(b"x" * 100_000)
        await writer.write(b"y")
        await writer.close()
        os.close(write_fd)
        reader.join(timeout=30)
        os.close(read_fd)
        return bytes(got)

    assert asyncio.run(run()) == b"x" * 100_000 + b"y"
