"""What a doctor check is and what it finds: stable ids, four statuses, reasons and fixes.

A check is a function of the shared ``Facts`` (the AWS look-ups, memoized) that returns a
``Finding``. The runner turns findings into ``CheckResult``s in a fixed order and builds the
``Report``, whose JSON form (``Report.to_json``) is the stable document ``-o json`` prints:

    {"schemaVersion": 1,
     "target": {"region", "cluster", "service", "task", "container"},   # as checked; null
     "verdict": "ok" | "warning" | "failed",                             # unknown
     "summary": {"ok": N, "warning": N, "failed": N, "skipped": N},
     "checks": [{"id", "group", "title", "status", "summary", "reason", "fix", "details"}]}

``reason`` and ``fix`` are null when the status is ok; a skipped check has its why in
``reason``. ``details`` holds machine-readable facts (names, ARNs, versions), never secrets.
New checks and new ``details`` keys may appear in later versions; ids, statuses and the
top-level keys do not change without a new ``schemaVersion``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecs_exec.doctor.facts import Facts

SCHEMA_VERSION = 1

#: Exit status when at least one check failed (warnings alone exit 0). Doctor's own failure
#: (it could not run at all) is ecs-exec's usual 255, a usage error 2.
EXIT_CHECKS_FAILED = 1


class Status(StrEnum):
    """What a check found."""

    OK = "ok"
    WARNING = "warning"  #: works, with a caveat worth knowing
    FAILED = "failed"  #: ECS Exec will not work until this is fixed
    SKIPPED = "skipped"  #: not checked; the reason says why


class Group(StrEnum):
    """Check groups, in the order they run and print."""

    LOCAL = "local"
    CLUSTER = "cluster"
    SERVICE = "service"
    TASK = "task"
    PERMISSIONS = "permissions"
    TASK_ROLE = "task-role"
    NETWORK = "network"


GROUP_TITLES: dict[Group, str] = {
    Group.LOCAL: "Local",
    Group.CLUSTER: "Cluster",
    Group.SERVICE: "Service",
    Group.TASK: "Task",
    Group.PERMISSIONS: "Caller permissions",
    Group.TASK_ROLE: "Task role",
    Group.NETWORK: "Network",
}


@dataclass(frozen=True)
class Finding:
    """What one check function returns.

    Args:
        status: ok, warning, failed or skipped.
        summary: one line saying what was found (also for ok).
        reason: why it is not ok (required unless ok).
        fix: what to do, with the exact command and real names where one exists.
        details: machine-readable facts for the JSON document.
    """

    status: Status
    summary: str
    reason: str | None = None
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def ok(summary: str, **details: Any) -> Finding:
    return Finding(Status.OK, summary, details=details)


def warning(summary: str, reason: str, fix: str | None = None, **details: Any) -> Finding:
    return Finding(Status.WARNING, summary, reason, fix, details)


def failed(summary: str, reason: str, fix: str | None = None, **details: Any) -> Finding:
    return Finding(Status.FAILED, summary, reason, fix, details)


def skipped(why: str, **details: Any) -> Finding:
    return Finding(Status.SKIPPED, "not checked", why, details=details)


CheckFn = Callable[["Facts"], Finding]


@dataclass(frozen=True)
class Check:
    """A check: a stable id, its group, a title, the function, and the ids it needs.

    A check whose ``needs`` did not all end ok or warning is skipped, naming the first one.
    """

    id: str
    group: Group
    title: str
    run: CheckFn
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    """A check's outcome, as reported."""

    id: str
    group: Group
    title: str
    status: Status
    summary: str
    reason: str | None = None
    fix: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "group": self.group.value,
            "title": self.title,
            "status": self.status.value,
            "summary": self.summary,
            "reason": self.reason,
            "fix": self.fix,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Target:
    """What was checked, as far as doctor could tell."""

    region: str | None = None
    cluster: str | None = None
    service: str | None = None
    task: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class Report:
    """Every check's result, in order, and what they were about."""

    target: Target
    results: tuple[CheckResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def verdict(self) -> Status:
        """failed if any check failed, else warning if any warned, else ok."""
        for status in (Status.FAILED, Status.WARNING):
            if self.count(status):
                return status
        return Status.OK

    @property
    def exit_status(self) -> int:
        return EXIT_CHECKS_FAILED if self.count(Status.FAILED) else 0

    def result(self, check_id: str) -> CheckResult | None:
        return next((r for r in self.results if r.id == check_id), None)

    def to_json(self) -> dict[str, Any]:
        t = self.target
        return {
            "schemaVersion": SCHEMA_VERSION,
            "target": {
                "region": t.region,
                "cluster": t.cluster,
                "service": t.service,
                "task": t.task,
                "container": t.container,
            },
            "verdict": self.verdict.value,
            "summary": {s.value: self.count(s) for s in Status},
            "checks": [r.to_json() for r in self.results],
        }
