"""One-off commands: exact stdout and stderr, streamed stdin, the remote exit status.

The remote side is the framing script of ``ecs_exec.remote``; this module feeds it stdin
once it says READY (input that arrived earlier would be echoed by the PTY before the script
switches it to raw mode) and turns its records back into local bytes and an exit status.
It is a policy of the session loop (:mod:`ecs_exec.session.loop`): two pumps, and the exit
record as the verdict.
"""

from __future__ import annotations

import asyncio
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
from ecs_exec.session.loop import Ended, Policy
from ecs_exec.transports.base import RemoteStream

logger = logging.getLogger("ecs_exec.oneoff")


class OneoffSession:
    """One framed command over a stream.

    Args:
        stream: the session's stream.
        console: local stdio.
        decoder: the records of this session's nonce.
        encoder: stdin framing (raw, or base64 through the plugin's terminal).
        attach_stdin: stream local stdin to the command (else it gets EOF at once).
        noise_to_stderr: show bytes outside records (banners, /dev/tty writes) on stderr.
    """

    def __init__(
        self,
        stream: RemoteStream,
        console: Console,
        *,
        decoder: StreamDecoder,
        encoder: StdinEncoder,
        attach_stdin: bool,
        noise_to_stderr: bool = True,
    ) -> None:
        self.stream = stream
        self.console = console
        self.decoder = decoder
        self.encoder = encoder
        self.attach_stdin = attach_stdin
        self.noise_to_stderr = noise_to_stderr
        self.stdout = OutputWriter(console.stdout_fd)
        self.stderr = OutputWriter(console.stderr_fd)
        self._ready = asyncio.Event()

    def policy(self) -> Policy:
        return Policy(pumps=(self.pump_output, self.pump_input), finish=self.finish)

    async def pump_output(self) -> Ended:
        """Records to local stdout and stderr, until the exit record.

        Raises:
            RemoteSetupError: the container lacks a tool the framing needs.
            BrokenPipeError: local stdout or stderr was closed.
        """
        while True:
            data = await self.stream.receive()
            if not data:
                return Ended(
                    255,
                    error=RemoteProtocolError(
                        "the session ended before the command reported its exit status",
                        hint="the container may have stopped, or the command was killed "
                        "with the session",
                    ),
                )
            for event in self.decoder.feed(data):
                if isinstance(event, Stdout):
                    await self.stdout.write(event.data)
                elif isinstance(event, Stderr):
                    await self.stderr.write(event.data)
                elif isinstance(event, Ready):
                    self._ready.set()
                elif isinstance(event, Exited):
                    return Ended(event.code)
                elif isinstance(event, SetupFailed):
                    raise setup_error(event.tool)
                elif isinstance(event, Noise):
                    logger.debug("noise outside records: %r", event.data[:200])
                    if self.noise_to_stderr:
                        await self.stderr.write(event.data)

    async def pump_input(self) -> None:
        """Local stdin to the command once it is ready, then EOF; the session goes on."""
        await self._ready.wait()
        if self.attach_stdin:
            reader = StdinReader(self.console.stdin_fd)
            try:
                async for chunk in reader:
                    for frame in self.encoder.encode(chunk):
                        await self.stream.send(frame)
            finally:
                reader.stop()
        await self.stream.send(self.encoder.eof())

    async def finish(self) -> None:
        try:
            await self.stdout.close()
        finally:
            await self.stderr.close()
