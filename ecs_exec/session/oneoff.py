"""One-off commands: exact stdout and stderr, streamed stdin, the remote exit status.

The remote side is the framing script of ``ecs_exec.remote``; this module feeds it stdin
once it says READY (input that arrived earlier would be echoed by the PTY before the script
switches it to raw mode) and turns its records back into local bytes and an exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ecs_exec.errors import RemoteProtocolError
from ecs_exec.local.stdio import OutputWriter, StdinReader
from ecs_exec.local.terminal import Console
from ecs_exec.remote import (
    Exited,
    Noise,
    Ready,
    SetupFailed,
    Stderr,
    StdinEncoder,
    Stdout,
    StreamDecoder,
    setup_error,
)
from ecs_exec.transports.base import RemoteStream

logger = logging.getLogger("ecs_exec.oneoff")


async def run_oneoff(
    stream: RemoteStream,
    console: Console,
    *,
    decoder: StreamDecoder,
    encoder: StdinEncoder,
    attach_stdin: bool,
    noise_to_stderr: bool = True,
) -> int:
    """Drive one framed command to its end and return the remote exit status.

    Raises:
        RemoteSetupError: the container lacks a tool the framing needs.
        RemoteProtocolError: the session ended without an exit record.
    """
    stdout = OutputWriter(console.stdout_fd)
    stderr = OutputWriter(console.stderr_fd)
    ready = asyncio.Event()
    exit_code: int | None = None

    async def pump_output() -> None:
        nonlocal exit_code
        while exit_code is None:
            data = await stream.receive()
            if not data:
                return
            for event in decoder.feed(data):
                if isinstance(event, Stdout):
                    if not stdout.broken:
                        await stdout.write(event.data)
                elif isinstance(event, Stderr):
                    await stderr.write(event.data)
                elif isinstance(event, Ready):
                    ready.set()
                elif isinstance(event, Exited):
                    exit_code = event.code
                elif isinstance(event, SetupFailed):
                    raise setup_error(event.tool)
                elif isinstance(event, Noise):
                    logger.debug("noise outside records: %r", event.data[:200])
                    if noise_to_stderr:
                        await stderr.write(event.data)

    async def pump_input() -> None:
        await ready.wait()
        if attach_stdin:
            reader = StdinReader(console.stdin_fd)
            try:
                async for chunk in reader:
                    for frame in encoder.encode(chunk):
                        await stream.send(frame)
            finally:
                reader.stop()
        await stream.send(encoder.eof())

    output_task = asyncio.ensure_future(pump_output())
    input_task = asyncio.ensure_future(pump_input())
    try:
        await output_task
    finally:
        input_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await input_task
        await stdout.close()
        await stderr.close()
    if input_task.done() and not input_task.cancelled() and input_task.exception():
        exc = input_task.exception()
        assert exc is not None
        raise exc
    if exit_code is None:
        raise RemoteProtocolError(
            "the session ended before the command reported its exit status",
            hint="the container may have stopped, or the command was killed with the session",
        )
    return exit_code
