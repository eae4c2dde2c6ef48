"""Tasks ecs-exec started that still run (`ls --orphans`), and stopping them
(`run --cleanup [--older-than D]`).

A `run` task is found by its ``startedBy`` (``ecs-exec``, which ListTasks filters on) and
described with its tags (who started it, from which service, when its keep-alive ends).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ecs_exec.aws.runtask import TaskLauncher, TaskState
from ecs_exec.errors import EcsExecError
from ecs_exec.run.plan import DERIVED_SUFFIX, STARTED_BY, TAG_EXPIRES, TAG_SERVICE, TAG_STARTED_BY

_ISO = "%Y-%m-%dT%H:%M:%SZ"
CLEANUP_REASON = "ecs-exec run --cleanup: stopping a task ecs-exec left running"


@dataclass(frozen=True)
class Orphan:
    """A running task that ecs-exec started."""

    task: TaskState

    @property
    def service(self) -> str | None:
        return self.task.tags.get(TAG_SERVICE)

    @property
    def started_by(self) -> str | None:
        return self.task.tags.get(TAG_STARTED_BY)

    @property
    def expires_at(self) -> str | None:
        return self.task.tags.get(TAG_EXPIRES)

    def to_json(self) -> dict[str, object]:
        created = self.task.created_at
        return {
            "taskId": self.task.id,
            "taskArn": self.task.arn,
            "lastStatus": self.task.last_status,
            "taskDefinition": self.task.task_definition_arn.rsplit("/", 1)[-1],
            "service": self.service,
            "startedBy": self.started_by,
            "createdAt": created.astimezone(UTC).strftime(_ISO) if created else None,
            "expiresAt": self.expires_at,
        }


def find_orphans(launcher: TaskLauncher, cluster: str, service: str | None = None) -> list[Orphan]:
    """Running tasks of ``cluster`` started by ecs-exec (from ``service`` when given)."""
    found = [
        Orphan(t) for t in launcher.started_by(cluster, STARTED_BY) if t.desired_status == "RUNNING"
    ]
    if service:
        found = [o for o in found if o.service == service]
    return sorted(found, key=lambda o: o.task.created_at or datetime.min.replace(tzinfo=UTC))


@dataclass(frozen=True)
class CleanupResult:
    stopped: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]  #: (task id or task definition, why)
    skipped: int  #: younger than --older-than
    deregistered: tuple[str, ...] = ()  #: derived revisions (``family:revision``)


def stop_orphans(
    launcher: TaskLauncher,
    cluster: str,
    *,
    older_than: float | None,
    service: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CleanupResult:
    """StopTask each orphan created more than ``older_than`` seconds ago (all when None),
    then deregister the derived revisions (``--keep --image``) the stopped tasks ran and
    no remaining orphan runs."""
    stopped: list[str] = []
    failed: list[tuple[str, str]] = []
    skipped = 0
    done_with: set[str] = set()
    still_used: set[str] = set()
    limit = None if older_than is None else now() - timedelta(seconds=older_than)
    for orphan in find_orphans(launcher, cluster, service):
        created = orphan.task.created_at
        revision = orphan.task.task_definition_arn
        if limit is not None and created is not None and created > limit:
            skipped += 1
            still_used.add(revision)
            continue
        try:
            launcher.stop(cluster, orphan.task.arn, CLEANUP_REASON)
        except EcsExecError as exc:
            failed.append((orphan.task.id, str(exc)))
            still_used.add(revision)
        else:
            stopped.append(orphan.task.id)
            done_with.add(revision)
    deregistered: list[str] = []
    for arn in sorted(done_with - still_used):
        name = arn.rsplit("/", 1)[-1]
        if not name.rsplit(":", 1)[0].endswith(DERIVED_SUFFIX):
            continue  # the service's own task definition: not ecs-exec's to remove
        try:
            launcher.deregister(arn)
        except EcsExecError as exc:
            failed.append((name, str(exc)))
        else:
            deregistered.append(name)
    return CleanupResult(tuple(stopped), tuple(failed), skipped, tuple(deregistered))
