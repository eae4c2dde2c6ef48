"""What doctor was asked to check, and the AWS look-ups its checks share.

``Facts`` answers each question once: the first check that asks calls AWS, later ones get
the same answer, or the same error raised again (so ten task checks cost one
DescribeTasks, and a denied call is reported once by the check it belongs to and skips the
rest through their ``needs``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from ecs_exec.aws import ecsinfo, iam, identity, network
from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.ecs import Container, EcsApi, Task
from ecs_exec.aws.resolve import (
    Resolver,
    TargetSpec,
    readiness_problems,
    resolve_cluster,
    task_sort_key,
)
from ecs_exec.errors import EcsExecError, TargetNotFoundError

T = TypeVar("T")


@dataclass(frozen=True)
class DoctorRequest:
    """What to check and how exec would run.

    Args:
        cluster, service, task, container: the target, as for exec (each optional).
        transport: ``native`` or ``plugin`` (the plugin binary is checked for the latter).
        profile, region, endpoint_url: as given (flags, environment, context).
        region_source: where the region came from, in words (``--region``, ``AWS_REGION``).
        sandbox: the endpoint is the sandbox (``--sandbox`` or a loopback context).
        environ: the environment (proxy variables, AWS_* names; values are never shown).
    """

    cluster: str | None = None
    service: str | None = None
    task: str | None = None
    container: str | None = None
    transport: str = "native"
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    region_source: str | None = None
    sandbox: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskRole:
    """The role the exec agent uses: the task role, or on EC2 the instance profile's."""

    arn: str | None
    source: str  # "task role" | "instance profile" | "none"
    instance_profile: str | None = None


class Facts:
    """Memoized look-ups for one doctor run.

    Args:
        request: what to check.
        clients: AWS clients (region, profile, endpoint applied).
        clock: epoch seconds (injectable for the clock-skew check's tests).
    """

    def __init__(
        self,
        request: DoctorRequest,
        clients: AwsClients,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.request = request
        self.clients = clients
        self.clock = clock
        self.profile = request.profile
        self._memo: dict[str, Any] = {}

    @cached_property
    def ecs(self) -> EcsApi:
        """ECS discovery, as exec does it (built on first use: the region may be missing)."""
        return EcsApi(self.clients.ecs, profile=self.profile, cache_task_definitions=False)

    def _once(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            try:
                self._memo[key] = (True, compute())
            except EcsExecError as exc:
                self._memo[key] = (False, exc)
        good, value = self._memo[key]
        if not good:
            raise value
        result: T = value
        return result

    def peek(self, key: str) -> Any:
        """A look-up's answer if some check already made it successfully, else None."""
        good, value = self._memo.get(key, (False, None))
        return value if good else None

    # -- the caller --------------------------------------------------------------------

    def region(self) -> str:
        return self._once("region", lambda: self.clients.region)

    def credentials(self) -> identity.CredentialsInfo | None:
        return self._once(
            "credentials",
            lambda: identity.find_credentials(self.clients.session, profile=self.profile),
        )

    def identity(self) -> identity.CallerIdentity:
        return self._once(
            "identity",
            lambda: identity.get_caller_identity(
                self.clients.sts, profile=self.profile, clock=self.clock
            ),
        )

    def principal(self) -> iam.Principal:
        return self._once(
            "principal",
            lambda: iam.principal_for(self.clients.iam, self.identity().arn, profile=self.profile),
        )

    # -- the target --------------------------------------------------------------------

    def cluster(self) -> str:
        return self._once("cluster", lambda: resolve_cluster(self.ecs, self.request.cluster))

    def exec_configuration(self) -> ecsinfo.ExecConfiguration:
        def compute() -> ecsinfo.ExecConfiguration:
            name = self.cluster()
            config = ecsinfo.exec_configuration(self.clients.ecs, name, profile=self.profile)
            if config is None or config.status == "INACTIVE":
                raise TargetNotFoundError(
                    f"cluster '{name}' not found in {self.region()}",
                    hint="run `ecs-exec ls` to list the clusters in this region",
                )
            return config

        return self._once("exec_configuration", compute)

    def service(self) -> ecsinfo.ServiceInfo:
        def compute() -> ecsinfo.ServiceInfo:
            name = self.service_name()
            assert name is not None, "service checks need a service"
            found = ecsinfo.service(self.clients.ecs, self.cluster(), name, profile=self.profile)
            if found is None:
                raise TargetNotFoundError(
                    f"service '{name}' not found in cluster '{self.cluster()}'",
                    hint=f"run `ecs-exec ls --cluster {self.cluster()}` to list its services",
                )
            return found

        return self._once("service", compute)

    def service_name(self) -> str | None:
        """The service asked for, else the chosen task's service (if it has one)."""
        if self.request.service:
            return self.request.service.rsplit("/", 1)[-1]
        try:
            return self.task().service_name
        except EcsExecError:
            return None

    def service_tasks(self) -> list[Task]:
        def compute() -> list[Task]:
            arns = self.ecs.list_task_arns(self.cluster(), self.service_name())
            return self.ecs.describe_tasks(self.cluster(), arns) if arns else []

        return self._once("service_tasks", compute)

    def _target(self) -> tuple[Task, Container | None]:
        def compute() -> tuple[Task, Container | None]:
            spec = TargetSpec(
                cluster=self.cluster(),
                service=self.request.service,
                task=self.request.task,
                container=self.request.container,
            )
            resolver = Resolver(self.ecs)
            chosen: tuple[Task, Container | None] | None = None
            # The task exec would take (the first ready one), else the first candidate.
            for task in sorted(
                resolver.candidate_tasks(spec.cluster or "", spec), key=task_sort_key
            ):
                container, problem = resolver.choose_container(task, spec.container)
                if chosen is None:
                    chosen = (task, container)
                if problem is None and not readiness_problems(task, container):
                    return task, container
            assert chosen is not None, "candidate_tasks raises when there is none"
            return chosen

        return self._once("target", compute)

    def task(self) -> Task:
        return self._target()[0]

    def container(self) -> Container | None:
        """The container exec would use; None when --container names none of the task's."""
        return self._target()[1]

    def task_extras(self) -> ecsinfo.TaskExtras:
        return self._once(
            "task_extras",
            lambda: ecsinfo.task_extras(
                self.clients.ecs, self.cluster(), self.task().arn, profile=self.profile
            ),
        )

    def task_definition(self) -> ecsinfo.TaskDefinitionInfo:
        return self._once(
            "task_definition",
            lambda: ecsinfo.task_definition(
                self.clients.ecs, self.task().task_definition_arn, profile=self.profile
            ),
        )

    def container_instance(self) -> ecsinfo.ContainerInstanceInfo | None:
        def compute() -> ecsinfo.ContainerInstanceInfo | None:
            arn = self.task_extras().container_instance_arn
            if arn is None:
                return None
            return ecsinfo.container_instance(
                self.clients.ecs, self.cluster(), arn, profile=self.profile
            )

        return self._once("container_instance", compute)

    def instance(self) -> network.Instance | None:
        def compute() -> network.Instance | None:
            ci = self.container_instance()
            if ci is None or ci.ec2_instance_id is None:
                return None
            return network.instance(self.clients.ec2, ci.ec2_instance_id, profile=self.profile)

        return self._once("instance", compute)

    def task_role(self) -> TaskRole:
        def compute() -> TaskRole:
            arn = self.task_definition().task_role_arn
            if arn:
                return TaskRole(arn, "task role")
            if self.task().launch_type == "EC2" or self.task_extras().container_instance_arn:
                host = self.instance()
                if host is not None and host.profile_arn:
                    role = iam.instance_profile_role(
                        self.clients.iam, host.profile_arn, profile=self.profile
                    )
                    return TaskRole(role, "instance profile", host.profile_arn)
            return TaskRole(None, "none")

        return self._once("task_role", compute)

    # -- ARNs ---------------------------------------------------------------------------

    def arn(self, service: str, resource: str) -> str:
        ident = self.identity()
        return f"arn:{ident.partition}:{service}:{self.region()}:{ident.account}:{resource}"
