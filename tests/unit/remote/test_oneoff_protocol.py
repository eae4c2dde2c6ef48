"""The client side of the one-off framing (session.oneoff) against a scripted stream."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ecs_exec.errors import ConfigurationError, SessionEndedError
from ecs_exec.local.terminal import Console
from ecs_exec.remote import StdinEncoder, StreamDecoder
from ecs_exec.remote.encoder import EXIT_CONFIRMED, HEARTBEAT, INTERRUPT
from ecs_exec.session.loop import SessionEnd, run_session
from ecs_exec.session.oneoff import IDLE_TIMEOUT, OneoffProtocol, heartbeat_seconds

NONCE = "feedfacecafebeef"
TAG = b"\n@" + NONCE.encode() + b":"
READY = TAG + b"R\n"


def exited(code: int) -> bytes:
    return TAG + b"X%d\n" % code


class ScriptedStream:
    """A RemoteStream whose output comes from ``script``: a function of what was sent so far
    that returns the next chunk, ``b""`` for the end, or None to wait for more input."""

    def __init__(self, script: Callable[[list[bytes]], bytes | None]) -> None:
        self.script = script
        self.sent: list[bytes] = []
        self._changed = asyncio.Event()

    async def send(self, data: bytes) -> None:
        self.sent.append(data)
        self._changed.set()

    async def resize(self, cols: int, rows: int) -> None:
        pass

    async def receive(self) -> bytes:
        while (chunk := self.script(self.sent)) is None:
            self._changed.clear()
            await self._changed.wait()
        return chunk

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def run(proto: OneoffProtocol, stream: ScriptedStream) -> int:
    """The protocol as the session loop runs it (its policy), with nothing to terminate."""
    end = SessionEnd("session-id", lambda: None, warn=lambda warning: None)
    return await run_session(stream, proto.policy(), end)


def chunks(*items: bytes) -> Callable[[list[bytes]], bytes | None]:
    queue = list(items)
    return lambda sent: queue.pop(0) if queue else b""


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    fds = [os.open(tmp_path / name, os.O_RDWR | os.O_CREAT) for name in ("in", "out", "err")]
    yield Console(*fds)
    for fd in fds:
        os.close(fd)


def protocol(stream: ScriptedStream, console: Console, heartbeat: float = 60.0) -> OneoffProtocol:
    return OneoffProtocol(
        stream,  # type: ignore[arg-type]
        console,
        decoder=StreamDecoder(NONCE),
        encoder=StdinEncoder("raw"),
        attach_stdin=False,
        heartbeat=heartbeat,
    )


def test_exit_record_is_confirmed_last(console: Console) -> None:
    stream = ScriptedStream(chunks(READY, TAG + b"Ob\naGk=\n.", exited(3)))
    assert asyncio.run(run(protocol(stream, console), stream)) == 3
    assert stream.sent.count(EXIT_CONFIRMED) == 1


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ((), "not-started"),
        ((READY,), "terminated"),
        ((READY, TAG + b"Ob\naGk"), "lost-output"),  # cut in the middle of a frame
    ],
)
def test_early_end_names_its_cause(console: Console, items: tuple[bytes, ...], reason: str) -> None:
    stream = ScriptedStream(chunks(*items))
    with pytest.raises(SessionEndedError) as caught:
        asyncio.run(run(protocol(stream, console), stream))
    assert caught.value.reason == reason
    assert caught.value.hint
    assert "container may have stopped" not in str(caught.value)
    assert EXIT_CONFIRMED not in stream.sent


def test_long_silence_is_named_as_the_idle_timeout(console: Console) -> None:
    async def main() -> SessionEndedError:
        loop = asyncio.get_running_loop()
        stream = ScriptedStream(chunks(READY))
        proto = protocol(stream, console)
        with pytest.raises(SessionEndedError):
            await run(proto, stream)
        return proto.ended_early(now=loop.time() + IDLE_TIMEOUT)

    error = asyncio.run(main())
    assert error.reason == "idle"
    assert "idle timeout" in str(error)


def once(
    *steps: tuple[Callable[[list[bytes]], bool], bytes],
) -> Callable[[list[bytes]], bytes | None]:
    """Each chunk once, when its condition on what was sent holds; in order; then wait."""
    pending = list(steps)

    def script(sent: list[bytes]) -> bytes | None:
        if pending and pending[0][0](sent):
            return pending.pop(0)[1]
        return None

    return script


def always(sent: list[bytes]) -> bool:
    return True


def test_heartbeats_flow_while_the_command_is_silent(console: Console) -> None:
    stream = ScriptedStream(
        once((always, READY), (lambda sent: sent.count(HEARTBEAT) >= 3, exited(0)))
    )
    assert asyncio.run(run(protocol(stream, console, heartbeat=0.01), stream)) == 0
    assert stream.sent.count(HEARTBEAT) == 3
    assert stream.sent.count(EXIT_CONFIRMED) == 1


def test_interrupt_waits_for_the_exit_record(console: Console) -> None:
    stream = ScriptedStream(once((always, READY), (lambda sent: INTERRUPT in sent, exited(130))))

    async def main() -> tuple[int | None, int]:
        proto = protocol(stream, console)
        running = asyncio.ensure_future(run(proto, stream))
        code = await proto.interrupt(2)
        return code, await running

    assert asyncio.run(main()) == (130, 130)
    assert stream.sent.count(INTERRUPT) == 1


def test_interrupt_before_ready_waits_for_ready(console: Console) -> None:
    gate: list[bool] = []
    stream = ScriptedStream(
        once((lambda sent: bool(gate), READY), (lambda sent: INTERRUPT in sent, exited(130)))
    )

    async def main() -> tuple[int | None, int]:
        proto = protocol(stream, console)
        running = asyncio.ensure_future(run(proto, stream))
        stopping = asyncio.ensure_future(proto.interrupt(15))
        for _ in range(10):
            await asyncio.sleep(0)
        assert stream.sent == []  # nothing goes out before READY
        gate.append(True)
        await stream.send(b"")  # wake the scripted receive
        return await stopping, await running

    assert asyncio.run(main()) == (130, 130)
    assert stream.sent.count(INTERRUPT) == 1


@pytest.mark.parametrize("value", ["0", "-1", "x", "1200", "nan"])
def test_bad_heartbeat_setting_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ECS_EXEC_HEARTBEAT", value)
    with pytest.raises(ConfigurationError, match="ECS_EXEC_HEARTBEAT"):
        heartbeat_seconds()


def test_heartbeat_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_EXEC_HEARTBEAT", "0.5")
    assert heartbeat_seconds() == 0.5
    monkeypatch.delenv("ECS_EXEC_HEARTBEAT")
    assert heartbeat_seconds() == 60.0


def test_interactive_early_end_names_idle_timeout_or_termination() -> None:
    from ecs_exec.session.interactive import ended_early

    assert ended_early(IDLE_TIMEOUT).reason == "idle"
    assert "idle timeout" in str(ended_early(IDLE_TIMEOUT + 5))
    assert ended_early(3.0).reason == "terminated"
