"""What a fan-out run was asked to do: a typed, frozen request built from the flags.

Knows nothing of typer: the CLI passes the raw flag values to :func:`plan_fanout`, which
checks them (every bad value is a ``UsageError`` naming it and the fix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ecs_exec.errors import UsageError
from ecs_exec.session.runner import ExecRequest

#: Sessions at a time when --parallel is not given: enough to hide each session's start-up
#: (about a second against ECS) behind the others', few enough that a large service does not
#: open hundreds of websockets and pile onto ExecuteCommand's rate limit unasked.
DEFAULT_PARALLEL = 32

OutputMode = Literal["prefix", "group", "json"]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True)
class FanoutRequest:
    """One command on many tasks.

    Args:
        exec_request: the command, as for one task (always a one-off).
        all_tasks: every ready task of the service (or cluster).
        task_refs: the tasks named by --tasks (ids, ARNs or unique id prefixes), in order.
        parallel: sessions at a time; 0 means all at once.
        fail_fast: on the first failure, start nothing more and terminate the rest.
        timeout: seconds each task may run (from its ExecuteCommand), or None.
        output: prefix (lines as they come, tagged), group (a block per task as it ends)
            or json (one object per task, JSON lines).
        quiet: no notes, progress or summary on stderr.
    """

    exec_request: ExecRequest
    all_tasks: bool = False
    task_refs: tuple[str, ...] = ()
    parallel: int = DEFAULT_PARALLEL
    fail_fast: bool = False
    timeout: float | None = None
    output: OutputMode = "prefix"
    quiet: bool = False


def parse_task_refs(raw: str) -> tuple[str, ...]:
    """``--tasks`` as a tuple of references, duplicates dropped, order kept.

    Raises:
        UsageError: an empty list or an empty item.
    """
    refs = [part.strip() for part in raw.split(",")]
    if not raw.strip() or any(not ref for ref in refs):
        raise UsageError(
            f"--tasks '{raw}' has an empty task reference",
            hint="give task ids, ARNs or unique id prefixes separated by commas, "
            "e.g. --tasks 3f1a,9c2e",
        )
    return tuple(dict.fromkeys(refs))


def parse_duration(raw: str) -> float:
    """A duration: seconds (``90``, ``1.5``) or with a unit (``500ms``, ``30s``, ``5m``, ``1h``).

    Raises:
        UsageError: anything else, or zero.
    """
    match = _DURATION.match(raw.strip())
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise UsageError(
            f"--timeout '{raw}' is not a positive duration",
            hint="give seconds or a number with a unit: 90, 30s, 5m, 1h",
        )
    return seconds


def plan_fanout(
    exec_request: ExecRequest,
    *,
    all_tasks: bool,
    tasks: str | None,
    task: str | None,
    interactive: bool = False,
    parallel: int | None = None,
    fail_fast: bool = False,
    timeout: str | None = None,
    output: str = "text",
    group: bool = False,
    quiet: bool = False,
) -> FanoutRequest:
    """Check the fan-out flags against each other and the mode.

    Raises:
        UsageError: a bad value or combination (named, with the fix).
    """
    if all_tasks and tasks is not None:
        raise UsageError("--all and --tasks cannot be combined", hint="use one of them")
    flag = "--all" if all_tasks else "--tasks"
    if task is not None:
        raise UsageError(
            f"--task and {flag} cannot be combined",
            hint=f"name every task in --tasks ID,ID,... or use {flag} alone",
        )
    if exec_request.interactive or interactive:
        raise UsageError(
            f"{flag} runs a command on each task; interactive sessions are refused",
            hint="give the command after -- (ecs-exec ... --all -- CMD ARGS) or with --pipe",
        )
    if parallel is not None and parallel < 0:
        raise UsageError(
            f"--parallel {parallel} is negative",
            hint=f"give the number of sessions at a time (0: all at once; default "
            f"{DEFAULT_PARALLEL})",
        )
    if output not in ("text", "json"):
        raise UsageError(f"-o '{output}' is not an output format", hint="use text or json")
    if output == "json" and group:
        raise UsageError(
            "--group and -o json cannot be combined",
            hint="-o json already gives each task's output as one object",
        )
    mode: OutputMode = "json" if output == "json" else "group" if group else "prefix"
    return FanoutRequest(
        exec_request=exec_request,
        all_tasks=all_tasks,
        task_refs=parse_task_refs(tasks) if tasks is not None else (),
        parallel=DEFAULT_PARALLEL if parallel is None else parallel,
        fail_fast=fail_fast,
        timeout=parse_duration(timeout) if timeout is not None else None,
        output=mode,
        quiet=quiet,
    )
