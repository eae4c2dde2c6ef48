"""The exec command (the root command): flags and environment -> ExecRequest -> runner."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from ecs_exec.cli.common import aws_clients, target_spec
from ecs_exec.errors import EcsExecError
from ecs_exec.local.terminal import Console
from ecs_exec.session.runner import plan_request, run_exec

if TYPE_CHECKING:
    from ecs_exec.cli.app import CliState


def run_exec_command(
    state: CliState, *, interactive: bool, pipe: str | None, transport: str
) -> int:
    options = state.options
    if options.get("debug"):
        # ecs-exec's own logs only: botocore's DEBUG output includes response bodies, and
        # ExecuteCommand's carries the session token.
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s"
        )
        logging.getLogger("ecs_exec").setLevel(logging.DEBUG)
    console = Console.from_process()
    request, notes = plan_request(
        interactive=interactive,
        pipe=pipe,
        argv=state.remote_argv,
        console=console,
        transport=transport,
        quiet=bool(options.get("quiet")),
    )
    if not request.quiet:
        for note in notes:
            sys.stderr.write(f"ecs-exec: note: {note}\n")
    picker = None
    # The picker reads keys from stdin and draws on stderr: both must be terminals.
    if console.stdin_isatty and console.stderr_isatty:
        from ecs_exec.local.picker import pick_task

        picker = pick_task
    with aws_clients(state) as clients:
        return run_exec(
            clients, target_spec(options), request, console, picker=picker, warn=_print_warning
        )


def _print_warning(warning: EcsExecError) -> None:
    sys.stderr.write(f"ecs-exec: warning: {warning}\n")
    if warning.hint:
        sys.stderr.write(f"hint: {warning.hint}\n")
    sys.stderr.flush()
