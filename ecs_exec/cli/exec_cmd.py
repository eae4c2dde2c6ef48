"""The exec command (the root command): settings -> ExecRequest -> runner."""

from __future__ import annotations

import functools

from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.report import print_warning
from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.session.runner import ExecRequest, plan_request, run_exec


def plan_exec(
    invocation: Invocation,
    settings: Settings,
    *,
    interactive: bool,
    pipe: str | None,
    notes: bool = True,
) -> ExecRequest:
    """The session to run for these flags, the remote command and the terminal (exec, run and
    fan-out alike); with ``notes``, what plan_request noted goes to stderr unless --quiet.

    Raises:
        UsageError: as plan_request.
    """
    request, found = plan_request(
        interactive=interactive,
        pipe=pipe,
        argv=invocation.remote_argv,
        console=invocation.console,
        transport=settings.transport,
        quiet=settings.quiet,
    )
    if notes and not request.quiet:
        for note in found:
            invocation.console.write_err(f"ecs-exec: note: {note}\n")
    return request


def run_exec_command(
    invocation: Invocation, settings: Settings, *, interactive: bool, pipe: str | None
) -> int:
    console = invocation.console
    request = plan_exec(invocation, settings, interactive=interactive, pipe=pipe)
    picker = None
    # The picker reads keys from stdin and draws on stderr: both must be terminals.
    if console.stdin_isatty and console.stderr_isatty:
        from ecs_exec.local.picker import pick_task

        picker = pick_task
    with aws_clients(settings) as clients:
        return run_exec(
            clients,
            settings.target,
            request,
            console,
            picker=picker,
            warn=functools.partial(print_warning, console),
        )
