"""Exec on many tasks (--all, --tasks): flags -> FanoutRequest -> the fan-out engine.

``app`` imports this module for ``FanoutFlags`` on every start, so the session side is
imported only when a fan-out runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.errors import UsageError

if TYPE_CHECKING:
    from ecs_exec.cli.settings import Invocation, Settings


@dataclass(frozen=True)
class FanoutFlags:
    """The root command's fan-out flags, as given (None/False: not given)."""

    all_tasks: bool = False
    tasks: str | None = None
    parallel: int | None = None
    fail_fast: bool = False
    timeout: str | None = None
    group: bool | None = None
    output: str | None = None

    @property
    def fanout(self) -> bool:
        return self.all_tasks or self.tasks is not None

    def check_single(self) -> None:
        """Refuse fan-out-only flags on an exec of one task.

        Raises:
            UsageError: naming the first such flag.
        """
        given = [
            ("--parallel", self.parallel is not None),
            ("--fail-fast", self.fail_fast),
            ("--timeout", self.timeout is not None),
            ("--group" if self.group else "--prefix", self.group is not None),
            ("-o/--output", self.output is not None),
        ]
        for flag, present in given:
            if present:
                raise UsageError(
                    f"{flag} goes with --all or --tasks",
                    hint="add --all (every ready task) or --tasks ID,ID,... to run on many tasks",
                )


def run_fanout_command(
    invocation: Invocation,
    settings: Settings,
    flags: FanoutFlags,
    *,
    interactive: bool,
    pipe: str | None,
) -> int:
    from ecs_exec.cli.common import aws_clients
    from ecs_exec.cli.exec_cmd import plan_exec
    from ecs_exec.cli.report import print_warning
    from ecs_exec.fanout.engine import run_fanout
    from ecs_exec.fanout.request import plan_fanout

    console = invocation.console
    # No notes: their one case, no terminal for --interactive, is refused by plan_fanout.
    exec_request = plan_exec(invocation, settings, interactive=interactive, pipe=pipe, notes=False)
    request = plan_fanout(
        exec_request,
        all_tasks=flags.all_tasks,
        tasks=flags.tasks,
        task=settings.task,
        interactive=interactive,
        parallel=flags.parallel,
        fail_fast=flags.fail_fast,
        timeout=flags.timeout,
        output=flags.output or "text",
        group=bool(flags.group),
        quiet=settings.quiet,
    )
    with aws_clients(settings) as clients:
        return run_fanout(
            clients,
            settings.target,
            request,
            console,
            warn=functools.partial(print_warning, console),
        )
