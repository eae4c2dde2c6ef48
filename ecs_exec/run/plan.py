"""From a `run` request to one RunTask call: the task definition (the service's current one,
or the one named), the target container, the network configuration, the keep-alive, the
tags that mark the task as ecs-exec's, and the derived task definition revision that
``--image`` (or a task definition with its own entry point) needs.

Derived revisions live in a family of their own (``<family>-ecs-exec``), tagged with the
revision they come from and a digest of their whole definition; an ACTIVE revision with the
same digest is reused instead of registering another (docs/run.md#derived-task-definitions).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_exec.aws.runtask import NetworkConfig, RunTaskInput, TaskDefinitionSpec, TaskLauncher
from ecs_exec.errors import UsageError
from ecs_exec.run import keepalive
from ecs_exec.run.request import RunRequest, build_overrides

#: startedBy of every task ecs-exec starts (ListTasks can filter on it).
STARTED_BY = "ecs-exec"
TAG_STARTED_BY = "ecs-exec:started-by"
TAG_SERVICE = "ecs-exec:service"
TAG_EXPIRES = "ecs-exec:expires-at"
TAG_DERIVED_FROM = "ecs-exec:derived-from"
TAG_DIGEST = "ecs-exec:digest"
DERIVED_SUFFIX = "-ecs-exec"


@dataclass(frozen=True)
class Derived:
    """A task definition revision to register (or reuse) before RunTask."""

    family: str
    register_input: dict[str, Any]
    digest: str
    source_arn: str

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_DIGEST: self.digest, TAG_DERIVED_FROM: self.source_arn}


@dataclass(frozen=True)
class LaunchPlan:
    """Everything RunTask needs; ``run_input.task_definition`` is the source revision until
    a derived one replaces it."""

    cluster: str
    source: TaskDefinitionSpec
    container: str
    run_input: RunTaskInput
    derived: Derived | None = None


def who() -> str:
    """``user@host`` of the local side, for the started-by tag."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in a bare container: still tag the host
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:256]


def plan_launch(
    launcher: TaskLauncher, request: RunRequest, cluster: str, *, now: datetime | None = None
) -> LaunchPlan:
    """Describe the service and task definition and decide the RunTask call.

    Raises:
        UsageError: no such container, or an awsvpc task definition and no subnets.
        AwsError: the service or task definition could not be described.
    """
    launch = launcher.service_launch(cluster, request.service) if request.service else None
    ref = request.task_definition or (launch.task_definition if launch else "")
    source = launcher.task_definition(ref)
    container = choose_container(source, request.container)
    network = launch.network if launch else None
    if request.subnets or request.security_groups or request.public_ip is not None:
        subnets = request.subnets or (network.subnets if network else ())
        groups = request.security_groups or (network.security_groups if network else ())
        public = request.public_ip
        if public is None and network is not None:
            public = network.assign_public_ip
        network = NetworkConfig(
            subnets=tuple(subnets), security_groups=tuple(groups), assign_public_ip=public
        )
    if source.network_mode == "awsvpc" and (network is None or not network.subnets):
        raise UsageError(
            f"task definition {source.family}:{source.revision} uses the awsvpc network mode, "
            "which needs subnets",
            hint="pass --subnet ID (and --security-group ID), or --service-name to use a "
            "service's network configuration",
        )
    if source.network_mode != "awsvpc":
        network = None
    launch_type = request.launch_type or (launch.launch_type if launch else None)
    strategy = () if request.launch_type else (launch.capacity_provider_strategy if launch else ())
    overrides = build_overrides(
        container=container,
        command=keepalive.command(request.max_lifetime),
        environment=request.environment,
        cpu=request.cpu,
        memory=request.memory,
    )
    now = now or datetime.now(UTC)
    expires = (now + timedelta(seconds=request.max_lifetime)).strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = {TAG_STARTED_BY: who(), TAG_EXPIRES: expires}
    if request.service:
        tags[TAG_SERVICE] = request.service
    run_input = RunTaskInput(
        cluster=cluster,
        task_definition=source.arn,
        overrides=overrides,
        started_by=STARTED_BY,
        tags=tags,
        network=network,
        launch_type=launch_type,
        capacity_provider_strategy=strategy,
        platform_version=launch.platform_version if launch else None,
    )
    target = source.container(container)
    assert target is not None  # choose_container checked it
    derived = None
    if request.image is not None or target.entry_point is not None:
        derived = derive(
            source,
            container=container,
            image=request.image,
            entry_point=keepalive.ENTRY_POINT if target.entry_point is not None else None,
        )
    return LaunchPlan(
        cluster=cluster, source=source, container=container, run_input=run_input, derived=derived
    )


def choose_container(source: TaskDefinitionSpec, wanted: str | None) -> str:
    """``--container``, else the only container, else the first essential one (exec's rule,
    on the task definition: no agent runs yet).

    Raises:
        UsageError: ``wanted`` is not a container of the task definition.
    """
    names = [c.name for c in source.containers]
    if wanted is not None:
        if wanted not in names:
            raise UsageError(
                f"container '{wanted}' is not in task definition {source.family}:{source.revision}",
                hint=f"its containers: {', '.join(names)}",
            )
        return wanted
    if len(source.containers) == 1:
        return names[0]
    return next((c.name for c in source.containers if c.essential), names[0])


def derive(
    source: TaskDefinitionSpec,
    *,
    container: str,
    image: str | None,
    entry_point: tuple[str, ...] | None,
) -> Derived:
    family = (source.family + DERIVED_SUFFIX)[:255]
    data = source.derived_input(
        family=family, container=container, image=image, entry_point=entry_point
    )
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]
    return Derived(family=family, register_input=data, digest=digest, source_arn=source.arn)


def ensure_task_definition(launcher: TaskLauncher, plan: LaunchPlan) -> tuple[LaunchPlan, bool]:
    """Register the derived revision, or reuse an identical one; the plan to run and
    whether this call registered a revision (which the run must deregister)."""
    if plan.derived is None:
        return plan, False
    derived = plan.derived
    arn = launcher.find_tagged_revision(derived.family, TAG_DIGEST, derived.digest)
    registered = arn is None
    if arn is None:
        arn = launcher.register(derived.register_input, derived.tags)
    return replace(plan, run_input=replace(plan.run_input, task_definition=arn)), registered
