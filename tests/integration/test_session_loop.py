"""The session loop on a scripted stream: verdicts, signals, and the end of the session."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import pytest

from ecs_exec.errors import (
    ConnectionLostError,
    EcsExecError,
    InvalidStateError,
    RemoteProtocolError,
    SessionNotTerminatedError,
)
from ecs_exec.session.loop import STDOUT_CLOSED, Ended, Policy, SessionEnd, run_session


class ScriptedStream:
    """A RemoteStream whose life the test scripts."""

    def __init__(self) -> None:
        self.started = False
        self.closed = False
        self.sent: list[bytes] = []

    async def start(self) -> None:
        self.started = True

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def resize(self, cols: int, rows: int) -> None:
        pass

    async def receive(self) -> bytes:
        await asyncio.Event().wait()
        return b""

    async def close(self) -> None:
        self.closed = True


class Recorder:
    """TerminateSession calls, warnings, and the order of what happened."""

    def __init__(self, *, fail: EcsExecError | None = None) -> None:
        self.fail = fail
        self.terminated = 0
        self.warnings: list[EcsExecError] = []
        self.events: list[str] = []

    def terminate(self) -> None:
        self.terminated += 1
        self.events.append("terminate")
        if self.fail is not None:
            raise self.fail

    def warn(self, warning: EcsExecError) -> None:
        self.events.append("warn")
        self.warnings.append(warning)

    def end(self) -> SessionEnd:
        return SessionEnd("sess-1", self.terminate, warn=self.warn)

    @contextlib.contextmanager
    def local_mode(self) -> Iterator[None]:
        self.events.append("mode-on")
        try:
            yield
        finally:
            self.events.append("mode-off")


async def forever() -> Ended | None:
    await asyncio.Event().wait()
    return None


def run(policy: Policy, recorder: Recorder, stream: ScriptedStream | None = None) -> int:
    stream = stream or ScriptedStream()
    return asyncio.run(run_session(stream, policy, recorder.end()))


def test_a_verdict_ends_the_session_without_terminating_it():
    recorder = Recorder()
    stream = ScriptedStream()
    finished: list[bool] = []

    async def ends() -> Ended:
        await asyncio.sleep(0)
        return Ended(7)

    async def finish() -> None:
        finished.append(stream.closed)

    policy = Policy(pumps=(forever, ends), finish=finish)
    assert run(policy, recorder, stream) == 7
    assert recorder.terminated == 0
    assert stream.started and stream.closed
    assert finished == [True]  # local output is flushed after the stream is closed


def test_a_pump_that_finishes_does_not_end_the_session():
    recorder = Recorder()
    order: list[str] = []
    gate = asyncio.Event()

    async def input_done() -> None:
        order.append("input")
        gate.set()

    async def output() -> Ended:
        await gate.wait()
        order.append("output")
        return Ended(0)

    assert run(Policy(pumps=(output, input_done)), recorder) == 0
    assert order == ["input", "output"]


def test_a_failure_terminates_the_session_and_is_raised():
    recorder = Recorder()

    async def lost() -> None:
        raise ConnectionLostError("gone")

    with pytest.raises(ConnectionLostError):
        run(Policy(pumps=(forever, lost)), recorder)
    assert recorder.terminated == 1
    assert recorder.warnings == []


def test_a_crash_terminates_the_session_too():
    recorder = Recorder()

    async def crash() -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        run(Policy(pumps=(crash,)), recorder)
    assert recorder.terminated == 1


def test_a_failed_connect_terminates_the_session():
    recorder = Recorder()

    class Unreachable(ScriptedStream):
        async def start(self) -> None:
            raise OSError("connection refused")

    stream = Unreachable()
    with pytest.raises(OSError, match="connection refused"):
        run(Policy(pumps=(forever,)), recorder, stream)
    assert recorder.terminated == 1
    assert stream.closed


def test_a_verdict_wins_over_a_failure_that_came_with_it():
    recorder = Recorder()

    async def fails_at_once() -> None:
        raise ConnectionLostError("the channel closed under the input pump")

    async def ends_at_once() -> Ended:
        return Ended(4)

    assert run(Policy(pumps=(fails_at_once, ends_at_once)), recorder) == 4
    assert recorder.terminated == 0


def test_an_ended_session_can_still_fail():
    recorder = Recorder()

    async def no_status() -> Ended:
        return Ended(255, error=RemoteProtocolError("no exit status"))

    with pytest.raises(RemoteProtocolError):
        run(Policy(pumps=(no_status,)), recorder)
    assert recorder.terminated == 0  # the remote side ended it


def test_local_stdout_closed_ends_and_terminates_the_session():
    recorder = Recorder()

    async def writes_to_a_closed_pipe() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    assert run(Policy(pumps=(forever, writes_to_a_closed_pipe)), recorder) == STDOUT_CLOSED
    assert STDOUT_CLOSED == 141
    assert recorder.terminated == 1


def test_pumps_that_all_finish_without_a_verdict_are_a_bug():
    recorder = Recorder()

    async def nothing() -> None:
        return None

    with pytest.raises(InvalidStateError):
        run(Policy(pumps=(nothing, nothing)), recorder)
    assert recorder.terminated == 1


def test_the_other_pumps_are_cancelled_and_drained():
    recorder = Recorder()
    cancelled: list[bool] = []

    async def long_running() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def ends() -> Ended:
        await asyncio.sleep(0)
        return Ended(0)

    assert run(Policy(pumps=(long_running, ends)), recorder) == 0
    assert cancelled == [True]


# -- signals -------------------------------------------------------------------------------


def test_a_stop_signal_ends_the_session_with_128_plus_n():
    recorder = Recorder()
    before = signal.getsignal(signal.SIGTERM)

    async def signalled() -> None:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.Event().wait()

    assert run(Policy(pumps=(signalled,)), recorder) == 128 + signal.SIGTERM
    assert recorder.terminated == 1
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is gone again


def test_a_stop_signal_while_connecting():
    recorder = Recorder()

    class Hanging(ScriptedStream):
        async def start(self) -> None:
            signal.raise_signal(signal.SIGHUP)
            await asyncio.Event().wait()

    pumped: list[bool] = []

    async def pump() -> None:
        pumped.append(True)

    assert run(Policy(pumps=(pump,)), recorder, Hanging()) == 128 + signal.SIGHUP
    assert recorder.terminated == 1
    assert pumped == []


def test_the_interrupt_lets_the_remote_end_by_itself():
    recorder = Recorder()
    remote_done = asyncio.Event()
    asked: list[int] = []

    async def signalled() -> None:
        signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()

    async def output() -> Ended:
        await remote_done.wait()
        await asyncio.sleep(0)  # the exit handshake, after the interrupt has returned
        return Ended(3)  # the remote command's own answer to the interrupt

    async def interrupt(signum: int) -> int:
        asked.append(signum)
        remote_done.set()
        return 3

    policy = Policy(pumps=(output, signalled), interrupt=interrupt, interrupt_grace=600)
    assert run(policy, recorder) == 130  # the signal ended it: 128+N, as README documents
    assert asked == [signal.SIGINT]
    assert recorder.terminated == 0  # it ended by itself: nothing to terminate


def test_an_interrupt_without_an_answer_terminates_at_once():
    recorder = Recorder()

    async def signalled() -> None:
        signal.raise_signal(signal.SIGHUP)
        await asyncio.Event().wait()

    async def interrupt(signum: int) -> None:
        return None  # no exit record within its own bound

    policy = Policy(pumps=(signalled,), interrupt=interrupt, interrupt_grace=600)
    assert run(policy, recorder) == 128 + signal.SIGHUP
    assert recorder.terminated == 1


def test_the_interrupt_is_bounded_by_the_grace():
    recorder = Recorder()

    async def signalled() -> None:
        signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()

    async def interrupt(signum: int) -> int:
        await asyncio.Event().wait()  # a hook that never returns
        return 0

    policy = Policy(pumps=(signalled,), interrupt=interrupt, interrupt_grace=0.01)
    assert run(policy, recorder) == 130
    assert recorder.terminated == 1


def test_a_second_signal_cuts_the_interrupt_short():
    recorder = Recorder()

    async def signalled() -> None:
        signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()

    async def interrupt(signum: int) -> int:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.Event().wait()
        return 0

    policy = Policy(pumps=(signalled,), interrupt=interrupt, interrupt_grace=600)
    assert run(policy, recorder) == 130  # the first signal decides the status
    assert recorder.terminated == 1


def test_a_failure_while_interrupting_is_the_interrupts_doing():
    recorder = Recorder()
    killed = asyncio.Event()

    async def signalled() -> None:
        signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()

    async def output() -> None:
        await killed.wait()
        raise RemoteProtocolError("the session ended before the exit status")

    async def interrupt(signum: int) -> int:
        killed.set()
        await asyncio.Event().wait()
        return 0

    policy = Policy(pumps=(output, signalled), interrupt=interrupt, interrupt_grace=600)
    assert run(policy, recorder) == 130
    assert recorder.terminated == 1


def test_other_signals_go_to_the_policy():
    recorder = Recorder()
    winched = asyncio.Event()

    async def resize_and_end() -> Ended:
        signal.raise_signal(signal.SIGWINCH)
        await winched.wait()
        return Ended(0)

    policy = Policy(pumps=(resize_and_end,), on_signal={signal.SIGWINCH: winched.set})
    assert run(policy, recorder) == 0


# -- TerminateSession failures -------------------------------------------------------------


def test_a_failed_terminate_is_a_warning_after_the_terminal_is_restored():
    recorder = Recorder(fail=ConnectionLostError("AccessDenied on ssm:TerminateSession"))

    async def signalled() -> None:
        signal.raise_signal(signal.SIGTERM)
        await asyncio.Event().wait()

    policy = Policy(pumps=(signalled,), local_mode=recorder.local_mode)
    assert run(policy, recorder) == 143
    (warning,) = recorder.warnings
    assert isinstance(warning, SessionNotTerminatedError)
    assert warning.session_id == "sess-1"
    assert "sess-1" in str(warning) and "may still be running" in str(warning)
    assert "AccessDenied" in str(warning)
    assert warning.hint and "aws ssm terminate-session --session-id sess-1" in warning.hint
    assert recorder.events == ["mode-on", "terminate", "mode-off", "warn"]


def test_a_failed_terminate_comes_with_the_sessions_own_error():
    recorder = Recorder(fail=ConnectionLostError("no network"))

    async def lost() -> None:
        raise ConnectionLostError("gone")

    with pytest.raises(ConnectionLostError, match="gone"):
        run(Policy(pumps=(lost,)), recorder)
    assert [type(w) for w in recorder.warnings] == [SessionNotTerminatedError]


def test_a_hanging_terminate_is_bounded():
    import threading

    release = threading.Event()
    warnings: list[EcsExecError] = []

    async def main() -> None:
        end = SessionEnd("sess-2", lambda: release.wait(30) and None, warn=warnings.append)
        end.timeout = 0.01
        await end.terminate()
        end.report()

    try:
        asyncio.run(main())
    finally:
        release.set()
    (warning,) = warnings
    assert "no answer within" in str(warning)


def test_terminate_now_covers_failures_outside_the_loop_once():
    recorder = Recorder()
    end = recorder.end()
    end.terminate_now()
    end.terminate_now()
    assert recorder.terminated == 1

    failing = Recorder(fail=ConnectionLostError("denied"))
    end = failing.end()
    end.terminate_now()
    assert [w.session_id for w in failing.warnings if isinstance(w, SessionNotTerminatedError)] == [
        "sess-1"
    ]
