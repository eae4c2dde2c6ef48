"""The tasks a fan-out runs on: every ready task (--all) or the named ones (--tasks).

The same rules as for one task (:mod:`ecs_exec.aws.resolve`): the cluster is resolved the
same way, each task's container is chosen the same way, readiness is judged the same way,
and a task named directly must belong to the cluster and service asked for — so under a
gateway's scope lock --all stays within the pinned service and --tasks cannot reach another
service's task. A task that is not ready is kept, with its reasons, as *skipped*: it is
counted and reported, never silently left out. ListTasks runs once, and DescribeTasks in
batches of 100, whatever the number of tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ecs_exec.aws.ecs import EcsApi, Task
from ecs_exec.aws.resolve import (
    FULL_TASK_ID,
    ExecTarget,
    NotReady,
    Resolver,
    TargetSpec,
    check_task_scope,
    match_task_prefix,
    readiness_problems,
    resolve_cluster,
    task_sort_key,
)
from ecs_exec.errors import TargetNotFoundError


@dataclass(frozen=True)
class Skipped:
    """A targeted task that cannot take a session now, and why."""

    task: Task
    container: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FanoutTargets:
    """The ready targets (in the deterministic order) and the skipped tasks."""

    cluster: str
    ready: tuple[ExecTarget, ...]
    skipped: tuple[Skipped, ...]


def resolve_targets(
    api: EcsApi, spec: TargetSpec, *, all_tasks: bool, refs: Sequence[str]
) -> FanoutTargets:
    """Resolve --all or --tasks into targets.

    Raises:
        TargetNotFoundError: no running task (--all), or a reference matches none.
        AmbiguousTargetError: a prefix matches several tasks.
        UsageError: a named task belongs to another cluster or service.
    """
    cluster = resolve_cluster(api, spec.cluster)
    resolver = Resolver(api)
    if all_tasks:
        tasks = resolver.running_tasks(cluster, spec.service)
    else:
        tasks = _named_tasks(api, cluster, spec, refs)
    ready: list[ExecTarget] = []
    skipped: list[Skipped] = []
    for task in sorted(tasks, key=task_sort_key):
        container, problem = resolver.choose_container(task, spec.container)
        why = [(NotReady.NO_CONTAINER, problem)] if problem else readiness_problems(task, container)
        if container is not None and not why:
            ready.append(ExecTarget(cluster=cluster, task=task, container=container))
        else:
            name = container.name if container is not None else spec.container
            skipped.append(Skipped(task, name, tuple(text for _, text in why)))
    return FanoutTargets(cluster=cluster, ready=tuple(ready), skipped=tuple(skipped))


def _named_tasks(api: EcsApi, cluster: str, spec: TargetSpec, refs: Sequence[str]) -> list[Task]:
    direct = [r for r in refs if r.startswith("arn:") or FULL_TASK_ID.match(r)]
    prefixes = [r for r in refs if r not in direct]
    arns: dict[str, str] = {}  # task arn or id -> the reference that named it
    for ref in direct:
        arns.setdefault(ref, ref)
    if prefixes:
        listed = api.list_task_arns(cluster, spec.service)
        for ref in prefixes:
            match = match_task_prefix(listed, ref, ref, cluster, service=spec.service)
            arns.setdefault(match, ref)
    found = {task.id: task for task in api.describe_tasks(cluster, list(arns))}
    tasks: list[Task] = []
    for key, ref in arns.items():
        task = found.get(key.rsplit("/", 1)[-1])
        if task is None:
            raise TargetNotFoundError(
                f"task '{ref}' was not found in cluster '{cluster}'",
                hint=f"run `ecs-exec ls --cluster {cluster}` to list its tasks",
            )
        check_task_scope(task, ref, cluster, spec.service)
        if all(t.arn != task.arn for t in tasks):
            tasks.append(task)
    return tasks
