"""Exec, end to end: resolve the target, call ExecuteCommand, run a mode over a transport.

Knows nothing of typer: the CLI builds an ``ExecRequest`` and a ``Console`` and calls
``run_exec``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.aws import ssm as aws_ssm
from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import EcsApi, ExecSession
from ecs_exec.aws.resolve import ExecTarget, Resolver, TargetSpec, TaskPicker
from ecs_exec.errors import ConfigurationError, EcsExecError, TaskStoppedError, UsageError
from ecs_exec.local.terminal import Console
from ecs_exec.session.loop import Policy, Pump, SessionEnd, Warn, run_session
from ecs_exec.timing import dump as dump_timings, mark
from ecs_exec.transports.base import RemoteStream

if TYPE_CHECKING:
    from ecs_exec.remote.command import StdinMode
    from ecs_exec.session.oneoff import OutputSink

logger = logging.getLogger("ecs_exec.session.runner")

#: How often a running session checks that its task is still running. When a task stops,
#: the agent dies with it and the service keeps the socket open until its 20-minute idle
#: timeout, so without this a session would hang that long. ECS_EXEC_TASK_POLL overrides it.
TASK_POLL_SECONDS = 10.0

#: The shell a session gets when no command is given: bash where the image has it, else sh.
DEFAULT_SHELL = (
    "sh",
    "-c",
    'if command -v bash >/dev/null 2>&1; then exec bash "$@"; else exec sh "$@"; fi',
    "sh",
)
TRANSPORTS = ("native", "plugin", "auto")


@dataclass(frozen=True)
class ExecRequest:
    """What to run and how.

    Args:
        argv: the remote argv, or None for the default shell.
        interactive: a terminal session (raw local terminal, remote PTY passthrough);
            otherwise a one-off framed command with exact streams and exit status.
        attach_stdin: stream local stdin into a one-off command.
        transport: "native", "plugin" or "auto" (auto is native: it needs no binary).
        quiet: no notes on stderr.
    """

    argv: tuple[str, ...] | None
    interactive: bool
    attach_stdin: bool
    transport: str = "native"
    quiet: bool = False

    @property
    def stdin_framing(self) -> StdinMode:
        """How stdin travels: raw over the 8-bit-clean native channel, base64 through the
        plugin's terminal, or not at all."""
        if not self.attach_stdin:
            return "none"
        return "base64" if self.transport == "plugin" else "raw"


def plan_request(
    *,
    interactive: bool,
    pipe: str | None,
    argv: list[str] | None,
    console: Console,
    transport: str = "native",
    quiet: bool = False,
) -> tuple[ExecRequest, list[str]]:
    """Decide the mode from flags and the terminal; returns the request and notes to show.

    Raises:
        UsageError: --pipe and a command after -- together, or an empty command.
    """
    notes: list[str] = []
    if pipe is not None and argv is not None:
        raise UsageError(
            "--pipe and a command after -- cannot be combined",
            hint="use --pipe 'CMD LINE' (run by sh -c) or -- CMD ARGS (exact argv), not both",
        )
    if argv is not None and not argv:
        raise UsageError("the command after -- is empty", hint="e.g. ecs-exec ... -- ls -l /")
    if pipe is not None and not pipe.strip():
        raise UsageError("--pipe needs a command line", hint="e.g. --pipe 'rails runner -'")
    if transport not in TRANSPORTS:
        raise UsageError(f"unknown transport '{transport}'", hint="use native, plugin or auto")
    remote: tuple[str, ...] | None = None
    if pipe is not None:
        remote = ("sh", "-c", pipe)
    elif argv is not None:
        remote = tuple(argv)
    wants_terminal = interactive or (remote is None and console.stdin_isatty)
    if wants_terminal and not console.stdin_isatty:
        notes.append("no terminal on stdin: running without one (stdin is streamed)")
        wants_terminal = False
    attach = not wants_terminal and (pipe is not None or not console.stdin_isatty)
    request = ExecRequest(
        argv=remote,
        interactive=wants_terminal,
        attach_stdin=attach,
        transport="native" if transport == "auto" else transport,
        quiet=quiet,
    )
    return request, notes


def run_exec(
    clients: AwsClients,
    spec: TargetSpec,
    request: ExecRequest,
    console: Console,
    *,
    warn: Warn,
    picker: TaskPicker | None = None,
) -> int:
    """Resolve, start the session and run it; returns the remote exit status.

    Once ExecuteCommand has succeeded, every way out ends the session (TerminateSession)
    unless it ended by itself; ``warn`` hears when that fails.

    Raises:
        EcsExecError: the session could not start, or failed.
    """
    mark("start")
    _prefetch_session_modules()
    api = EcsApi(clients.ecs, profile=clients.settings.profile)
    target = Resolver(api, picker=picker).resolve(spec)
    mark("resolved")
    poll = task_poll_seconds()
    from ecs_exec.session.oneoff import heartbeat_seconds

    heartbeat = heartbeat_seconds()
    check_before_session(request, console)
    started = start_session(clients, api, target, request, warn=warn)
    try:
        return asyncio.run(
            run_started(
                clients, api, target, started, request, console, poll=poll, heartbeat=heartbeat
            )
        )
    except BaseException:
        started.end.terminate_now()  # a failure before the loop took charge (it settles it)
        raise
    finally:
        mark("end")
        dump_timings()


@dataclass(frozen=True)
class StartedSession:
    """A session ExecuteCommand started: the nonce of its command, and the promise to end it."""

    session: ExecSession
    nonce: str
    end: SessionEnd


def start_session(
    clients: AwsClients,
    api: EcsApi,
    target: ExecTarget,
    request: ExecRequest,
    *,
    warn: Warn,
) -> StartedSession:
    """Build the command and call ExecuteCommand (blocking); from here the session must be
    ended on every way out (``run_started``, else ``end.terminate_now``).

    Raises:
        AwsError: ExecuteCommand failed (ThrottledError when throttled).
    """
    from ecs_exec.remote import new_nonce

    nonce = new_nonce()
    command = _build_command(request, nonce)
    session = api.execute_command(
        cluster=target.cluster,
        task_arn=target.task.arn,
        container=target.container.name,
        command=command,
    )
    mark("execute_command")
    logger.debug("session %s to %s", session.session_id, target.ssm_target)
    end = SessionEnd(
        session.session_id,
        lambda: aws_ssm.terminate_session(
            clients.ssm, session.session_id, profile=clients.settings.profile
        ),
        warn=warn,
    )
    return StartedSession(session=session, nonce=nonce, end=end)


@dataclass(frozen=True)
class SessionIO:
    """A one-off session's local side when it is not the console's (the fan-out runs many
    sessions in one loop: each writes to its own sinks, reads a shared spool, and leaves
    signals and the task check to the fan-out).

    Args:
        stdout, stderr: sinks for the command's streams.
        stdin: a new iterator over the input for this session.
        extra_pumps: more pumps (the fan-out's stop, timeout and task-stopped pumps).
        handle_signals: whether the session loop handles stop signals itself.
        watch_task: whether the session polls DescribeTasks for its own task.
        output_high_water: the native transport's output buffer (bytes), default its own.
    """

    stdout: OutputSink | None = None
    stderr: OutputSink | None = None
    stdin: Callable[[], AsyncIterator[bytes]] | None = None
    extra_pumps: tuple[Pump, ...] = ()
    handle_signals: bool = True
    watch_task: bool = True
    output_high_water: int | None = None


def check_before_session(request: ExecRequest, console: Console) -> None:
    """What can fail locally is checked before ExecuteCommand starts anything remotely.

    Raises:
        PluginError: --transport plugin and no plugin binary.
        TerminalError: an interactive session and no usable terminal.
    """
    if request.transport == "plugin":
        from ecs_exec.transports.official_plugin import find_plugin

        find_plugin()
    if request.interactive:
        from ecs_exec.session.interactive import check_terminal

        check_terminal(console)


def _prefetch_session_modules() -> None:
    """Import the session-side modules in a thread while the AWS calls wait on the network.

    They are needed a few hundred milliseconds later anyway; the import lock makes this
    safe, and the GIL is free while the main thread waits for ECS to answer.
    """
    import threading

    def load() -> None:
        import importlib

        for name in ("ecs_exec.transports.native", "ecs_exec.remote", "ecs_exec.session.oneoff"):
            importlib.import_module(name)

    threading.Thread(target=load, name="ecs-exec-prefetch", daemon=True).start()


def _build_command(request: ExecRequest, nonce: str) -> str:
    from ecs_exec.remote import build_interactive_command, build_oneoff_command

    if request.interactive:
        return build_interactive_command(request.argv, nonce=nonce)
    argv = request.argv or DEFAULT_SHELL
    return build_oneoff_command(
        list(argv),
        nonce=nonce,
        stdin_mode=request.stdin_framing,
        compress=True,
        # Raw output records need an 8-bit clean path; the plugin's local terminal is not.
        raw_output=request.transport != "plugin",
    )


def make_stream(
    clients: AwsClients,
    target: ExecTarget,
    session: ExecSession,
    request: ExecRequest,
    *,
    output_high_water: int | None = None,
) -> RemoteStream:
    """The transport the request asks for, not yet started (``output_high_water``: the
    native transport's output buffer, smaller when many sessions share the process)."""
    if request.transport == "plugin":
        from ecs_exec.transports.official_plugin import PluginStream

        return PluginStream(
            session,
            region=clients.region,
            profile=clients.settings.profile,
            target=target.ssm_target,
            ssm_endpoint=clients.ssm.meta.endpoint_url,
            clients=clients,
        )
    from ecs_exec.transports.native import NativeStream

    if output_high_water is not None:
        return NativeStream(
            session,
            clients=clients,
            target=target.ssm_target,
            output_high_water=output_high_water,
        )
    return NativeStream(session, clients=clients, target=target.ssm_target)


def task_poll_seconds() -> float:
    """The task-check interval, from ECS_EXEC_TASK_POLL or the default.

    Raises:
        ConfigurationError: the variable is not a positive number.
    """
    raw = os.environ.get("ECS_EXEC_TASK_POLL")
    if not raw:
        return TASK_POLL_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigurationError(
            f"ECS_EXEC_TASK_POLL='{raw}' is not a positive number of seconds",
            hint="unset it for the default of 10 seconds",
        )
    return value


async def watch_task(api: EcsApi, target: ExecTarget, interval: float) -> None:
    """Return never; raise TaskStoppedError once the task is no longer running.

    Raises:
        TaskStoppedError: the task is stopping or gone.
    """
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval)
        try:
            found = await loop.run_in_executor(
                None, api.describe_tasks, target.cluster, [target.task.arn]
            )
        except EcsExecError as exc:  # a throttled or failed check must not end a session
            logger.debug("task check failed: %s", exc)
            continue
        task = found[0] if found else None
        if task is None or task.stopping:
            why = f": {task.stopped_reason}" if task is not None and task.stopped_reason else ""
            raise TaskStoppedError(
                f"task {target.task.id} stopped during the session{why}",
                hint="the remote command ended with its container; start a new session "
                "on a running task",
            )


async def run_started(
    clients: AwsClients,
    api: EcsApi,
    target: ExecTarget,
    started: StartedSession,
    request: ExecRequest,
    console: Console,
    *,
    poll: float,
    heartbeat: float,
    io: SessionIO | None = None,
) -> int:
    """Run a started session to its end on the running event loop (the single exec and
    each of the fan-out's sessions); the session loop ends it on every way out.

    Raises:
        EcsExecError: the session failed (after being terminated).
    """
    from ecs_exec.remote import ExitMarkerFilter, StdinEncoder, StreamDecoder
    from ecs_exec.session.interactive import InteractiveSession
    from ecs_exec.session.oneoff import OneoffProtocol

    io = io or SessionIO()
    nonce, end = started.nonce, started.end
    stream = make_stream(
        clients, target, started.session, request, output_high_water=io.output_high_water
    )
    policy: Policy
    if request.interactive:
        policy = InteractiveSession(stream, console, marker=ExitMarkerFilter(nonce)).policy()
    else:
        policy = OneoffProtocol(
            stream,
            console,
            decoder=StreamDecoder(nonce),
            encoder=StdinEncoder(mode="base64" if request.stdin_framing == "base64" else "raw"),
            attach_stdin=request.attach_stdin,
            noise_to_stderr=request.transport != "plugin",
            heartbeat=heartbeat,
            stdout=io.stdout,
            stderr=io.stderr,
            stdin=io.stdin,
        ).policy()
    if not io.handle_signals:
        policy = dataclasses.replace(policy, stop_signals=(), on_signal={})

    async def watch() -> None:
        await watch_task(api, target, poll)

    pumps = (watch,) if io.watch_task else ()
    return await run_session(stream, policy, end, extra_pumps=(*pumps, *io.extra_pumps))
