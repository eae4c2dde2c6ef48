"""One `ecs-exec run`, start to end: plan, register or reuse a derived task definition, RunTask,
wait for the task and its exec agent (with progress), run the session through the exec
runner (``session.runner.run_exec``, exactly as against an existing task), then clean up.

Cleanup happens on every way out (docs/run.md#cleanup): StopTask with a reason naming
ecs-exec, then DeregisterTaskDefinition for the revisions this run registered; ``--keep``
leaves both and says how to get back in. SIGINT, SIGTERM and SIGHUP while the task starts
end the wait (exit 128+N) and clean up; during the session they belong to the session loop
(which ends the session with 128+N); during cleanup the first one is noted and the cleanup
goes on, a second one abandons it. Whatever cleanup could not do is printed as the AWS CLI
command that finishes it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import TargetSpec, resolve_cluster
from ecs_exec.aws.runtask import TaskLauncher, TaskState
from ecs_exec.errors import EcsExecError, TaskStartError
from ecs_exec.local.terminal import Console
from ecs_exec.run.plan import TAG_EXPIRES, ensure_task_definition, plan_launch
from ecs_exec.run.progress import Progress
from ecs_exec.run.request import RunRequest
from ecs_exec.session.loop import Warn
from ecs_exec.session.runner import ExecRequest, check_before_session, run_exec

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: The first DescribeTasks comes this soon after RunTask; the interval then grows to
#: POLL_MAX (a task takes tens of seconds to start on AWS, milliseconds in a fast sandbox).
POLL_FIRST = 0.1
POLL_MAX = 3.0
#: StopTask's reason is cut to this length.
REASON_MAX = 255
AGENT_HINT = (
    "the task role needs ssmmessages:CreateControlChannel, CreateDataChannel, "
    "OpenControlChannel and OpenDataChannel, and the task a route to ssmmessages "
    "(`ecs-exec doctor` checks these)"
)


class Interrupted(BaseException):
    """A stop signal arrived outside the session loop (BaseException, like
    KeyboardInterrupt: no ``except Exception`` may swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


@dataclass
class _Signals:
    """SIGINT, SIGTERM and SIGHUP outside the session: raise ``Interrupted`` at once, or
    only count while ``deferred`` (cleanup goes on; a second signal raises), or while
    ``held`` (raised when the hold ends)."""

    deferred: bool = False
    holding: bool = False
    received: list[int] = field(default_factory=list)
    #: Called on the first signal while deferred (to say that cleanup goes on).
    on_deferred: Callable[[int], None] | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.holding:
            return
        if not self.deferred or len(self.received) > 1:
            raise Interrupted(signum)
        if self.on_deferred is not None:
            self.on_deferred(signum)

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():  # signal.signal's rule
            for signum in SIGNALS:
                signal.signal(signum, self.handler)

    @contextmanager
    def held(self) -> Iterator[None]:
        """No Interrupted inside the block (RunTask: ECS may have started a task whose ARN
        only its answer carries); one that came meanwhile is raised after it."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.received:
            raise Interrupted(self.received[0])


@contextmanager
def _signals_raise() -> Iterator[_Signals]:
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    signals = _Signals()
    signals.install()
    try:
        yield signals
    finally:
        if threading.current_thread() is threading.main_thread():
            for signum, previous in saved.items():
                signal.signal(signum, previous)


@dataclass
class _Cleanup:
    """What this run must undo, and how it went."""

    launcher: TaskLauncher
    cluster: str
    console: Console
    quiet: bool
    task: TaskState | None = None
    registered: list[str] = field(default_factory=list)
    reason: str = "ecs-exec run ended"

    def run(self, *, keep: bool, container: str | None) -> None:
        steps: list[tuple[str, Callable[[], None]]] = []
        if self.task is not None and not keep:
            arn = self.task.arn
            steps.append(
                (
                    f"aws ecs stop-task --cluster {self.cluster} --task {self.task.id}",
                    lambda: self._stop(arn),
                )
            )
        if not keep:
            for td in self.registered:
                steps.append(
                    (
                        "aws ecs deregister-task-definition --task-definition "
                        + td.rsplit("/", 1)[-1],
                        lambda td=td: self.launcher.deregister(td),  # type: ignore[misc]
                    )
                )
        for index, (command, step) in enumerate(steps):
            try:
                step()
            except EcsExecError as exc:
                self._warn(f"cleanup failed: {exc}", f"finish it with: {command}")
            except Interrupted as exc:
                rest = "; ".join(c for c, _ in steps[index:])
                self._warn(f"cleanup abandoned ({exc.name})", f"finish it with: {rest}")
                raise
        if keep and self.task is not None:
            self._kept(container)

    def _stop(self, arn: str) -> None:
        assert self.task is not None
        self.launcher.stop(self.cluster, arn, self.reason[:REASON_MAX])
        if not self.quiet:
            self.console.write_err(f"ecs-exec: task {self.task.id} stopped\n")

    def _warn(self, message: str, hint: str) -> None:
        self.console.write_err(f"ecs-exec: warning: {message}\nhint: {hint}\n")

    def _kept(self, container: str | None) -> None:
        assert self.task is not None
        task_id = self.task.id
        expires = self.task.tags.get(TAG_EXPIRES)
        where = f" until {expires}, when its keep-alive ends" if expires else ""
        target = f" --container {container}" if container else ""
        self.console.write_err(
            f"ecs-exec: task {task_id} keeps running (--keep){where}\n"
            f"ecs-exec: exec into it: ecs-exec --cluster {self.cluster} --task {task_id}"
            f"{target} --interactive\n"
            f"ecs-exec: stop it: aws ecs stop-task --cluster {self.cluster} --task {task_id}\n"
        )


def run_in_new_task(
    clients: AwsClients,
    request: RunRequest,
    exec_request: ExecRequest,
    console: Console,
    *,
    warn: Warn,
) -> int:
    """Start a task, run the session in it, clean up; returns the remote exit status, or
    128+N after a stop signal.

    Raises:
        TaskStartError: the task could not start (cleaned up before this is raised).
        EcsExecError: any other failure (cleaned up too).
    """
    check_before_session(exec_request, console)  # no terminal: fail before starting anything
    launcher = TaskLauncher(clients.ecs, profile=clients.settings.profile)
    api = EcsApi(clients.ecs, profile=clients.settings.profile)
    progress = Progress(console, quiet=request.quiet)
    with _signals_raise() as signals:
        cleanup = _Cleanup(launcher, request.cluster or "", console, request.quiet)
        container: str | None = None
        started = False
        outcome: int | BaseException
        try:
            cluster = cleanup.cluster = resolve_cluster(api, request.cluster)
            plan = plan_launch(launcher, request, cluster)
            container = plan.container
            with signals.held():  # a registered revision is known only from the answer
                plan, registered = ensure_task_definition(launcher, plan)
                if registered:
                    cleanup.registered.append(plan.run_input.task_definition)
            if plan.derived is not None:
                verb = "registered" if registered else "reusing"
                progress.note(f"{verb} {plan.run_input.task_definition.rsplit('/', 1)[-1]}")
            with signals.held():
                cleanup.task = launcher.run_task(plan.run_input)
            progress.task_id = cleanup.task.id
            progress.phase(cleanup.task.last_status)
            ready = wait_until_ready(
                launcher,
                cleanup.task,
                cluster=cluster,
                container=plan.container,
                timeout=request.wait_timeout,
                progress=progress,
            )
            cleanup.task = ready
            progress.done(f"ready, exec into container {plan.container}")
            started = True
            outcome = run_exec(
                clients,
                TargetSpec(cluster=cluster, task=ready.arn, container=plan.container),
                exec_request,
                console,
                warn=warn,
            )
            cleanup.reason = f"ecs-exec run: the session ended (exit status {outcome})"
        except (Interrupted, KeyboardInterrupt) as exc:
            # KeyboardInterrupt: a Ctrl-C in the instant between the session loop's signal
            # handlers and these (asyncio restores Python's default SIGINT handler).
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            progress.close()
            when = "during the session" if started else "while the task was starting"
            name = signal.Signals(signum).name
            cleanup.reason = f"ecs-exec run: interrupted ({name}) {when}"
            outcome = 128 + signum
        except EcsExecError as exc:
            progress.close()
            cleanup.reason = f"ecs-exec run: {exc}"
            outcome = exc
        except BaseException as exc:  # a bug: still clean up, then let it show
            cleanup.reason = "ecs-exec run: ended by an internal error"
            outcome = exc
        signals.received.clear()
        signals.deferred = True
        signals.on_deferred = lambda signum: console.write_err(
            f"ecs-exec: {signal.Signals(signum).name}: cleaning up first "
            "(send it again to abandon the cleanup)\n"
        )
        signals.install()  # the session loop's asyncio handlers reset them on exit
        try:
            cleanup.run(keep=request.keep and started, container=container)
        except Interrupted as exc:
            if isinstance(outcome, int):
                outcome = 128 + exc.signum
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def wait_until_ready(
    launcher: TaskLauncher,
    task: TaskState,
    *,
    cluster: str,
    container: str,
    timeout: float,
    progress: Progress,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TaskState:
    """Poll DescribeTasks until the task runs and the target's exec agent runs.

    Raises:
        TaskStartError: the task stopped, its agent stopped, or ``timeout`` passed.
    """
    deadline = clock() + timeout
    delay = POLL_FIRST
    state = task
    while True:
        sleep(min(delay, max(0.0, deadline - clock())))
        delay = min(delay * 1.5, POLL_MAX)
        found = launcher.describe(cluster, task.arn)
        if found is None:
            raise TaskStartError(f"task {task.id} disappeared while starting", task_id=task.id)
        state = found
        if state.last_status in ("STOPPED", "DEPROVISIONING") or state.desired_status == "STOPPED":
            raise stopped_error(state, container)
        target = state.container(container)
        agent = target.agent_status if target else None
        if state.last_status == "RUNNING" and agent == "RUNNING":
            return state
        if state.last_status == "RUNNING" and agent == "STOPPED":
            why = f": {target.agent_reason}" if target and target.agent_reason else ""
            raise TaskStartError(
                f"the exec agent of container {container} in task {task.id} stopped{why}",
                task_id=task.id,
                hint=AGENT_HINT,
            )
        progress.phase(state.last_status)
        if clock() >= deadline:
            break
    if state.last_status == "RUNNING":
        raise TaskStartError(
            f"the exec agent of container {container} in task {task.id} did not start "
            f"within {timeout:g}s (--wait-timeout)",
            task_id=task.id,
            hint=AGENT_HINT,
        )
    raise TaskStartError(
        f"task {task.id} was still {state.last_status} after {timeout:g}s (--wait-timeout)",
        task_id=task.id,
        hint="raise --wait-timeout for a large image or a busy cluster",
    )


def stopped_error(state: TaskState, container: str) -> TaskStartError:
    """A task that stopped while starting, with ECS's reasons."""
    parts = [f"task {state.id} stopped while starting: {state.stopped_reason or 'no reason'}"]
    hint = None
    for c in state.containers:
        if c.reason and c.reason != state.stopped_reason:
            parts.append(f"container {c.name}: {c.reason}")
        elif c.exit_code not in (None, 0) and not c.reason:
            parts.append(f"container {c.name} exited with status {c.exit_code}")
    text = " ".join([state.stopped_reason or "", *(c.reason or "" for c in state.containers)])
    target = state.container(container)
    if "CannotPullContainerError" in text:
        hint = (
            "check the image name and tag, that the execution role may pull it, and that the "
            "subnets reach the registry"
        )
    elif "ResourceInitializationError" in text:
        hint = (
            "the task could not fetch its secrets or set up logging: check the execution "
            "role and the subnets' route to AWS services"
        )
    elif target is not None and (
        target.exit_code in (126, 127) or "executable file not found" in (target.reason or "")
    ):
        hint = (
            f"container {container} could not run the keep-alive, which needs sh and sleep in "
            "the image (BusyBox, or a distroless :debug image): see `Keep-alive` in the README"
        )
    return TaskStartError("; ".join(parts), task_id=state.id, hint=hint)
