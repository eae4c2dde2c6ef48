"""The fan-out: one command on many tasks, as concurrent sessions in one event loop.

Each task's session is the single exec's (``session.runner.start_session`` and
``run_started``: the same command, transport, one-off policy and session loop, which ends
the session on every way out), with its local side swapped for the fan-out's:

* output goes to per-task sinks (:mod:`.output`) instead of the descriptors;
* stdin, when attached, comes from one spool read before the first session (:mod:`.spool`);
* signals are the fan-out's: Ctrl-C, SIGTERM or SIGHUP stop starting sessions and
  terminate the running ones (each session's *stop pump* raises, and its loop calls
  TerminateSession), then the summary so far is printed;
* one DescribeTasks loop for all running sessions replaces each session's task check;
* ``--timeout`` is one more pump per session; ``--fail-fast`` sets the same stop as a
  signal on the first failure;
* ExecuteCommand waits for a token of the shared bucket and is retried with jitter while
  throttled (:mod:`.throttle`), with progress notes on stderr.

At most ``--parallel`` sessions run at a time (a semaphore); memory per session is bounded
by the transport's output buffer (:data:`OUTPUT_HIGH_WATER`), the sinks' limits and the
spool's read size.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import ExecTarget, TargetSpec
from ecs_exec.errors import (
    EcsExecError,
    SessionCancelledError,
    SessionTimedOutError,
    TaskStoppedError,
    ThrottledError,
)
from ecs_exec.fanout.output import CaptureSink, LineSink, OrderedOutput, labels, short_ids
from ecs_exec.fanout.request import FanoutRequest
from ecs_exec.fanout.results import Status, TaskResult, exit_status, summary_lines
from ecs_exec.fanout.spool import StdinSpool
from ecs_exec.fanout.targets import FanoutTargets, resolve_targets
from ecs_exec.fanout.throttle import START_DEADLINE, StartThrottle
from ecs_exec.fanout.watch import TaskWatcher
from ecs_exec.local.terminal import Console
from ecs_exec.session.loop import STOP_SIGNALS, Warn
from ecs_exec.session.runner import (
    SessionIO,
    StartedSession,
    check_before_session,
    run_started,
    start_session,
    task_poll_seconds,
)

logger = logging.getLogger("ecs_exec.fanout")

#: The native transport's output buffer per session (its default is 1 MiB, for one session).
OUTPUT_HIGH_WATER = 256 * 1024
#: Threads for the blocking AWS calls (ExecuteCommand, the task check); botocore's
#: connection pool holds 10.
AWS_THREADS = 8
#: Seconds between progress notes while ExecuteCommand is throttled.
PROGRESS_INTERVAL = 2.0

T = TypeVar("T")


class _Stopped(Exception):
    """The run stopped while this task waited to start."""


def run_fanout(
    clients: AwsClients, spec: TargetSpec, request: FanoutRequest, console: Console, *, warn: Warn
) -> int:
    """Resolve the targets, run the command on each, print the summary; the exit status.

    Raises:
        EcsExecError: the targets could not be resolved (nothing was started).
    """
    from ecs_exec.session.oneoff import heartbeat_seconds

    api = EcsApi(clients.ecs, profile=clients.settings.profile)
    targets = resolve_targets(api, spec, all_tasks=request.all_tasks, refs=request.task_refs)
    poll, heartbeat = task_poll_seconds(), heartbeat_seconds()
    check_before_session(request.exec_request, console)
    fanout = Fanout(clients, api, targets, request, console, poll=poll, heartbeat=heartbeat)
    try:
        return asyncio.run(fanout.run())
    finally:
        for warning in fanout.warnings:
            warn(warning)


class Fanout:
    """One fan-out run (see the module docstring)."""

    def __init__(
        self,
        clients: AwsClients,
        api: EcsApi,
        targets: FanoutTargets,
        request: FanoutRequest,
        console: Console,
        *,
        poll: float,
        heartbeat: float,
    ) -> None:
        self.clients = clients
        self.api = api
        # One attempt per call: throttling must reach the bucket, not botocore's retries.
        self.exec_api = EcsApi(clients.without_retries().ecs, profile=clients.settings.profile)
        self.targets = targets
        self.request = request
        self.exec_request = request.exec_request
        self.console = console
        self.poll = poll
        self.heartbeat = heartbeat
        self.results: list[TaskResult] = []
        self.warnings: list[EcsExecError] = []
        self.signal: int | None = None
        self.stdout_closed = False
        self.fail_fast_by: str | None = None
        self.started = 0
        self.settled = 0  # tasks whose start succeeded or failed for good
        keys = [(t.task.id, t.container.name) for t in targets.ready]
        self.show_container = len({name for _, name in keys}) > 1
        self.short = short_ids(
            [t.task.id for t in targets.ready] + [s.task.id for s in targets.skipped]
        )
        self.labels = labels(
            keys,
            show_container=self.show_container,
            colour=console.stdout_isatty and "NO_COLOR" not in console.environ,
        )
        self.err_labels = labels(
            keys,
            show_container=self.show_container,
            colour=console.stderr_isatty and "NO_COLOR" not in console.environ,
        )

    # -- the run --------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        begin = loop.time()
        self.stop = asyncio.Event()
        self.throttle = StartThrottle()
        self.output = OrderedOutput()
        self.executor = ThreadPoolExecutor(AWS_THREADS, thread_name_prefix="ecs-exec-aws")
        self.watcher = TaskWatcher(self.api, self.targets.cluster, self.poll, self.executor)
        self.spool: StdinSpool | None = None
        handled = self._install_signals(loop)
        helpers: list[asyncio.Future[None]] = []
        try:
            for skipped in self.targets.skipped:
                await self._finish(
                    TaskResult(
                        skipped.task.id,
                        skipped.task.arn,
                        skipped.container,
                        Status.NOT_READY,
                        error="; ".join(skipped.reasons),
                    )
                )
            ready = self.targets.ready
            if ready and self.exec_request.attach_stdin:
                with contextlib.suppress(_Stopped):
                    self.spool = await self._unless_stopped(StdinSpool.read(self.console.stdin_fd))
            helpers = [
                asyncio.ensure_future(self.watcher.run()),
                asyncio.ensure_future(self._progress(len(ready))),
            ]
            limit = self.request.parallel or len(ready) or 1
            slots = asyncio.Semaphore(limit)
            await asyncio.gather(*(self._one(target, slots) for target in ready))
            if self.throttle.throttled_calls:
                await self._note(
                    f"{self.started} of {len(ready)} sessions started "
                    f"({self.throttle.throttled_calls} throttled calls retried)"
                )
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await helper
            await self.output.close()
            for signum in handled:
                with contextlib.suppress(Exception):
                    loop.remove_signal_handler(signum)
            self.executor.shutdown(wait=False, cancel_futures=True)
            if self.spool is not None:
                self.spool.close()
        self.stdout_closed = self.stdout_closed or self.output.broken(self.console.stdout_fd)
        if not self.request.quiet:
            lines = summary_lines(
                self.results, self.short, elapsed=loop.time() - begin, signal=self.signal
            )
            self.console.write_err("\n".join(lines) + "\n")
        return exit_status(self.results, signal=self.signal, stdout_closed=self.stdout_closed)

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        handled = []
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._on_signal, signum)
                handled.append(signum)
        return handled

    def _on_signal(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
            logger.debug("signal %d: terminating every session", signum)
        self.stop.set()

    async def _unless_stopped(self, awaitable: Awaitable[T]) -> T:
        """Await unless the run stops first (then cancel it and raise ``_Stopped``)."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise _Stopped

    # -- one task -------------------------------------------------------------------------

    async def _one(self, target: ExecTarget, slots: asyncio.Semaphore) -> None:
        task = target.task
        result = TaskResult(task.id, task.arn, target.container.name, Status.CANCELLED)
        out: CaptureSink | None = None
        err: CaptureSink | None = None
        try:
            async with slots:
                if self.stop.is_set():
                    result.error = self._stop_reason()
                    return
                loop = asyncio.get_running_loop()
                try:
                    started = await self._start(target)
                except _Stopped:
                    result.error = self._stop_reason()
                    return
                except EcsExecError as exc:
                    result.status, result.error = Status.ERROR, str(exc)
                    return
                finally:
                    self.settled += 1
                # The task's clock (and --timeout) starts with its session.
                result.started_at = datetime.now(UTC)
                began = loop.time()
                io, out, err = self._session_io(target, began)
                try:
                    status = await run_started(
                        self.clients,
                        self.api,
                        target,
                        started,
                        self.exec_request,
                        self.console,
                        poll=self.poll,
                        heartbeat=self.heartbeat,
                        io=io,
                    )
                except SessionTimedOutError as exc:
                    result.status, result.error = Status.TIMED_OUT, str(exc)
                except SessionCancelledError:
                    result.error = self._stop_reason()
                except EcsExecError as exc:
                    result.status, result.error = Status.ERROR, str(exc)
                except Exception as exc:  # a bug must not take the other sessions down
                    logger.debug("session of task %s failed", task.id, exc_info=True)
                    result.status, result.error = Status.ERROR, f"{type(exc).__name__}: {exc}"
                else:
                    result.status, result.exit_status = Status.EXITED, status
                result.duration = loop.time() - began
                if self.output.broken(self.console.stdout_fd):
                    self.stdout_closed = True
                    result.status, result.exit_status = Status.CANCELLED, None
                    result.error = "local stdout was closed"
                    self.stop.set()
        finally:
            failed = not result.succeeded and result.status is not Status.CANCELLED
            if failed and self.request.fail_fast and not self.stop.is_set():
                self.fail_fast_by = task.id
                self.stop.set()
            await self._finish(result, out, err)

    def _stop_reason(self) -> str:
        if self.signal is not None:
            return f"interrupted by signal {self.signal}"
        if self.stdout_closed:
            return "local stdout was closed"
        return f"--fail-fast: task {self.short.get(self.fail_fast_by or '', '?')} failed"

    async def _start(self, target: ExecTarget) -> StartedSession:
        """ExecuteCommand through the bucket, retried with jitter while throttled.

        Raises:
            _Stopped: the run stopped first (a session started meanwhile is terminated).
            EcsExecError: ExecuteCommand failed, or stayed throttled past the deadline.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_DEADLINE
        call = functools.partial(
            start_session,
            self.clients,
            self.exec_api,
            target,
            self.exec_request,
            warn=self.warnings.append,
        )
        attempt = 0
        while True:
            await self._unless_stopped(self.throttle.acquire())
            future = loop.run_in_executor(self.executor, call)
            try:
                started = await asyncio.shield(future)
            except ThrottledError:
                self.throttle.throttled()
                if self.throttle.throttled_calls == 1:
                    await self._note(
                        "ExecuteCommand is throttled (ThrottlingException): spreading out "
                        "the session starts and retrying"
                    )
                if loop.time() >= deadline:
                    raise ThrottledError(
                        f"ExecuteCommand was still throttled after {START_DEADLINE:.0f} s",
                        hint="run fewer sessions at a time (--parallel) or ask AWS to raise "
                        "the account's ECS API rate limit",
                    ) from None
                await self._unless_stopped(asyncio.sleep(self.throttle.backoff(attempt)))
                attempt += 1
                continue
            except asyncio.CancelledError:
                future.add_done_callback(_terminate_when_started)
                raise
            self.throttle.succeeded()
            self.started += 1
            if self.stop.is_set():
                await started.end.terminate()
                started.end.report()
                raise _Stopped
            return started

    def _session_io(
        self, target: ExecTarget, began: float
    ) -> tuple[SessionIO, CaptureSink | None, CaptureSink | None]:
        key = (target.task.id, target.container.name)
        out: LineSink | CaptureSink
        err: LineSink | CaptureSink
        captured: tuple[CaptureSink, CaptureSink] | tuple[None, None] = (None, None)
        if self.request.output == "prefix":
            out = LineSink(self.output, self.console.stdout_fd, self.labels[key])
            err = LineSink(self.output, self.console.stderr_fd, self.err_labels[key])
        else:
            captured = out, err = CaptureSink(), CaptureSink()
        pumps: list[Callable[[], Awaitable[None]]] = [self._stop_pump, self._watch_pump(target)]
        if self.request.timeout is not None:
            pumps.append(self._timeout_pump(began, self.request.timeout))
        io = SessionIO(
            stdout=out,
            stderr=err,
            stdin=self.spool.reader if self.spool is not None else None,
            extra_pumps=tuple(pumps),
            handle_signals=False,
            watch_task=False,
            output_high_water=OUTPUT_HIGH_WATER,
        )
        return io, captured[0], captured[1]

    async def _stop_pump(self) -> None:
        await self.stop.wait()
        raise SessionCancelledError("the run was stopped; the session was terminated")

    def _watch_pump(self, target: ExecTarget) -> Callable[[], Awaitable[None]]:
        async def pump() -> None:
            reason = await self.watcher.stopped(target.task.arn)
            raise TaskStoppedError(f"task {target.task.id} stopped during the session{reason}")

        return pump

    def _timeout_pump(self, began: float, timeout: float) -> Callable[[], Awaitable[None]]:
        async def pump() -> None:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, began + timeout - loop.time()))
            raise SessionTimedOutError(
                f"timed out after {timeout:g} s (--timeout); the session was terminated"
            )

        return pump

    # -- reporting ------------------------------------------------------------------------

    async def _finish(
        self, result: TaskResult, out: CaptureSink | None = None, err: CaptureSink | None = None
    ) -> None:
        """Record a task's outcome and write what belongs to it (its group, its JSON line,
        or a line naming what went wrong)."""
        self.results.append(result)
        stdout, stderr = self.console.stdout_fd, self.console.stderr_fd
        name = self.short.get(result.task_id, result.task_id)
        try:
            if self.request.output == "json":
                line = result.to_json(
                    out.read_all() if out else b"", err.read_all() if err else b""
                )
                await self.output.write(stdout, line.encode() + b"\n")
                return
            if self.request.output == "group" and not self.request.quiet:
                await self.output.write(stderr, f"==> {name}: {_outcome(result)} <==\n".encode())
            if out is not None and err is not None:
                async for chunk in out.chunks():
                    await self.output.write(stdout, chunk)
                async for chunk in err.chunks():
                    await self.output.write(stderr, chunk)
            if self.request.output == "prefix" and result.error and not self.request.quiet:
                await self.output.write(
                    stderr, f"ecs-exec: task {name}: {_outcome(result)}\n".encode()
                )
        except OSError as exc:  # local stdout gone: the run stops (exit 141)
            logger.debug("writing the result of %s: %r", result.task_id, exc)
            if self.output.broken(stdout):
                self.stdout_closed = True
                self.stop.set()
        finally:
            for sink in (out, err):
                if sink is not None:
                    sink.discard()

    async def _progress(self, total: int) -> None:
        """A note on stderr every few seconds while ExecuteCommand is being throttled."""
        reported = 0
        while self.settled < total:
            await asyncio.sleep(PROGRESS_INTERVAL)
            throttled = self.throttle.throttled_calls
            if throttled > reported:
                reported = throttled
                await self._note(
                    f"ExecuteCommand is throttled: {self.started} of {total} sessions started, "
                    f"spreading out the rest ({throttled} throttled calls retried)"
                )

    async def _note(self, text: str) -> None:
        if not self.request.quiet:
            await self.output.write(self.console.stderr_fd, f"ecs-exec: {text}\n".encode())


def _outcome(result: TaskResult) -> str:
    if result.status is Status.EXITED:
        return f"exit {result.exit_status}"
    return f"{result.status.value}: {result.error}"


def _terminate_when_started(future: asyncio.Future[StartedSession]) -> None:
    """A session that ExecuteCommand started after its waiter was cancelled is ended."""
    if future.cancelled() or future.exception() is not None:
        return
    # terminate_now blocks (bounded): not on the event loop's thread.
    end = future.result().end
    threading.Thread(target=end.terminate_now, name="ecs-exec-terminate", daemon=True).start()


__all__ = ["Fanout", "run_fanout"]
