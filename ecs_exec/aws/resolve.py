"""Choose the cluster, task and container to exec into, with the fewest API calls.

Rules (documented in the README):
- cluster: the flag or CLUSTER_NAME; else the only cluster in the region; else an error
  listing the clusters;
- task: ``--task`` (id, ARN or unique prefix) is described directly, with no ListTasks
  when a full id or ARN is given; else the running tasks of the service (or, with no
  service, of the cluster) are listed and described in batches of 100;
- readiness: desired and last status RUNNING (never a stopping task), enableExecuteCommand,
  and the chosen container's ExecuteCommandAgent RUNNING;
- several ready tasks: an interactive picker when one is supplied (a terminal), else the
  deterministic choice: the newest task definition revision first, then the task that
  started first, then the task id;
- container: ``--container``, else the only container, else the first *essential*
  container in task definition order whose agent runs (so a log router is not picked).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from ecs_exec.aws._errors import EXEC_NOT_ENABLED_HINT, with_doctor_hint
from ecs_exec.aws.ecs import Cluster, Container, EcsApi, Task
from ecs_exec.errors import (
    AmbiguousTargetError,
    ExecNotReadyError,
    TargetNotFoundError,
    UsageError,
)

FULL_TASK_ID = re.compile(r"^[0-9a-f]{32}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: A picker gets the ready tasks (already in the deterministic order) and returns one.
TaskPicker = Callable[[Sequence[Task]], Task]


@dataclass(frozen=True)
class TargetSpec:
    """What the user asked for; every field optional."""

    cluster: str | None = None
    service: str | None = None
    task: str | None = None
    container: str | None = None


@dataclass(frozen=True)
class ExecTarget:
    """A resolved target: one container of one running, exec-ready task."""

    cluster: str
    task: Task
    container: Container

    @property
    def ssm_target(self) -> str:
        """The Session Manager target, ``ecs:<cluster>_<taskId>_<runtimeId>``."""
        return f"ecs:{self.cluster}_{self.task.id}_{self.container.runtime_id}"


def resolve_cluster(api: EcsApi, cluster: str | None) -> str:
    """The cluster name to use.

    Raises:
        TargetNotFoundError: the region has no clusters.
        AmbiguousTargetError: several clusters and none was named.
    """
    if cluster:
        return cluster.rsplit("/", 1)[-1] if cluster.startswith("arn:") else cluster
    clusters: list[Cluster] = api.list_clusters()
    if len(clusters) == 1:
        return clusters[0].name
    if not clusters:
        raise TargetNotFoundError(
            "there are no ECS clusters in this region",
            hint="check --region / AWS_REGION and the account you are using",
        )
    names = [c.name for c in clusters]
    raise AmbiguousTargetError(
        f"several clusters exist ({', '.join(names)}); choose one",
        candidates=names,
        hint="pass --cluster NAME or set CLUSTER_NAME",
    )


def task_sort_key(task: Task) -> tuple[int, datetime, str]:
    """Newest revision first, then the earliest started, then the id."""
    try:
        revision = int(task.revision.rsplit(":", 1)[-1])
    except ValueError:
        revision = 0
    started = task.started_at or _EPOCH
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return (-revision, started, task.id)


class NotReady(StrEnum):
    """Why a task cannot take an exec session; each kind has its own fix (``HINTS``)."""

    STOPPING = "stopping"
    STARTING = "starting"
    EXEC_DISABLED = "exec-disabled"
    AGENT_NOT_RUNNING = "agent-not-running"
    NO_CONTAINER = "no-container"


HINTS: dict[NotReady, str] = {
    NotReady.STOPPING: "a stopping task takes no new sessions; pick a running one "
    "(`ecs-exec ls --cluster CLUSTER --service-name SERVICE` lists them; a service starts "
    "a replacement)",
    NotReady.STARTING: "the task is still starting; retry once it is RUNNING",
    NotReady.EXEC_DISABLED: EXEC_NOT_ENABLED_HINT,
    NotReady.AGENT_NOT_RUNNING: "if the agent is PENDING, retry in a few seconds; otherwise the "
    "task role needs ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel "
    "and OpenDataChannel, and the container a writable root filesystem",
    NotReady.NO_CONTAINER: "pass --container with one of the task's containers, or leave it out",
}


#: Problems `ecs-exec doctor` explains further (exec disabled, an agent not running).
_DIAGNOSABLE = frozenset({NotReady.EXEC_DISABLED, NotReady.AGENT_NOT_RUNNING})


def readiness_problems(task: Task, container: Container | None) -> list[tuple[NotReady, str]]:
    """Why a task cannot take an exec session now: (kind, human line), empty when ready."""
    problems: list[tuple[NotReady, str]] = []
    if task.stopping:
        problems.append(
            (
                NotReady.STOPPING,
                f"it is stopping (desired {task.desired_status}, last {task.last_status})",
            )
        )
    elif task.last_status != "RUNNING":
        problems.append((NotReady.STARTING, f"it is {task.last_status}, not RUNNING yet"))
    if not task.enable_execute_command:
        problems.append((NotReady.EXEC_DISABLED, "exec was not enabled when the task started"))
    if container is not None and task.enable_execute_command and not container.exec_agent_running:
        status = container.exec_agent_status or "missing"
        detail = f" ({container.exec_agent_reason})" if container.exec_agent_reason else ""
        problems.append(
            (
                NotReady.AGENT_NOT_RUNNING,
                f"the ExecuteCommandAgent of container '{container.name}' is {status}{detail}",
            )
        )
    return problems


def not_ready_reasons(task: Task, container: Container | None) -> list[str]:
    """Why a task cannot take an exec session now, as human lines (empty when ready)."""
    return [text for _, text in readiness_problems(task, container)]


def hint_for(kinds: Iterable[NotReady]) -> str | None:
    """The fix for the problems seen: that kind's hint when all tasks share one kind. Stopping
    tasks go away whatever else is wrong, so they count only when nothing else is seen."""
    found = set(kinds)
    if NotReady.STOPPING in found and len(found) > 1:
        found.discard(NotReady.STOPPING)
    if len(found) == 1:
        return HINTS[found.pop()]
    if not found:
        return None
    return "each task's reason is listed below"


def check_task_scope(task: Task, ref: str, cluster: str, service: str | None) -> None:
    """A task named directly (``ref``) must still be one of the cluster and service asked for:
    a gateway pins them, and --task or --tasks must not reach another service's task.

    Raises:
        UsageError: it belongs to another cluster or service.
    """
    if task.cluster_arn and task.cluster_name != cluster:
        raise UsageError(
            f"task '{ref}' belongs to cluster '{task.cluster_name}', not to cluster '{cluster}'"
        )
    if service and task.service_name != service.rsplit("/", 1)[-1]:
        owner = f"service '{task.service_name}'" if task.service_name else "no service"
        raise UsageError(
            f"task '{ref}' belongs to {owner}, not to service '{service}'",
            hint=f"run `ecs-exec ls --cluster {cluster} --service {service}` "
            "to list the service's tasks",
        )


def match_task_prefix(
    arns: Sequence[str], prefix: str, ref: str, cluster: str, *, service: str | None = None
) -> str:
    """The one task ARN whose id starts with ``prefix`` (from the reference ``ref``).

    Raises:
        TargetNotFoundError: none does (the message names ``service`` when given).
        AmbiguousTargetError: several do.
    """
    matches = [a for a in arns if a.rsplit("/", 1)[-1].startswith(prefix)]
    if not matches:
        where = f"service '{service}' in " if service else ""
        raise TargetNotFoundError(
            f"no running task id starts with '{ref}' in {where}cluster '{cluster}'",
            hint=f"run `ecs-exec ls --cluster {cluster}` to list its tasks",
        )
    if len(matches) > 1:
        ids = [a.rsplit("/", 1)[-1] for a in matches]
        raise AmbiguousTargetError(
            f"task prefix '{ref}' matches {len(ids)} tasks; give more characters",
            candidates=ids,
        )
    return matches[0]


class Resolver:
    """Turns a TargetSpec into an ExecTarget.

    Args:
        api: the ECS calls.
        picker: called to choose among several ready tasks (a terminal picker), or None for
            the deterministic choice.
    """

    def __init__(self, api: EcsApi, *, picker: TaskPicker | None = None) -> None:
        self.api = api
        self.picker = picker

    def resolve(self, spec: TargetSpec) -> ExecTarget:
        cluster = resolve_cluster(self.api, spec.cluster)
        tasks = self.candidate_tasks(cluster, spec)
        ready: list[tuple[Task, Container]] = []
        reasons: list[str] = []
        kinds: list[NotReady] = []
        diagnosable: str | None = None  # the first task doctor can say more about
        for task in sorted(tasks, key=task_sort_key):
            container, problem = self.choose_container(task, spec.container)
            why = (
                [(NotReady.NO_CONTAINER, problem)]
                if problem
                else readiness_problems(task, container)
            )
            if container is not None and not why:
                ready.append((task, container))
            else:
                reasons.append(f"task {task.id}: " + "; ".join(text for _, text in why))
                # A task that is stopping is lost whatever else is wrong with it.
                stopping = [k for k, _ in why if k is NotReady.STOPPING]
                kinds.extend(stopping or [k for k, _ in why])
                if diagnosable is None and not stopping and any(k in _DIAGNOSABLE for k, _ in why):
                    diagnosable = task.id
        if not ready:
            hint = hint_for(kinds)
            if diagnosable is not None:
                hint = with_doctor_hint(hint, cluster, diagnosable)
            raise ExecNotReadyError(
                f"no task {self._where(cluster, spec)} is ready for ECS Exec",
                reasons=reasons,
                hint=hint,
            )
        task, container = ready[0]
        if len(ready) > 1 and self.picker is not None:
            chosen = self.picker([t for t, _ in ready])
            task, container = next((t, c) for t, c in ready if t.arn == chosen.arn)
        return ExecTarget(cluster=cluster, task=task, container=container)

    def candidate_tasks(self, cluster: str, spec: TargetSpec) -> list[Task]:
        if spec.task:
            task = self._find_task(cluster, spec.task, spec.service)
            check_task_scope(task, spec.task, cluster, spec.service)
            return [task]
        return self.running_tasks(cluster, spec.service)

    def running_tasks(self, cluster: str, service: str | None) -> list[Task]:
        """The running tasks of the service (of the cluster with none), described.

        Raises:
            TargetNotFoundError: there is none.
        """
        arns = self.api.list_task_arns(cluster, service)
        if not arns:
            raise TargetNotFoundError(
                f"no running tasks {self._where(cluster, TargetSpec(service=service))}",
                hint="check the service's desired count and events in the ECS console, or run "
                "`ecs-exec ls --cluster " + cluster + "`",
            )
        return self.api.describe_tasks(cluster, arns)

    def _find_task(self, cluster: str, ref: str, service: str | None) -> Task:
        task_id = ref.rsplit("/", 1)[-1]
        if ref.startswith("arn:") or FULL_TASK_ID.match(task_id):
            found = self.api.describe_tasks(cluster, [ref])
            if found:
                return found[0]
            raise TargetNotFoundError(
                f"task '{ref}' was not found in cluster '{cluster}'",
                hint=f"run `ecs-exec ls --cluster {cluster}` to list its tasks",
            )
        arns = self.api.list_task_arns(cluster, service)
        match = match_task_prefix(arns, task_id, ref, cluster)
        return self.api.describe_tasks(cluster, [match])[0]

    def choose_container(
        self, task: Task, wanted: str | None
    ) -> tuple[Container | None, str | None]:
        """The container to use in a task, or None and the reason there is none."""
        if wanted:
            container = task.container(wanted)
            if container is None:
                names = ", ".join(c.name for c in task.containers) or "none"
                return None, f"it has no container '{wanted}' (containers: {names})"
            return container, None
        if len(task.containers) == 1:
            return task.containers[0], None
        definitions = self.api.container_definitions(
            task.task_definition_arn, live=[c.name for c in task.containers]
        )
        essential = [d.name for d in definitions if d.essential]
        ordered = [task.container(n) for n in essential] + [
            task.container(d.name) for d in definitions if not d.essential
        ]
        candidates = [c for c in ordered if c is not None] or list(task.containers)
        for container in candidates:
            if container.exec_agent_running and container.name in essential:
                return container, None
        # No essential container is ready: report the first essential one's state.
        return candidates[0], None

    @staticmethod
    def _where(cluster: str, spec: TargetSpec) -> str:
        if spec.task:
            return f"'{spec.task}' in cluster '{cluster}'"
        if spec.service:
            return f"of service '{spec.service}' in cluster '{cluster}'"
        return f"in cluster '{cluster}'"
