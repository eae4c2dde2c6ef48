"""The exec command (the root command): settings -> ExecRequest -> runner."""

from __future__ import annotations

import functools

from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.report import print_warning
from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.session.runner import plan_request, run_exec


def run_exec_command(
    invocation: Invocation,
    settings: Settings,
    *,
    interactive: bool,
    pipe: str | None,
    transport: str,
) -> int:
    console = invocation.console
    request, notes = plan_request(
        interactive=interactive,
        pipe=pipe,
        argv=invocation.remote_argv,
        console=console,
        transport=transport,
        quiet=settings.quiet,
    )
    if not request.quiet:
        for note in notes:
            console.write_err(f"ecs-exec: note: {note}\n")
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
