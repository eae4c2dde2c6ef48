"""ECS discovery: clusters, services, tasks and containers as frozen dataclasses.

Every boto3 call runs inside ``map_aws_errors`` with the IAM action it needs, so a denial
names the action. Responses become dataclasses at this edge; nothing above sees dicts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors, with_doctor_hint
from ecs_exec.aws.cache import cache_dir
from ecs_exec.errors import (
    AwsError,
    ClusterNotFoundError,
    ExecNotReadyError,
    ServiceNotFoundError,
    TargetNotConnectedError,
    TargetNotFoundError,
)

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

#: DescribeTasks takes at most 100 tasks per call; DescribeServices at most 10.
DESCRIBE_TASKS_BATCH = 100
DESCRIBE_SERVICES_BATCH = 10
EXEC_AGENT = "ExecuteCommandAgent"
#: A "not found" hint lists what exists when there are at most this many.
LIST_IN_HINT = 10


@dataclass(frozen=True)
class Cluster:
    """An ECS cluster."""

    name: str
    arn: str
    status: str = "ACTIVE"
    running_tasks: int = 0
    active_services: int = 0
    kms_key_id: str | None = None


@dataclass(frozen=True)
class Service:
    """An ECS service."""

    name: str
    arn: str
    status: str
    desired_count: int
    running_count: int
    enable_execute_command: bool
    task_definition: str


@dataclass(frozen=True)
class Container:
    """A container of a running task, with the state of its exec agent."""

    name: str
    arn: str
    runtime_id: str | None
    last_status: str
    exec_agent_status: str | None
    exec_agent_reason: str | None = None

    @property
    def exec_agent_running(self) -> bool:
        return self.exec_agent_status == "RUNNING"


@dataclass(frozen=True)
class Task:
    """A task, with the fields exec readiness depends on."""

    arn: str
    cluster_arn: str
    last_status: str
    desired_status: str
    enable_execute_command: bool
    task_definition_arn: str
    containers: tuple[Container, ...]
    group: str | None = None
    started_at: datetime | None = None
    launch_type: str | None = None
    platform_version: str | None = None
    stopped_reason: str | None = None

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[-1]

    @property
    def revision(self) -> str:
        """``family:revision`` of the task definition."""
        return self.task_definition_arn.rsplit("/", 1)[-1]

    @property
    def service_name(self) -> str | None:
        if self.group and self.group.startswith("service:"):
            return self.group[len("service:") :]
        return None

    @property
    def stopping(self) -> bool:
        return self.desired_status != "RUNNING" or self.last_status in {
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
            "STOPPED",
            "DELETED",
        }

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class ContainerDefinition:
    """The part of a task definition's container that container choice needs."""

    name: str
    essential: bool


@dataclass(frozen=True)
class ExecSession:
    """What ecs:ExecuteCommand returns: the Session Manager session to drive."""

    session_id: str
    stream_url: str
    token_value: str


def _batches(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EcsApi:
    """The ECS calls ecs-exec makes, returning dataclasses.

    Args:
        client: a boto3 ECS client.
        profile: the profile in use, for error hints.
        cache_task_definitions: keep container lists of task definitions on disk; a task
            definition revision is immutable, and the cache saves a DescribeTaskDefinition
            call on every exec. The key is the endpoint, account and region as well as the
            ARN, so an answer from one endpoint is never read for another.
    """

    def __init__(
        self, client: ECSClient, *, profile: str | None = None, cache_task_definitions: bool = True
    ) -> None:
        self.client = client
        self.profile = profile
        self.cache_task_definitions = cache_task_definitions
        self._definitions: dict[str, tuple[ContainerDefinition, ...]] = {}

    @property
    def region(self) -> str | None:
        region = getattr(getattr(self.client, "meta", None), "region_name", None)
        return str(region) if region else None

    @contextmanager
    def _call(
        self, action: str, *, cluster: str | None = None, service: str | None = None
    ) -> Iterator[None]:
        """``map_aws_errors`` naming the cluster and service, with a hint listing what
        exists when ECS says one of them does not."""
        try:
            with map_aws_errors(
                action=action,
                profile=self.profile,
                cluster=cluster,
                service=service,
                region=self.region,
            ):
                yield
        except ClusterNotFoundError as exc:
            exc.hint = self._clusters_hint() or exc.hint
            raise
        except ServiceNotFoundError as exc:
            if cluster:
                exc.hint = self._services_hint(cluster) or exc.hint
            raise

    def _clusters_hint(self) -> str | None:
        where = f" in {self.region}" if self.region else ""
        try:
            with map_aws_errors(action="ecs:ListClusters", profile=self.profile):
                page = self.client.list_clusters(maxResults=100)
        except AwsError:
            return None  # keep the generic hint; the error at hand is the one to report
        names = sorted(a.rsplit("/", 1)[-1] for a in page.get("clusterArns", []))
        if not names:
            return f"there are no clusters{where}; check --region / AWS_REGION and the account"
        if len(names) > LIST_IN_HINT or page.get("nextToken"):
            return f"run `ecs-exec ls` to list the clusters{where}"
        return f"clusters{where}: {', '.join(names)}"

    def _services_hint(self, cluster: str) -> str | None:
        try:
            with map_aws_errors(action="ecs:ListServices", profile=self.profile):
                page = self.client.list_services(cluster=cluster, maxResults=100)
        except AwsError:
            return None
        names = sorted(a.rsplit("/", 1)[-1] for a in page.get("serviceArns", []))
        if not names:
            return f"cluster '{cluster}' has no services; leave out --service-name or pass --task"
        if len(names) > LIST_IN_HINT or page.get("nextToken"):
            return f"run `ecs-exec ls --cluster {cluster}` to list its services"
        return f"services in cluster '{cluster}': {', '.join(names)}"

    def list_clusters(self) -> list[Cluster]:
        arns: list[str] = []
        with self._call("ecs:ListClusters"):
            for page in self.client.get_paginator("list_clusters").paginate():
                arns.extend(page.get("clusterArns", []))
        return self.describe_clusters(arns) if arns else []

    def describe_clusters(self, names: Sequence[str]) -> list[Cluster]:
        clusters: list[Cluster] = []
        with self._call("ecs:DescribeClusters"):
            for batch in _batches(list(names), DESCRIBE_TASKS_BATCH):
                response = self.client.describe_clusters(
                    clusters=list(batch), include=["CONFIGURATIONS"]
                )
                clusters.extend(_cluster(c) for c in response.get("clusters", []))
        return sorted(clusters, key=lambda c: c.name)

    def list_services(self, cluster: str) -> list[Service]:
        arns: list[str] = []
        with self._call("ecs:ListServices", cluster=cluster):
            for page in self.client.get_paginator("list_services").paginate(cluster=cluster):
                arns.extend(page.get("serviceArns", []))
        services: list[Service] = []
        with self._call("ecs:DescribeServices", cluster=cluster):
            for batch in _batches(arns, DESCRIBE_SERVICES_BATCH):
                response = self.client.describe_services(cluster=cluster, services=list(batch))
                services.extend(_service(s) for s in response.get("services", []))
        return sorted(services, key=lambda s: s.name)

    def list_task_arns(self, cluster: str, service: str | None = None) -> list[str]:
        """Running tasks of a cluster, or of one service (ListTasks, paginated)."""
        kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": "RUNNING"}
        if service:
            kwargs["serviceName"] = service
        arns: list[str] = []
        with self._call("ecs:ListTasks", cluster=cluster, service=service):
            for page in self.client.get_paginator("list_tasks").paginate(**kwargs):
                arns.extend(page.get("taskArns", []))
        return arns

    def describe_tasks(self, cluster: str, tasks: Sequence[str]) -> list[Task]:
        """DescribeTasks in batches of 100; unknown tasks are left out."""
        found: list[Task] = []
        with self._call("ecs:DescribeTasks", cluster=cluster):
            for batch in _batches(list(tasks), DESCRIBE_TASKS_BATCH):
                response = self.client.describe_tasks(cluster=cluster, tasks=list(batch))
                found.extend(_task(t) for t in response.get("tasks", []))
        return found

    def container_definitions(
        self, task_definition_arn: str, *, live: Sequence[str] | None = None
    ) -> tuple[ContainerDefinition, ...]:
        """Containers of a task definition in definition order, cached.

        Args:
            live: the container names DescribeTasks just returned for a task of this
                definition; a cached copy naming other containers is not trusted over
                them and the definition is described again.
        """
        if task_definition_arn in self._definitions:
            return self._definitions[task_definition_arn]
        cached = self._read_cache(task_definition_arn)
        if cached is not None and live is not None and {d.name for d in cached} != set(live):
            cached = None
        if cached is None:
            with map_aws_errors(action="ecs:DescribeTaskDefinition", profile=self.profile):
                response = self.client.describe_task_definition(taskDefinition=task_definition_arn)
            definitions = response.get("taskDefinition", {}).get("containerDefinitions", [])
            cached = tuple(
                ContainerDefinition(
                    name=str(d.get("name", "")), essential=bool(d.get("essential", True))
                )
                for d in definitions
            )
            self._write_cache(task_definition_arn, cached)
        self._definitions[task_definition_arn] = cached
        return cached

    def execute_command(
        self, *, cluster: str, task_arn: str, container: str, command: str
    ) -> ExecSession:
        try:
            with self._call("ecs:ExecuteCommand", cluster=cluster):
                response = self.client.execute_command(
                    cluster=cluster,
                    task=task_arn,
                    container=container,
                    command=command,
                    interactive=True,
                )
        except (TargetNotConnectedError, ExecNotReadyError) as exc:
            exc.hint = with_doctor_hint(exc.hint, cluster, task_arn.rsplit("/", 1)[-1])
            raise
        session = response.get("session", {})
        if not session.get("streamUrl") or not session.get("tokenValue"):
            raise TargetNotFoundError("ECS returned no session for the command")
        return ExecSession(
            session_id=str(session.get("sessionId", "")),
            stream_url=str(session["streamUrl"]),
            token_value=str(session["tokenValue"]),
        )

    def _cache_file(self, arn: str) -> Path:
        meta = self.client.meta
        account = arn.split(":")[4] if arn.count(":") >= 5 else ""
        key = "\n".join((str(meta.endpoint_url), str(meta.region_name), account, arn))
        return cache_dir() / "task-definitions" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _read_cache(self, arn: str) -> tuple[ContainerDefinition, ...] | None:
        if not self.cache_task_definitions:
            return None
        try:
            data = json.loads(self._cache_file(arn).read_text())
            return tuple(ContainerDefinition(str(d["name"]), bool(d["essential"])) for d in data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write_cache(self, arn: str, definitions: tuple[ContainerDefinition, ...]) -> None:
        if not self.cache_task_definitions:
            return
        path = self._cache_file(arn)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(
                json.dumps([{"name": d.name, "essential": d.essential} for d in definitions])
            )
            tmp.replace(path)
        except OSError:
            pass  # a read-only home must not break exec; the call is simply made again


def _cluster(data: Any) -> Cluster:
    config = data.get("configuration", {}).get("executeCommandConfiguration", {})
    return Cluster(
        name=str(data.get("clusterName", "")),
        arn=str(data.get("clusterArn", "")),
        status=str(data.get("status", "")),
        running_tasks=int(data.get("runningTasksCount", 0)),
        active_services=int(data.get("activeServicesCount", 0)),
        kms_key_id=config.get("kmsKeyId") or None,
    )


def _service(data: Any) -> Service:
    return Service(
        name=str(data.get("serviceName", "")),
        arn=str(data.get("serviceArn", "")),
        status=str(data.get("status", "")),
        desired_count=int(data.get("desiredCount", 0)),
        running_count=int(data.get("runningCount", 0)),
        enable_execute_command=bool(data.get("enableExecuteCommand", False)),
        task_definition=str(data.get("taskDefinition", "")),
    )


def _task(data: Any) -> Task:
    containers = []
    for c in data.get("containers", []):
        agent = next((a for a in c.get("managedAgents", []) if a.get("name") == EXEC_AGENT), None)
        containers.append(
            Container(
                name=str(c.get("name", "")),
                arn=str(c.get("containerArn", "")),
                runtime_id=c.get("runtimeId"),
                last_status=str(c.get("lastStatus", "")),
                exec_agent_status=agent.get("lastStatus") if agent else None,
                exec_agent_reason=agent.get("reason") if agent else None,
            )
        )
    return Task(
        arn=str(data.get("taskArn", "")),
        cluster_arn=str(data.get("clusterArn", "")),
        last_status=str(data.get("lastStatus", "")),
        desired_status=str(data.get("desiredStatus", "")),
        enable_execute_command=bool(data.get("enableExecuteCommand", False)),
        task_definition_arn=str(data.get("taskDefinitionArn", "")),
        containers=tuple(containers),
        group=data.get("group"),
        started_at=data.get("startedAt"),
        launch_type=data.get("launchType"),
        platform_version=data.get("platformVersion"),
        stopped_reason=data.get("stoppedReason"),
    )
