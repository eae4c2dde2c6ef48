"""The ECS details doctor reads beyond exec's: a cluster's exec configuration, a task's
network attachment and container instance, its task definition's exec-relevant settings,
a service, and a container instance's agent.

Environment *values* are never kept: only the names, so no secret can reach a report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


@dataclass(frozen=True)
class ExecConfiguration:
    """A cluster's ``executeCommandConfiguration`` (logging DEFAULT when absent)."""

    cluster: str
    cluster_arn: str
    status: str
    kms_key_id: str | None = None
    logging: str = "DEFAULT"  # NONE | DEFAULT | OVERRIDE
    log_group: str | None = None
    log_group_encryption: bool = False
    s3_bucket: str | None = None
    s3_encryption: bool = False
    s3_prefix: str | None = None


@dataclass(frozen=True)
class TaskExtras:
    """What DescribeTasks says beyond ``aws.ecs.Task``."""

    subnet_id: str | None
    eni_id: str | None
    container_instance_arn: str | None
    platform_family: str | None
    #: environment variable names a container gets from the task's overrides
    override_env: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class ContainerSettings:
    """The exec-relevant settings of one container definition."""

    name: str
    readonly_root: bool
    init_process: bool
    env_names: tuple[str, ...]
    #: the awslogs driver's log group, where exec logging DEFAULT sends session output
    awslogs_group: str | None = None


@dataclass(frozen=True)
class TaskDefinitionInfo:
    arn: str
    task_role_arn: str | None
    network_mode: str | None
    pid_mode: str | None
    os_family: str | None
    containers: tuple[ContainerSettings, ...]

    def container(self, name: str) -> ContainerSettings | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    arn: str
    enable_execute_command: bool
    task_definition: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool
    deployment_started: datetime | None


@dataclass(frozen=True)
class ContainerInstanceInfo:
    arn: str
    ec2_instance_id: str | None
    agent_version: str | None
    agent_connected: bool


@contextmanager
def _call(action: str, profile: str | None, cluster: str | None = None) -> Iterator[None]:
    with map_aws_errors(action=action, profile=profile, cluster=cluster):
        yield


def exec_configuration(
    client: ECSClient, cluster: str, *, profile: str | None = None
) -> ExecConfiguration | None:
    """DescribeClusters with CONFIGURATIONS; None when the cluster does not exist."""
    with _call("ecs:DescribeClusters", profile, cluster):
        response = client.describe_clusters(clusters=[cluster], include=["CONFIGURATIONS"])
    found = response.get("clusters", [])
    if not found:
        return None
    data: Any = found[0]
    config = data.get("configuration", {}).get("executeCommandConfiguration", {})
    logs = config.get("logConfiguration", {})
    return ExecConfiguration(
        cluster=str(data.get("clusterName", cluster)),
        cluster_arn=str(data.get("clusterArn", "")),
        status=str(data.get("status", "")),
        kms_key_id=config.get("kmsKeyId") or None,
        logging=str(config.get("logging") or "DEFAULT"),
        log_group=logs.get("cloudWatchLogGroupName") or None,
        log_group_encryption=bool(logs.get("cloudWatchEncryptionEnabled", False)),
        s3_bucket=logs.get("s3BucketName") or None,
        s3_encryption=bool(logs.get("s3EncryptionEnabled", False)),
        s3_prefix=logs.get("s3KeyPrefix") or None,
    )


def task_extras(
    client: ECSClient, cluster: str, task_arn: str, *, profile: str | None = None
) -> TaskExtras:
    with _call("ecs:DescribeTasks", profile, cluster):
        response = client.describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks: list[Any] = list(response.get("tasks", []))
    data: Any = tasks[0] if tasks else {}
    details: dict[str, str] = {}
    for attachment in data.get("attachments", []):
        if attachment.get("type") == "ElasticNetworkInterface":
            details = {d.get("name", ""): str(d.get("value", "")) for d in attachment["details"]}
    override_env = {
        str(o.get("name", "")): tuple(str(e.get("name", "")) for e in o.get("environment", []))
        for o in data.get("overrides", {}).get("containerOverrides", [])
    }
    return TaskExtras(
        subnet_id=details.get("subnetId") or None,
        eni_id=details.get("networkInterfaceId") or None,
        container_instance_arn=data.get("containerInstanceArn") or None,
        platform_family=data.get("platformFamily") or None,
        override_env=override_env,
    )


def task_definition(
    client: ECSClient, arn: str, *, profile: str | None = None
) -> TaskDefinitionInfo:
    with _call("ecs:DescribeTaskDefinition", profile):
        response = client.describe_task_definition(taskDefinition=arn)
    data: Any = response.get("taskDefinition", {})
    containers = tuple(
        ContainerSettings(
            name=str(c.get("name", "")),
            readonly_root=bool(c.get("readonlyRootFilesystem", False)),
            init_process=bool(c.get("linuxParameters", {}).get("initProcessEnabled", False)),
            env_names=tuple(str(e.get("name", "")) for e in c.get("environment", [])),
            awslogs_group=_awslogs_group(c),
        )
        for c in data.get("containerDefinitions", [])
    )
    return TaskDefinitionInfo(
        arn=str(data.get("taskDefinitionArn", arn)),
        task_role_arn=data.get("taskRoleArn") or None,
        network_mode=data.get("networkMode") or None,
        pid_mode=data.get("pidMode") or None,
        os_family=data.get("runtimePlatform", {}).get("operatingSystemFamily") or None,
        containers=containers,
    )


def _awslogs_group(container: Any) -> str | None:
    config = container.get("logConfiguration") or {}
    if config.get("logDriver") != "awslogs":
        return None
    return (config.get("options") or {}).get("awslogs-group") or None


def service(
    client: ECSClient, cluster: str, name: str, *, profile: str | None = None
) -> ServiceInfo | None:
    """DescribeServices for one service; None when ECS does not know it."""
    with _call("ecs:DescribeServices", profile, cluster):
        response = client.describe_services(cluster=cluster, services=[name])
    found: list[Any] = [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
    if not found:
        return None
    data = found[0]
    vpc = data.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    primary: Any = next(
        (d for d in data.get("deployments", []) if d.get("status") == "PRIMARY"), {}
    )
    return ServiceInfo(
        name=str(data.get("serviceName", name)),
        arn=str(data.get("serviceArn", "")),
        enable_execute_command=bool(data.get("enableExecuteCommand", False)),
        task_definition=str(data.get("taskDefinition", "")),
        subnets=tuple(vpc.get("subnets", [])),
        security_groups=tuple(vpc.get("securityGroups", [])),
        assign_public_ip=vpc.get("assignPublicIp") == "ENABLED",
        deployment_started=primary.get("createdAt"),
    )


def container_instance(
    client: ECSClient, cluster: str, arn: str, *, profile: str | None = None
) -> ContainerInstanceInfo | None:
    with _call("ecs:DescribeContainerInstances", profile, cluster):
        response = client.describe_container_instances(cluster=cluster, containerInstances=[arn])
    found: list[Any] = list(response.get("containerInstances", []))
    if not found:
        return None
    data = found[0]
    return ContainerInstanceInfo(
        arn=str(data.get("containerInstanceArn", arn)),
        ec2_instance_id=data.get("ec2InstanceId") or None,
        agent_version=data.get("versionInfo", {}).get("agentVersion") or None,
        agent_connected=bool(data.get("agentConnected", False)),
    )
