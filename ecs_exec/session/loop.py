"""The one session loop: pumps, signals and the end of a session, for every kind of session.

An interactive terminal, a one-off command and the drop-in's shell differ only in their
``Policy``: which pumps move bytes, which signals they handle, how the local terminal is
set, what a stop signal does first. Everything else is here, once:

* connect the stream, then start the pumps (the task watcher is one more pump);
* the first pump that says the session is over (an ``Ended`` verdict, or an error) ends it;
  the rest are cancelled and drained;
* SIGINT, SIGTERM and SIGHUP (the policy's stop signals) end it with 128+N, after the
  policy's bounded ``interrupt`` has given the remote command a chance to stop by itself
  (a one-off's script then sends SIGINT, SIGTERM and cleans up; a second signal cuts it
  short);
* local stdout closed (``ecs-exec ... | head``) ends it at once with 128+SIGPIPE, as the
  command would end locally;
* a session that did not end by itself is terminated (ssm:TerminateSession) on the way out,
  whatever ended it, so a remote command never runs on unsupervised; when that fails, the
  caller's ``warn`` gets a ``SessionNotTerminatedError`` naming the session.

``SessionEnd`` is the promise made the moment ExecuteCommand succeeds: the session is ended
exactly once, by the loop or, for a failure before the loop runs, by ``terminate_now``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from ecs_exec.errors import EcsExecError, InvalidStateError, SessionNotTerminatedError
from ecs_exec.timing import mark
from ecs_exec.transports.base import RemoteStream

logger = logging.getLogger("ecs_exec.session.loop")

#: The signals that end a session by default (each exits 128+N).
STOP_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The exit status when local stdout (or stderr) was closed under the session.
STDOUT_CLOSED = 128 + signal.SIGPIPE
#: The longest a session may take to end after a stop signal (``Policy.interrupt_grace``).
INTERRUPT_GRACE = 10.0
#: How long ssm:TerminateSession may take before the session is reported as not ended.
TERMINATE_TIMEOUT = 10.0
#: How long closing the stream (websocket close, stopping the plugin) may take.
CLOSE_TIMEOUT = 5.0

#: Receives warnings (never raised): the CLI shows them, the library never prints.
Warn = Callable[[EcsExecError], None]


@dataclass(frozen=True)
class Ended:
    """A pump's verdict: the session is over.

    Args:
        status: the exit status to return.
        normal: the remote side ended the session itself (exit record, exit marker,
            channel_closed), so there is nothing to terminate.
        error: raise this instead of returning ``status`` (for example, the session ended
            without an exit status).
    """

    status: int
    normal: bool = True
    error: EcsExecError | None = None


#: A pump: runs until it has a verdict (``Ended``), has nothing more to do (None: the
#: session goes on without it), or fails (the session is over with that error).
Pump = Callable[[], Awaitable[Ended | None]]


@dataclass
class Policy:
    """One kind of session, as the loop runs it.

    Args:
        pumps: started once the stream is connected; see ``Pump``.
        on_signal: signals handled without ending the session (SIGWINCH, signals forwarded
            as bytes); the callbacks run on the event loop and must not block.
        stop_signals: signals that end the session with 128+N.
        interrupt: called on the first stop signal while the pumps keep running, to ask the
            remote command to stop and wait (bounded) for it to report; returns its exit
            status, or None when it did not report (the session is then terminated at once).
            When it reported, the pumps finish the session (the exit handshake). A second
            stop signal ends the session at once; the status is 128+N either way.
        interrupt_grace: an outer bound on the whole stop: the session is terminated when it
            has not ended this long after the first stop signal.
        local_mode: the local terminal's mode for the session (raw, cbreak), restored
            before warnings are shown.
        finish: flushes local output; runs after the remote session has ended or been
            terminated, so a slow consumer of stdout never delays TerminateSession.
    """

    pumps: Sequence[Pump]
    on_signal: Mapping[int, Callable[[], None]] = field(default_factory=dict)
    stop_signals: tuple[int, ...] = STOP_SIGNALS
    interrupt: Callable[[int], Awaitable[int | None]] | None = None
    interrupt_grace: float = INTERRUPT_GRACE
    local_mode: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext
    finish: Callable[[], Awaitable[None]] | None = None


class SessionEnd:
    """Ends a session that ExecuteCommand started, exactly once; a failure goes to ``warn``.

    Args:
        session_id: the session, for the warning.
        terminate: the blocking ssm:TerminateSession call (run in a thread, bounded).
        warn: receives a ``SessionNotTerminatedError`` when TerminateSession fails.
        timeout: how long TerminateSession may take.
    """

    def __init__(
        self,
        session_id: str,
        terminate: Callable[[], None],
        *,
        warn: Warn,
        timeout: float = TERMINATE_TIMEOUT,
    ) -> None:
        self.session_id = session_id
        self._terminate = terminate
        self._warn = warn
        self.timeout = timeout
        #: The session has ended, by itself or by TerminateSession (successful or not).
        self.settled = False
        self._pending: list[EcsExecError] = []

    def ended_by_remote(self) -> None:
        """The remote side ended the session: nothing to terminate."""
        self.settled = True

    async def terminate(self) -> None:
        """TerminateSession unless settled; a failure is kept for ``report``."""
        if self.settled:
            return
        self.settled = True
        done = asyncio.get_running_loop().create_future()
        self._start_call(lambda error: _resolve_threadsafe(done, error))
        try:
            error = await asyncio.wait_for(asyncio.shield(done), timeout=self.timeout)
        except TimeoutError:
            error = f"no answer within {self.timeout:.0f} s"
        if error is not None:
            self._pending.append(self._not_terminated(error))

    def terminate_now(self) -> None:
        """Blocking ``terminate`` + ``report``, for a failure outside the event loop."""
        if self.settled:
            self.report()
            return
        self.settled = True
        finished = threading.Event()
        errors: list[str | None] = []

        def done(error: str | None) -> None:
            errors.append(error)
            finished.set()

        self._start_call(done)
        if not finished.wait(self.timeout):
            errors.append(f"no answer within {self.timeout:.0f} s")
        if errors[0] is not None:
            self._pending.append(self._not_terminated(errors[0]))
        self.report()

    def report(self) -> None:
        """Hand the warnings collected so far to ``warn`` (once the terminal is restored)."""
        pending, self._pending = self._pending, []
        for warning in pending:
            self._warn(warning)

    def _start_call(self, done: Callable[[str | None], None]) -> None:
        # A daemon thread, not the loop's executor: asyncio.run() joins executor threads on
        # the way out, so a TerminateSession stuck on the network would hold the exit.
        def call() -> None:
            try:
                self._terminate()
            except EcsExecError as exc:
                done(str(exc))
            except Exception as exc:  # a bug or botocore surprise: still report, never hide
                logger.debug("TerminateSession raised", exc_info=True)
                done(f"{type(exc).__name__}: {exc}")
            else:
                logger.debug("terminated session %s", self.session_id)
                done(None)

        threading.Thread(target=call, name="ecs-exec-terminate", daemon=True).start()

    def _not_terminated(self, why: str) -> SessionNotTerminatedError:
        return SessionNotTerminatedError(
            f"could not terminate session {self.session_id} ({why}); "
            "the remote command may still be running",
            session_id=self.session_id,
            hint=f"end it with: aws ssm terminate-session --session-id {self.session_id}",
        )


def _resolve_threadsafe(future: asyncio.Future[str | None], error: str | None) -> None:
    def resolve() -> None:
        if not future.done():
            future.set_result(error)

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
        future.get_loop().call_soon_threadsafe(resolve)


async def run_session(
    stream: RemoteStream,
    policy: Policy,
    end: SessionEnd,
    *,
    extra_pumps: Iterable[Pump] = (),
    connect: Callable[[], Awaitable[None]] | None = None,
) -> int:
    """Run a session to its end and return its exit status.

    Args:
        stream: the session's stream, not yet started.
        policy: the kind of session.
        end: ends the remote session on every way out that did not end it already.
        extra_pumps: more pumps (the task watcher).
        connect: starts the stream; ``stream.start`` when None.

    Raises:
        EcsExecError: the session failed (after being terminated).
    """
    loop = SessionLoop(stream, policy, end, extra_pumps=extra_pumps, connect=connect)
    return await loop.run()


class SessionLoop:
    """The state of one ``run_session`` call (see the module docstring)."""

    def __init__(
        self,
        stream: RemoteStream,
        policy: Policy,
        end: SessionEnd,
        *,
        extra_pumps: Iterable[Pump] = (),
        connect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.stream = stream
        self.policy = policy
        self.end = end
        self.pumps: tuple[Pump, ...] = (*policy.pumps, *extra_pumps)
        self.connect = connect or stream.start
        self.stops: list[int] = []
        self._stopped = asyncio.Event()

    async def run(self) -> int:
        running = asyncio.get_running_loop()
        handled = self._install_signals(running)
        ended: Ended | None = None
        try:
            with self.policy.local_mode():
                try:
                    ended = await self._drive()
                finally:
                    await self._end_remote(ended)
                    await self._finish_local(failed=ended is None)
        finally:
            # Still owed if entering the local mode failed.
            await self.end.terminate()
            for signum in handled:
                with contextlib.suppress(Exception):
                    running.remove_signal_handler(signum)
            self.end.report()
        assert ended is not None  # _drive returned
        if ended.error is not None:
            raise ended.error
        return ended.status

    # -- signals --------------------------------------------------------------------------

    def _install_signals(self, running: asyncio.AbstractEventLoop) -> list[int]:
        handlers: dict[int, Callable[[], None]] = dict(self.policy.on_signal)
        for signum in self.policy.stop_signals:
            handlers[signum] = self._stop_handler(signum)
        handled = []
        for signum, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                running.add_signal_handler(signum, handler)
                handled.append(signum)
        return handled

    def _stop_handler(self, signum: int) -> Callable[[], None]:
        def on_stop() -> None:
            logger.debug("signal %d: ending the session", signum)
            self.stops.append(signum)
            self._stopped.set()

        return on_stop

    def _stopped_status(self) -> Ended:
        # 130 for SIGINT (ExitStatus.INTERRUPTED), as shells report it.
        return Ended(128 + self.stops[0], normal=False)

    # -- the session ----------------------------------------------------------------------

    async def _drive(self) -> Ended:
        connecting = asyncio.ensure_future(self.connect())
        if not await self._unless_stopped(connecting):
            return self._stopped_status()
        connecting.result()
        mark("stream_open")
        tasks = [asyncio.ensure_future(pump()) for pump in self.pumps]
        try:
            return await self._supervise(tasks)
        finally:
            await _cancel_all(tasks)

    async def _unless_stopped(self, task: asyncio.Future[None]) -> bool:
        """Wait for ``task``; False (and the task cancelled) if a stop signal came first."""
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            await _cancel_all([task])
            raise
        finally:
            stop.cancel()
        if task.done():
            return True
        await _cancel_all([task])
        return False

    async def _supervise(self, tasks: Sequence[asyncio.Future[Ended | None]]) -> Ended:
        pending: set[asyncio.Future[Any]] = set(tasks)
        stop = asyncio.ensure_future(self._stopped.wait())
        helpers: set[asyncio.Future[Any]] = {stop}
        interrupting: asyncio.Future[int | None] | None = None
        grace: asyncio.Future[None] | None = None
        try:
            while True:
                done, _ = await asyncio.wait(pending | helpers, return_when=asyncio.FIRST_COMPLETED)
                finished = [task for task in tasks if task in done]
                pending.difference_update(finished)
                verdict = self._verdict(finished, stopping=interrupting is not None)
                if verdict is not None:
                    return verdict
                if stop in done:
                    if interrupting is not None or self.policy.interrupt is None:
                        return self._stopped_status()  # a second signal, or nothing to wait for
                    # The first stop signal: ask the remote command to stop, and let the
                    # session end by itself if it does; a second signal cuts it short.
                    self._stopped.clear()
                    stop = asyncio.ensure_future(self._stopped.wait())
                    interrupting = asyncio.ensure_future(self._interrupt())
                    grace = asyncio.ensure_future(asyncio.sleep(self.policy.interrupt_grace))
                    helpers = {stop, interrupting, grace}
                    continue
                if grace is not None and grace in done:
                    logger.debug("the session did not end within the interrupt grace")
                    return self._stopped_status()
                if interrupting is not None and interrupting in done:
                    helpers.discard(interrupting)
                    if interrupting.result() is None:
                        return self._stopped_status()  # the remote did not report: end it
                    # It reported: its pumps finish the exit handshake and give the verdict.
                if not pending:
                    raise InvalidStateError("every pump finished without ending the session")
        finally:
            await _cancel_all(helpers)

    async def _interrupt(self) -> int | None:
        assert self.policy.interrupt is not None
        try:
            return await self.policy.interrupt(self.stops[0])
        except Exception as exc:  # best effort: the session is terminated instead
            logger.debug("interrupting the remote command failed: %r", exc)
            return None

    def _verdict(
        self, finished: list[asyncio.Future[Ended | None]], *, stopping: bool
    ) -> Ended | None:
        """The session's end from the pumps that finished, in pump order: an ``Ended``
        wins over a failure that came with it (the failure is then its consequence).
        After a stop signal the status is 128+N whatever the pumps say: the signal ended it."""
        failure: BaseException | None = None
        for task in finished:
            if task.cancelled():
                failure = failure or asyncio.CancelledError()
                continue
            exc = task.exception()
            if exc is None:
                result = task.result()
                if result is not None:
                    if stopping:
                        return Ended(self._stopped_status().status, normal=result.normal)
                    return result
            elif failure is None:
                failure = exc
        if failure is None:
            return None
        if isinstance(failure, BrokenPipeError):
            logger.debug("local output closed: ending the session")
            return Ended(STDOUT_CLOSED, normal=False)
        if stopping:
            # Whatever broke while the remote command was being stopped is the stop's doing.
            logger.debug("after a stop signal: %r", failure)
            return self._stopped_status()
        raise failure

    # -- the way out ----------------------------------------------------------------------

    async def _end_remote(self, ended: Ended | None) -> None:
        if ended is not None and ended.normal:
            self.end.ended_by_remote()
        else:
            await self.end.terminate()
        try:
            await asyncio.wait_for(self.stream.close(), timeout=CLOSE_TIMEOUT)
        except Exception as exc:  # the session is over either way
            logger.debug("closing the stream: %r", exc)

    async def _finish_local(self, *, failed: bool) -> None:
        if self.policy.finish is None:
            return
        try:
            await self.policy.finish()
        except Exception as exc:
            if not failed:
                raise  # e.g. stdout on a full disk: the output is incomplete
            logger.debug("flushing local output after a failure: %r", exc)


async def _cancel_all(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel and drain; what they raise on the way out is no longer news."""
    futures = list(tasks)
    for task in futures:
        task.cancel()
    for task in futures:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
