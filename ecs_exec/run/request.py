"""What `ecs-exec run` was asked to do, checked before any AWS call: the typed request, the
environment overrides (``-e``, ``--env-file``), durations, and RunTask's overrides with their
8192-character limit.

Environment values are secrets: no message, log or repr here contains one (``EnvVar`` hides
its value from ``repr``), only variable names and sizes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_exec.errors import UsageError

#: RunTask's limit on its ``overrides`` as JSON text, formatting characters included
#: (docs/run.md#overrides-limit).
OVERRIDES_LIMIT = 8192
DEFAULT_MAX_LIFETIME = 3600.0
DEFAULT_WAIT_TIMEOUT = 600.0
LAUNCH_TYPES = ("FARGATE", "EC2")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class EnvVar:
    """One variable for the target container; ``value`` never shows in a repr."""

    name: str
    value: str = field(repr=False)

    def to_api(self) -> dict[str, str]:
        return {"name": self.name, "value": self.value}


@dataclass(frozen=True)
class RunRequest:
    """A `run`, as the CLI parsed it.

    Args:
        cluster: the cluster (None: the only one in the region).
        service: take the task definition and launch settings from this service.
        task_definition: ``family``, ``family:revision`` or an ARN (wins over the service's).
        container: the target container (None: exec's rule on the task definition).
        environment: variables added to or replaced in the target container, in order.
        image: run the target container with this image (a derived task definition).
        cpu, memory: task-level overrides (CPU units, MiB).
        launch_type: FARGATE or EC2 (wins over the service's).
        subnets, security_groups, public_ip: the awsvpc configuration (each wins over the
            service's).
        keep: leave the task (and derived task definitions) behind at the end.
        max_lifetime: seconds after which the keep-alive ends by itself.
        wait_timeout: seconds the task may take to be ready for exec.
        quiet: no progress on stderr.
    """

    cluster: str | None = None
    service: str | None = None
    task_definition: str | None = None
    container: str | None = None
    environment: tuple[EnvVar, ...] = ()
    image: str | None = None
    cpu: int | None = None
    memory: int | None = None
    launch_type: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    public_ip: bool | None = None
    keep: bool = False
    max_lifetime: float = DEFAULT_MAX_LIFETIME
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    quiet: bool = False

    def __post_init__(self) -> None:
        if not self.service and not self.task_definition:
            raise UsageError(
                "run needs --service-name or --task-definition",
                hint="e.g. ecs-exec run --cluster C --service-name web -- rails db:migrate",
            )
        for flag, value in (("--cpu", self.cpu), ("--memory", self.memory)):
            if value is not None and value <= 0:
                raise UsageError(f"{flag} {value} is not a positive number")
        if self.launch_type is not None and self.launch_type not in LAUNCH_TYPES:
            raise UsageError(
                f"--launch-type '{self.launch_type}' is not one of {', '.join(LAUNCH_TYPES)}"
            )


def parse_duration(text: str, flag: str) -> float:
    """``90``, ``90s``, ``15m``, ``1h30m``, ``2d`` -> seconds.

    Raises:
        UsageError: not a positive duration.
    """
    value = text.strip().lower()
    seconds = 0.0
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        seconds = float(value)
    elif value and re.fullmatch(r"(?:\d+(?:\.\d+)?[smhd])+", value):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(value))
    if seconds <= 0 or not math.isfinite(seconds):
        raise UsageError(f"{flag} '{text}' is not a duration", hint="e.g. 90s, 15m, 1h, 1h30m, 2d")
    return seconds


def parse_environment(
    assignments: Sequence[str], env_files: Sequence[Path], local: Mapping[str, str]
) -> tuple[EnvVar, ...]:
    """``--env-file`` lines first, then ``-e`` (a later name wins), as ``docker run`` does.

    ``NAME=VALUE`` sets a value; ``NAME`` alone takes ecs-exec's own value of NAME, so a CI
    secret never appears on a command line. In files, blank lines and ``#`` comments are
    skipped and values are taken literally (no quotes removed).

    Raises:
        UsageError: a malformed line or name, an unreadable file, or ``NAME`` alone for a
            variable ecs-exec does not have; the message names the variable, never a value.
    """
    merged: dict[str, EnvVar] = {}
    for path in env_files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
            raise UsageError(f"--env-file {path}: {reason}") from None
        for number, line in enumerate(lines, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            var = _assignment(line.lstrip(), local, f"--env-file {path} line {number}")
            merged.pop(var.name, None)
            merged[var.name] = var
    for item in assignments:
        var = _assignment(item, local, "-e")
        merged.pop(var.name, None)
        merged[var.name] = var
    return tuple(merged.values())


def _assignment(text: str, local: Mapping[str, str], where: str) -> EnvVar:
    name, sep, value = text.partition("=")
    if not _NAME.match(name):
        shown = name if len(name) <= 40 else name[:40] + "..."
        raise UsageError(
            f"{where}: '{shown}' is not a variable name",
            hint="use NAME=VALUE, or NAME to pass ecs-exec's own value of NAME",
        )
    if not sep:
        if name not in local:
            raise UsageError(
                f"{where}: {name} has no value here",
                hint=f"use {name}=VALUE, or export {name} before running ecs-exec",
            )
        value = local[name]
    return EnvVar(name, value)


def build_overrides(
    *,
    container: str,
    command: Sequence[str],
    environment: Sequence[EnvVar],
    cpu: int | None,
    memory: int | None,
) -> dict[str, Any]:
    """RunTask's ``overrides``: the target's command and environment, the task's size.

    Raises:
        UsageError: the JSON text is over RunTask's 8192 characters; the message names the
            largest variables that push it over (and their sizes, not their values).
    """
    target: dict[str, Any] = {"name": container, "command": list(command)}
    if environment:
        target["environment"] = [v.to_api() for v in environment]
    overrides: dict[str, Any] = {"containerOverrides": [target]}
    if cpu is not None:
        overrides["cpu"] = str(cpu)
    if memory is not None:
        overrides["memory"] = str(memory)
    size = overrides_size(overrides)
    if size > OVERRIDES_LIMIT:
        raise UsageError(
            f"the overrides for RunTask are {size} characters, over its limit of "
            f"{OVERRIDES_LIMIT}: {_culprits(environment, size - OVERRIDES_LIMIT)}",
            hint="pass large values another way: a secret or variable in the task definition, "
            "or data on stdin with --pipe",
        )
    return overrides


def overrides_size(overrides: Mapping[str, Any]) -> int:
    return len(json.dumps(overrides, separators=(",", ":")))


def _culprits(environment: Sequence[EnvVar], excess: int) -> str:
    """The largest variables whose removal brings the overrides under the limit."""
    sizes = sorted(
        ((overrides_size(v.to_api()) + 1, v.name) for v in environment), key=lambda p: -p[0]
    )
    named: list[str] = []
    removed = 0
    for size, name in sizes:
        named.append(f"{name} ({size} characters)")
        removed += size
        if removed >= excess:
            break
    if removed < excess:
        return "the command line itself is too long"
    which = "variable pushes" if len(named) == 1 else "variables push"
    return f"the {which} it over: {', '.join(named)}"
