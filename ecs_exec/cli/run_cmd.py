"""`ecs-exec run` (a session in a fresh task; `--cleanup`) and `ecs-exec ls --orphans`:
flags -> RunRequest + ExecRequest -> ``ecs_exec.run``."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import resolve_cluster
from ecs_exec.aws.runtask import TaskLauncher
from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.report import print_warning
from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.errors import EcsExecError, ExitStatus, UsageError
from ecs_exec.run.request import RunRequest, parse_duration, parse_environment


@dataclass(frozen=True)
class RunFlags:
    """The flags only `run` has (the shared ones are in Settings)."""

    task_definition: str | None = None
    env: tuple[str, ...] = ()
    env_files: tuple[Path, ...] = ()
    image: str | None = None
    cpu: int | None = None
    memory: int | None = None
    launch_type: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    public_ip: bool | None = None
    keep: bool = False
    max_lifetime: str = "1h"
    wait_timeout: str = "10m"
    interactive: bool = False
    pipe: str | None = None
    cleanup: bool = False
    older_than: str | None = None


def run_run_command(invocation: Invocation, settings: Settings, flags: RunFlags) -> int:
    _check_empty(flags)
    if flags.cleanup:
        return _cleanup(invocation, settings, flags)
    if flags.older_than is not None:
        raise UsageError("--older-than goes with --cleanup")
    from ecs_exec.cli.exec_cmd import plan_exec
    from ecs_exec.run.lifecycle import run_in_new_task

    console = invocation.console
    request = RunRequest(
        cluster=settings.cluster,
        service=settings.service,
        task_definition=flags.task_definition,
        container=settings.container,
        environment=parse_environment(flags.env, flags.env_files, console.environ),
        image=flags.image,
        cpu=flags.cpu,
        memory=flags.memory,
        launch_type=flags.launch_type.upper() if flags.launch_type else None,
        subnets=flags.subnets,
        security_groups=flags.security_groups,
        public_ip=flags.public_ip,
        keep=flags.keep,
        max_lifetime=parse_duration(flags.max_lifetime, "--max-lifetime"),
        wait_timeout=parse_duration(flags.wait_timeout, "--wait-timeout"),
        quiet=settings.quiet,
    )
    exec_request = plan_exec(invocation, settings, interactive=flags.interactive, pipe=flags.pipe)
    with aws_clients(settings) as clients:
        return run_in_new_task(
            clients,
            request,
            exec_request,
            console,
            warn=functools.partial(print_warning, console),
        )


def _check_empty(flags: RunFlags) -> None:
    for flag, value in (
        ("--task-definition", flags.task_definition),
        ("--image", flags.image),
        ("--launch-type", flags.launch_type),
    ):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} is empty", hint=f"give it a value, or leave {flag} out")
    for flag, values in (("--subnet", flags.subnets), ("--security-group", flags.security_groups)):
        if any(not v.strip() for v in values):
            raise UsageError(f"{flag} is empty", hint=f"give it an id, or leave {flag} out")


def _cleanup(invocation: Invocation, settings: Settings, flags: RunFlags) -> int:
    from ecs_exec.run.orphans import stop_orphans

    if invocation.remote_argv is not None or flags.interactive or flags.pipe is not None:
        raise UsageError("--cleanup stops tasks and runs no command")
    older = None if flags.older_than is None else parse_duration(flags.older_than, "--older-than")
    console = invocation.console
    with aws_clients(settings) as clients:
        api = EcsApi(clients.ecs, profile=clients.settings.profile)
        cluster = resolve_cluster(api, settings.cluster)
        launcher = TaskLauncher(clients.ecs, profile=clients.settings.profile)
        result = stop_orphans(launcher, cluster, older_than=older, service=settings.service)
    for task_id in result.stopped:
        console.write_out(f"stopped {task_id}\n")
    for revision in result.deregistered:
        console.write_out(f"deregistered {revision}\n")
    for what, why in result.failed:
        if ":" in what:  # a task definition revision
            message = f"could not deregister {what}: {why}"
            hint = f"aws ecs deregister-task-definition --task-definition {what}"
        else:
            message = f"could not stop task {what}: {why}"
            hint = f"aws ecs stop-task --cluster {cluster} --task {what}"
        print_warning(console, EcsExecError(message, hint=hint))
    if not settings.quiet:
        younger = f"; {result.skipped} younger than --older-than left" if result.skipped else ""
        console.write_err(
            f"ecs-exec: {len(result.stopped)} task(s) stopped in cluster {cluster}{younger}\n"
        )
    return ExitStatus.TOOL_FAILURE if result.failed else ExitStatus.SUCCESS


def run_ls_orphans(invocation: Invocation, settings: Settings, *, output: str) -> int:
    from ecs_exec.run.orphans import find_orphans

    with aws_clients(settings) as clients:
        api = EcsApi(clients.ecs, profile=clients.settings.profile)
        cluster = resolve_cluster(api, settings.cluster)
        launcher = TaskLauncher(clients.ecs, profile=clients.settings.profile)
        orphans = [o.to_json() for o in find_orphans(launcher, cluster, settings.service)]
    console = invocation.console
    if output == "json":
        console.write_out(json.dumps({"cluster": cluster, "orphans": orphans}, indent=2) + "\n")
        return ExitStatus.SUCCESS
    if not orphans:
        if not settings.quiet:
            console.write_err(f"ecs-exec: no task started by ecs-exec runs in {cluster}\n")
        return ExitStatus.SUCCESS
    columns = ("taskId", "lastStatus", "service", "startedBy", "createdAt", "expiresAt")
    rows = [[str(o.get(c) or "-") for c in columns] for o in orphans]
    header = ["TASK", "STATUS", "SERVICE", "STARTED BY", "CREATED", "EXPIRES"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        console.write_out("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        console.write_out("\n")
    return ExitStatus.SUCCESS
