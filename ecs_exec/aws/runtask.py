"""The ECS calls of `ecs-exec run`: service launch settings, task definitions, RunTask,
DescribeTasks while a task starts, StopTask, and finding the tasks ecs-exec started.

Every call runs inside ``map_aws_errors`` with the IAM action it needs. Responses become
frozen dataclasses here; the one dict that goes back up is a task definition's
RegisterTaskDefinition input (``TaskDefinitionSpec.register_input``), which only this module
reads and writes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors
from ecs_exec.aws.ecs import EXEC_AGENT
from ecs_exec.errors import TaskStartError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

#: How many revisions of a derived family are looked at for one to reuse.
REUSE_LOOKUP_LIMIT = 20


@dataclass(frozen=True)
class NetworkConfig:
    """An awsvpc configuration (RunTask's ``networkConfiguration.awsvpcConfiguration``)."""

    subnets: tuple[str, ...]
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool | None = None  #: None: ECS's default (DISABLED)

    def to_api(self) -> dict[str, Any]:
        config: dict[str, Any] = {"subnets": list(self.subnets)}
        if self.security_groups:
            config["securityGroups"] = list(self.security_groups)
        if self.assign_public_ip is not None:
            config["assignPublicIp"] = "ENABLED" if self.assign_public_ip else "DISABLED"
        return {"awsvpcConfiguration": config}


@dataclass(frozen=True)
class ServiceLaunch:
    """How a service starts its tasks (its PRIMARY deployment)."""

    task_definition: str
    network: NetworkConfig | None
    launch_type: str | None
    capacity_provider_strategy: tuple[Mapping[str, Any], ...] = ()
    platform_version: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """A container of a task definition, as `run` needs it."""

    name: str
    image: str
    essential: bool
    entry_point: tuple[str, ...] | None


@dataclass(frozen=True)
class TaskDefinitionSpec:
    """A task definition revision, and what registering a copy of it takes."""

    arn: str
    family: str
    revision: int
    network_mode: str
    containers: tuple[ContainerSpec, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    register_input: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def container(self, name: str) -> ContainerSpec | None:
        return next((c for c in self.containers if c.name == name), None)

    def derived_input(
        self,
        *,
        family: str,
        container: str,
        image: str | None,
        entry_point: Sequence[str] | None,
    ) -> dict[str, Any]:
        """RegisterTaskDefinition's input for a copy with ``container`` changed."""
        data = copy.deepcopy(dict(self.register_input))
        data["family"] = family
        for item in data.get("containerDefinitions", []):
            if item.get("name") == container:
                if image is not None:
                    item["image"] = image
                if entry_point is not None:
                    item["entryPoint"] = list(entry_point)
                    item.pop("command", None)
        return data


@dataclass(frozen=True)
class ContainerState:
    """A container of a starting or stopped task."""

    name: str
    last_status: str
    reason: str | None
    exit_code: int | None
    agent_status: str | None
    agent_reason: str | None


@dataclass(frozen=True)
class TaskState:
    """A task as `run` follows it."""

    arn: str
    last_status: str
    desired_status: str
    containers: tuple[ContainerState, ...]
    stopped_reason: str | None = None
    stop_code: str | None = None
    started_by: str | None = None
    created_at: datetime | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    task_definition_arn: str = ""

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class RunTaskInput:
    """One RunTask call (``overrides`` as RunTask takes them)."""

    cluster: str
    task_definition: str
    overrides: Mapping[str, Any]
    started_by: str
    tags: Mapping[str, str]
    network: NetworkConfig | None = None
    launch_type: str | None = None
    capacity_provider_strategy: tuple[Mapping[str, Any], ...] = ()
    platform_version: str | None = None
    group: str | None = None

    def to_api(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "cluster": self.cluster,
            "taskDefinition": self.task_definition,
            "count": 1,
            "enableExecuteCommand": True,
            "startedBy": self.started_by,
            "overrides": dict(self.overrides),
            "tags": _tags_to_api(self.tags),
        }
        if self.network is not None:
            params["networkConfiguration"] = self.network.to_api()
        if self.launch_type:
            params["launchType"] = self.launch_type
        elif self.capacity_provider_strategy:
            params["capacityProviderStrategy"] = [dict(i) for i in self.capacity_provider_strategy]
        if self.platform_version and self.launch_type != "EC2":
            params["platformVersion"] = self.platform_version
        if self.group:
            params["group"] = self.group
        return params


def _tags_to_api(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _tags(items: Any) -> dict[str, str]:
    return {str(t.get("key", "")): str(t.get("value", "")) for t in items or []}


class TaskLauncher:
    """RunTask and the calls around it.

    Args:
        client: a boto3 ECS client.
        profile: the profile in use, for error hints.
    """

    def __init__(self, client: ECSClient, *, profile: str | None = None) -> None:
        self.client = client
        self.profile = profile

    def _call(self, action: str, *, cluster: str | None = None, service: str | None = None) -> Any:
        return map_aws_errors(action=action, profile=self.profile, cluster=cluster, service=service)

    def service_launch(self, cluster: str, service: str) -> ServiceLaunch:
        """The launch settings of a service's current deployment.

        Raises:
            ServiceNotFoundError: no such service in the cluster.
        """
        from ecs_exec.errors import ServiceNotFoundError

        with self._call("ecs:DescribeServices", cluster=cluster, service=service):
            response = self.client.describe_services(cluster=cluster, services=[service])
        found = response.get("services", [])
        if not found or found[0].get("status") == "INACTIVE":
            raise ServiceNotFoundError(
                f"service '{service}' not found in cluster '{cluster}'",
                cluster=cluster,
                service=service,
                hint=f"run `ecs-exec ls --cluster {cluster}` to list its services",
            )
        data: Any = found[0]
        primary = next(
            (d for d in data.get("deployments", []) if d.get("status") == "PRIMARY"), data
        )
        awsvpc = (
            primary.get("networkConfiguration") or data.get("networkConfiguration") or {}
        ).get("awsvpcConfiguration")
        network = None
        if awsvpc:
            public = awsvpc.get("assignPublicIp")
            network = NetworkConfig(
                subnets=tuple(awsvpc.get("subnets", [])),
                security_groups=tuple(awsvpc.get("securityGroups", [])),
                assign_public_ip=None if public is None else public == "ENABLED",
            )
        strategy = primary.get("capacityProviderStrategy") or data.get(
            "capacityProviderStrategy", []
        )
        return ServiceLaunch(
            task_definition=str(primary.get("taskDefinition") or data.get("taskDefinition")),
            network=network,
            launch_type=primary.get("launchType") or data.get("launchType") or None,
            capacity_provider_strategy=tuple(dict(i) for i in strategy),
            platform_version=primary.get("platformVersion") or data.get("platformVersion"),
        )

    def task_definition(self, ref: str) -> TaskDefinitionSpec:
        """A task definition by ``family``, ``family:revision`` or ARN, with its tags."""
        with self._call("ecs:DescribeTaskDefinition"):
            response = self.client.describe_task_definition(taskDefinition=ref, include=["TAGS"])
        data: Any = response.get("taskDefinition", {})
        containers = tuple(
            ContainerSpec(
                name=str(c.get("name", "")),
                image=str(c.get("image", "")),
                essential=bool(c.get("essential", True)),
                entry_point=tuple(c["entryPoint"]) if c.get("entryPoint") else None,
            )
            for c in data.get("containerDefinitions", [])
        )
        # What RegisterTaskDefinition takes, by its model: read-only fields (ARN, revision,
        # status, registeredAt...) are left out, new ones are carried over.
        accepted = self._register_members()
        register = {k: v for k, v in data.items() if k in accepted}
        return TaskDefinitionSpec(
            arn=str(data.get("taskDefinitionArn", "")),
            family=str(data.get("family", "")),
            revision=int(data.get("revision", 0)),
            network_mode=str(data.get("networkMode") or "bridge"),
            containers=containers,
            tags=_tags(response.get("tags")),
            register_input=register,
        )

    def _register_members(self) -> set[str]:
        model = self.client.meta.service_model.operation_model("RegisterTaskDefinition")
        shape = model.input_shape
        return set(shape.members) - {"tags"} if shape is not None else set()

    def find_tagged_revision(self, family: str, key: str, value: str) -> str | None:
        """The newest ACTIVE revision of ``family`` tagged ``key=value``, if any."""
        with self._call("ecs:ListTaskDefinitions"):
            response = self.client.list_task_definitions(
                familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=REUSE_LOOKUP_LIMIT
            )
        for arn in response.get("taskDefinitionArns", []):
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] != family:
                continue  # familyPrefix is a prefix: `web-ecs-exec` also finds `web-ecs-exec2`
            if self.task_definition(arn).tags.get(key) == value:
                return arn
        return None

    def register(self, register_input: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """RegisterTaskDefinition; returns the new revision's ARN."""
        params = dict(register_input)
        params["tags"] = _tags_to_api(tags)
        with self._call("ecs:RegisterTaskDefinition"):
            response = self.client.register_task_definition(**params)
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def deregister(self, arn: str) -> None:
        with self._call("ecs:DeregisterTaskDefinition"):
            self.client.deregister_task_definition(taskDefinition=arn)

    def run_task(self, request: RunTaskInput) -> TaskState:
        """RunTask for one task with exec enabled.

        Raises:
            TaskStartError: ECS answered with ``failures`` (capacity) and no task.
            AwsError: ECS refused the request (its message says why).
        """
        with self._call("ecs:RunTask", cluster=request.cluster):
            response = self.client.run_task(**request.to_api())
        tasks = response.get("tasks", [])
        if not tasks:
            failures = response.get("failures", [])
            reasons = sorted({str(f.get("reason", "")) for f in failures if f.get("reason")})
            detail = "; ".join(
                f"{f.get('reason')}" + (f" ({f['detail']})" if f.get("detail") else "")
                for f in failures
            )
            raise TaskStartError(
                f"ECS could not place the task: {detail or 'no reason given'}",
                task_id=None,
                hint=_capacity_hint(reasons),
            )
        return _task_state(tasks[0])

    def describe(self, cluster: str, arn: str) -> TaskState | None:
        with self._call("ecs:DescribeTasks", cluster=cluster):
            response = self.client.describe_tasks(cluster=cluster, tasks=[arn], include=["TAGS"])
        tasks = response.get("tasks", [])
        return _task_state(tasks[0]) if tasks else None

    def stop(self, cluster: str, arn: str, reason: str) -> None:
        with self._call("ecs:StopTask", cluster=cluster):
            self.client.stop_task(cluster=cluster, task=arn, reason=reason)

    def started_by(self, cluster: str, started_by: str) -> list[TaskState]:
        """Running tasks whose startedBy is ``started_by``, with their tags."""
        arns: list[str] = []
        with self._call("ecs:ListTasks", cluster=cluster):
            paginator = self.client.get_paginator("list_tasks")
            for page in paginator.paginate(cluster=cluster, startedBy=started_by):
                arns.extend(page.get("taskArns", []))
        found: list[TaskState] = []
        with self._call("ecs:DescribeTasks", cluster=cluster):
            for start in range(0, len(arns), 100):
                response = self.client.describe_tasks(
                    cluster=cluster, tasks=arns[start : start + 100], include=["TAGS"]
                )
                found.extend(_task_state(t) for t in response.get("tasks", []))
        return found


def _capacity_hint(reasons: Sequence[str]) -> str:
    if any(r.startswith("RESOURCE:") for r in reasons):
        return (
            "no container instance has room for the task: lower --cpu/--memory, add capacity, "
            "or use --launch-type FARGATE"
        )
    return "retry later, or in other subnets (availability zones)"


def _task_state(data: Any) -> TaskState:
    containers = []
    for c in data.get("containers", []):
        agent: Any = next(
            (a for a in c.get("managedAgents", []) if a.get("name") == EXEC_AGENT), {}
        )
        containers.append(
            ContainerState(
                name=str(c.get("name", "")),
                last_status=str(c.get("lastStatus", "")),
                reason=c.get("reason"),
                exit_code=c.get("exitCode"),
                agent_status=agent.get("lastStatus"),
                agent_reason=agent.get("reason"),
            )
        )
    return TaskState(
        arn=str(data.get("taskArn", "")),
        last_status=str(data.get("lastStatus", "")),
        desired_status=str(data.get("desiredStatus", "")),
        containers=tuple(containers),
        stopped_reason=data.get("stoppedReason"),
        stop_code=data.get("stopCode"),
        started_by=data.get("startedBy"),
        created_at=data.get("createdAt"),
        tags=_tags(data.get("tags")),
        task_definition_arn=str(data.get("taskDefinitionArn", "")),
    )
