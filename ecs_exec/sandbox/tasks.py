"""Task lifecycle in the sandbox: RunTask, StopTask, and the task definitions RunTask uses.

As in ECS (docs/run.md#the-task-lifecycle):

- RunTask validates the request (task definition ACTIVE, count, launch type, the awsvpc
  network configuration and its subnets and security groups, container overrides and their
  8192-character limit, tags), answers at once with the task PROVISIONING, and reports
  capacity problems in ``failures[]`` (EC2: ``RESOURCE:MEMORY`` / ``RESOURCE:CPU`` when no
  container instance of the cluster has room), not as an error.
- The task then moves on by itself: PROVISIONING -> PENDING (the image pull) -> RUNNING,
  and its ExecuteCommandAgent reaches RUNNING a little later. The sandbox has no clock of its
  own: ``advance`` moves every starting task to where its timeline says, before each request
  is answered. ``SandboxState.task_delays`` holds the three delays.
- An image whose registry host ends in ``.invalid`` (a name that can never resolve, RFC 6761)
  cannot be pulled: the task stops after PENDING with stopCode TaskFailedToStart and
  ``CannotPullContainerError`` as the task's and the container's reason.
- Images without a shell (``gcr.io/distroless/...`` other than ``:debug`` tags, ``scratch``)
  cannot run a command that starts with ``sh``: the task stops after PENDING with
  ``CannotStartContainerError`` (``exec: "sh": executable file not found in $PATH``).
- ``faults["task"]`` (``{"agentStatus": "PENDING"|"STOPPED", "agentReason": "..."}``) makes
  the exec agents of the tasks RunTask starts from then on stay PENDING or stop, as an agent
  that cannot reach ssmmessages does.
- StopTask stops at once (lastStatus STOPPED), ends the task's exec sessions, and keeps the
  first reason when the task had already stopped.
- RegisterTaskDefinition adds a revision to a family (revisions are never reused, even after
  deregistration); DeregisterTaskDefinition makes one INACTIVE (it can no longer be run, nor
  found by family name alone); ListTaskDefinitions filters by family prefix and status.

Messages copy ECS's wording where it is known; the others say "sandbox wording".
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ecs_exec.sandbox.apierror import ApiError, Body, invalid
from ecs_exec.sandbox.state import (
    Cluster,
    ContainerDefinition,
    SandboxState,
    Task,
    TaskDefinition,
)

#: RunTask's limit on the JSON text of ``overrides``, formatting characters included.
OVERRIDES_LIMIT = 8192
_FAMILY = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
#: Delays of ``running_sandbox(fast=True)``: the same sequence, a few milliseconds long.
FAST_TASK_DELAYS = (0.01, 0.01, 0.01)

Render = Callable[[Any, SandboxState], Body]


@dataclass
class Launch:
    """Where a RunTask task is on its way to RUNNING (``Task.launch``)."""

    created: float
    delays: tuple[float, float, float]
    pull_error: str | None = None
    start_error: str | None = None  #: the container cannot run its command
    instance: int | None = None  #: the EC2 container instance it was placed on
    agent_status: str = "RUNNING"  #: where the exec agents end up (``faults["task"]``)
    agent_reason: str | None = None
    done: bool = False


# -- the lifecycle ---------------------------------------------------------------------------


def advance(state: SandboxState, now: float | None = None) -> None:
    """Move every starting task along its timeline (callers hold ``state.lock``)."""
    now = time.time() if now is None else now
    for task in state.tasks:
        launch = task.launch
        if isinstance(launch, Launch) and not launch.done and task.desired_status == "RUNNING":
            _advance_task(task, launch, now)


def _advance_task(task: Task, launch: Launch, now: float) -> None:
    provisioning, pending, agent = launch.delays
    pulled = launch.created + provisioning + pending
    if now < launch.created + provisioning:
        return
    if now < pulled:
        task.last_status = "PENDING"
        return
    failure = launch.pull_error or launch.start_error
    if failure is not None:
        task.last_status = task.desired_status = "STOPPED"
        task.stopped_at = pulled
        task.stopped_reason = failure
        task.stop_code = "TaskFailedToStart"
        for container in task.containers:
            container.last_status = "STOPPED"
            container.reason = failure
            for managed in container.managed_agents:
                managed.last_status = "STOPPED"
        launch.done = True
        return
    task.last_status = "RUNNING"
    task.started_at = pulled
    for container in task.containers:
        container.last_status = "RUNNING"
    if now < pulled + agent:
        return
    for container in task.containers:
        for managed in container.managed_agents:
            managed.last_status = launch.agent_status
            managed.reason = launch.agent_reason
            if launch.agent_status == "RUNNING":
                managed.last_started_at = pulled + agent
    launch.done = True


def pull_error(image: str) -> str | None:
    """containerd's answer to pulling ``image``, or None when it can be pulled."""
    host = image.split("/", 1)[0] if "/" in image else ""
    if not host.split(":", 1)[0].endswith(".invalid"):
        return None
    name, _, tag = image.rpartition(":")
    if "/" in tag:  # a registry port, not a tag
        name, tag = image, "latest"
    path = name.split("/", 1)[1]
    return (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
        f'resolve ref {name}:{tag}: failed to do request: Head "https://{host}/v2/{path}/'
        f'manifests/{tag}": dial tcp: lookup {host.split(":", 1)[0]}: no such host'
    )


def start_error(image: str, argv: list[str]) -> str | None:
    """The runtime's answer when ``argv`` needs a shell that ``image`` does not have."""
    name = image.rsplit("@", 1)[0]
    no_shell = name == "scratch" or ("/distroless/" in name and "debug" not in name)
    if not no_shell or not argv or argv[0] not in ("sh", "/bin/sh"):
        return None
    return (
        "CannotStartContainerError: Error response from daemon: failed to create shim task: "
        "OCI runtime create failed: runc create failed: unable to start container process: "
        f'exec: "{argv[0]}": executable file not found in $PATH: unknown'
    )


# -- RunTask ---------------------------------------------------------------------------------


def _cluster(body: Body, state: SandboxState) -> Cluster:
    cluster = state.find_cluster(body.get("cluster"))
    if cluster is None:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    return cluster


def _check_network(body: Body, td: TaskDefinition, launch_type: str, state: SandboxState) -> None:
    config = (body.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if td.network_mode != "awsvpc":
        if config is not None:
            raise invalid(
                "Network Configuration is not valid for the given networkMode of this task "
                "definition."
            )
        if launch_type == "FARGATE":
            raise invalid("Task definition does not support launch_type FARGATE.")
        return
    if config is None:
        raise invalid(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )
    subnets = list(config.get("subnets") or [])
    if not subnets:
        raise invalid("subnets can not be empty.")
    if len(subnets) > 16:
        raise invalid("subnets can have at most 16 items.")  # sandbox wording
    missing = [s for s in subnets if _subnet(state, s) is None]
    if missing:
        raise invalid(
            f"Error retrieving subnet information for [{', '.join(missing)}]: The subnet ID "
            f"'{missing[0]}' does not exist (ErrorCode: InvalidSubnetID.NotFound)"
        )
    groups = list(config.get("securityGroups") or [])
    if len(groups) > 5:
        raise invalid("securityGroups can have at most 5 items.")  # sandbox wording
    unknown = [g for g in groups if _security_group(state, g) is None]
    if unknown:
        raise invalid(
            f"Error retrieving security group information for [{', '.join(unknown)}]: The "
            f"security group '{unknown[0]}' does not exist (ErrorCode: InvalidGroup.NotFound)"
        )
    vpcs = {(_subnet(state, s) or {}).get("vpcId") for s in subnets}
    vpcs |= {(_security_group(state, g) or {}).get("vpcId") for g in groups}
    if len(vpcs) > 1:
        raise invalid("Security groups and subnets must belong to the same VPC.")  # sandbox
    if config.get("assignPublicIp") == "ENABLED" and launch_type != "FARGATE":
        raise invalid("Assign public IP is not supported for this launch type.")


def _subnet(state: SandboxState, subnet_id: str) -> dict[str, Any] | None:
    """A subnet of the world's top-level ``subnets`` or of its ``ec2`` section (doctor's)."""
    return state.subnets.get(subnet_id) or state.world.ec2.subnet(subnet_id)


def _security_group(state: SandboxState, group_id: str) -> dict[str, Any] | None:
    found = state.security_groups.get(group_id)
    if found is None:
        groups = state.world.ec2.security_groups
        found = next((g for g in groups if g.get("groupId") == group_id), None)
    return found


def _check_overrides(body: Body, td: TaskDefinition) -> dict[str, Body]:
    overrides = body.get("overrides") or {}
    text = json.dumps(overrides, separators=(",", ":"))
    if len(text) > OVERRIDES_LIMIT:
        raise invalid(f"Container Overrides length must be at most {OVERRIDES_LIMIT}")
    names = {d.name for d in td.container_definitions}
    by_name: dict[str, Body] = {}
    for override in overrides.get("containerOverrides") or []:
        name = str(override.get("name", ""))
        if name not in names:
            raise invalid(
                f"Override for container named {name} is not a container in the TaskDefinition."
            )
        by_name[name] = override
    return by_name


def _check_tags(tags: list[dict[str, str]]) -> None:
    if len(tags) > 50:
        raise invalid("Tags can have at most 50 items.")  # sandbox wording
    for tag in tags:
        key, value = str(tag.get("key", "")), str(tag.get("value", ""))
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise invalid("Tag keys are 1 to 128 characters, values up to 256.")  # sandbox
        if key.lower().startswith("aws:"):
            raise invalid("Tag keys may not start with the reserved prefix aws:.")  # sandbox


def _place(
    cluster: Cluster, td: TaskDefinition, overrides: Body, state: SandboxState
) -> tuple[int | None, list[Body]]:
    """The EC2 container instance for a task, or ECS's capacity ``failures``."""
    if not cluster.container_instances:
        raise invalid("No Container Instances were found in your cluster.")
    memory = int(overrides.get("memory") or td.memory or 0)
    cpu = int(overrides.get("cpu") or td.cpu or 0)
    used = [[0, 0] for _ in cluster.container_instances]
    for task in state.tasks:
        launch = task.launch
        if (
            task.cluster == cluster.name
            and task.last_status != "STOPPED"
            and isinstance(launch, Launch)
            and launch.instance is not None
        ):
            used_td = state.task_definitions[task.task_definition_arn]
            used[launch.instance][0] += int(used_td.memory or 0)
            used[launch.instance][1] += int(used_td.cpu or 0)
    failures = []
    for index, instance in enumerate(cluster.container_instances):
        free_memory = int(instance.get("memory", 0)) - used[index][0]
        free_cpu = int(instance.get("cpu", 0)) - used[index][1]
        if memory <= free_memory and cpu <= free_cpu:
            return index, []
        reason = "RESOURCE:MEMORY" if memory > free_memory else "RESOURCE:CPU"
        failures.append({"arn": instance_arn(cluster, index, state), "reason": reason})
    return None, failures


def instance_arn(cluster: Cluster, index: int, state: SandboxState) -> str:
    digest = hashlib.sha256(f"{cluster.name}/{index}".encode()).hexdigest()
    return state.arn("ecs", f"container-instance/{cluster.name}/{digest[:32]}")


def run_task(body: Body, state: SandboxState, render: Render) -> Body:
    cluster = _cluster(body, state)
    td = state.find_task_definition(str(body.get("taskDefinition", "")))
    if td is None:
        raise invalid("TaskDefinition not found.")
    if td.status != "ACTIVE":
        raise invalid("TaskDefinition is inactive")  # sandbox wording
    count = body.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 10:
        raise invalid("count must be between 1 and 10.")  # sandbox wording
    if body.get("launchType") and body.get("capacityProviderStrategy"):
        raise invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again."
        )
    strategy = body.get("capacityProviderStrategy") or []
    providers = [str(item.get("capacityProvider", "")) for item in strategy]
    unknown = [p for p in providers if p not in ("FARGATE", "FARGATE_SPOT")]
    if unknown:
        raise invalid(f"The specified capacity provider {unknown[0]} was not found.")  # sandbox
    launch_type = str(body.get("launchType") or "FARGATE")
    if launch_type not in ("FARGATE", "EC2", "EXTERNAL"):
        raise invalid(f"launchType {launch_type} is not valid.")  # sandbox wording
    started_by = body.get("startedBy")
    if started_by is not None and not re.fullmatch(r"[A-Za-z0-9_/.:-]{1,128}", str(started_by)):
        raise invalid("startedBy must be up to 128 letters, numbers, hyphens or underscores.")
    _check_network(body, td, launch_type, state)
    container_overrides = _check_overrides(body, td)
    tags = list(body.get("tags") or [])
    _check_tags(tags)
    task_overrides = body.get("overrides") or {}
    instance: int | None = None
    if launch_type == "EC2":
        instance, failures = _place(cluster, td, task_overrides, state)
        if failures:
            return {"tasks": [], "failures": failures}
    exec_enabled = bool(body.get("enableExecuteCommand", False))
    image_error = next(
        (e for e in (pull_error(d.image) for d in td.container_definitions) if e), None
    )
    run_error = next(
        (
            e
            for e in (
                start_error(
                    d.image,
                    [
                        *(d.entry_point or []),
                        *(container_overrides.get(d.name, {}).get("command") or d.command or []),
                    ],
                )
                for d in td.container_definitions
            )
            if e
        ),
        None,
    )
    fault = state.fault_settings("task")
    now = time.time()
    rendered = []
    for _ in range(count):
        task = _new_task(body, state, cluster, td, container_overrides, exec_enabled)
        task.launch_type = launch_type
        task.tags = tags
        task.created_at = now
        task.launch = Launch(
            created=now,
            delays=state.task_delays,
            pull_error=image_error,
            start_error=run_error,
            instance=instance,
            agent_status=str(fault.get("agentStatus", "RUNNING")),
            agent_reason=fault.get("agentReason"),
        )
        state.tasks.append(task)
        rendered.append(render(task, state))
    return {"tasks": rendered, "failures": []}


def _new_task(
    body: Body,
    state: SandboxState,
    cluster: Cluster,
    td: TaskDefinition,
    overrides: dict[str, Body],
    exec_enabled: bool,
) -> Task:
    task_arn = state.arn("ecs", f"task/{cluster.name}/{secrets.token_hex(16)}")
    containers = []
    for definition in td.container_definitions:
        container = state.new_container(
            task_arn, definition, agent_status="PENDING" if exec_enabled else None
        )
        container.last_status = "PENDING"
        override = overrides.get(definition.name, {})
        container.environment.update(
            {str(e["name"]): str(e.get("value", "")) for e in override.get("environment", [])}
        )
        containers.append(container)
    return Task(
        task_arn=task_arn,
        cluster=cluster.name,
        task_definition_arn=td.arn,
        containers=containers,
        group=str(body.get("group") or f"family:{td.family}"),
        started_by=body.get("startedBy"),
        last_status="PROVISIONING",
        enable_execute_command=exec_enabled,
        started_at=None,
    )


def stop_task(body: Body, state: SandboxState, render: Render) -> Body:
    cluster = _cluster(body, state)
    ref = str(body.get("task", ""))
    task = next(
        (t for t in state.tasks if t.cluster == cluster.name and ref in (t.task_arn, t.task_id)),
        None,
    )
    if task is None:
        raise invalid("The referenced task was not found.")
    if task.last_status == "STOPPED" and task.desired_status == "STOPPED":
        return {"task": render(task, state)}  # as ECS: stopping twice changes nothing
    now = time.time()
    task.desired_status = task.last_status = "STOPPED"
    task.stopped_at = now
    task.stopped_reason = str(body.get("reason") or "Task stopped by user")
    task.stop_code = "UserInitiated"
    for container in task.containers:
        container.last_status = "STOPPED"
        for managed in container.managed_agents:
            managed.last_status = "STOPPED"
    if isinstance(task.launch, Launch):
        task.launch.done = True
    # The agent dies with the container; its sessions end with it.
    state.sessions.terminate_task_sessions(task.task_arn)
    return {"task": render(task, state)}


# -- task definitions ------------------------------------------------------------------------


def _definition(item: Body) -> ContainerDefinition:
    name, image = item.get("name"), item.get("image")
    if not name:
        raise ApiError("ClientException", "Container.name should not be null or empty.")
    if not image:
        raise ApiError("ClientException", "Container.image should not be null or empty.")
    return ContainerDefinition(
        name=str(name),
        image=str(image),
        essential=bool(item.get("essential", True)),
        environment={str(e["name"]): str(e.get("value", "")) for e in item.get("environment", [])},
        working_directory=item.get("workingDirectory"),
        command=item.get("command"),
        entry_point=item.get("entryPoint"),
    )


def register_task_definition(body: Body, state: SandboxState, render: Render) -> Body:
    family = str(body.get("family", ""))
    if not _FAMILY.match(family):
        raise ApiError(
            "ClientException",
            "Family name can be up to 255 letters (uppercase and lowercase), numbers, "
            "hyphens, and underscores.",
        )
    items = list(body.get("containerDefinitions") or [])
    if not items:
        raise ApiError("ClientException", "Container list cannot be empty.")
    definitions = [_definition(item) for item in items]
    network_mode = str(body.get("networkMode") or "bridge")
    if network_mode not in ("bridge", "host", "awsvpc", "none"):
        raise ApiError("ClientException", f"networkMode {network_mode} is not valid.")
    tags = list(body.get("tags") or [])
    _check_tags(tags)
    revision = 1 + max(
        (td.revision for td in state.task_definitions.values() if td.family == family), default=0
    )
    td = TaskDefinition(
        family=family,
        revision=revision,
        arn=state.arn("ecs", f"task-definition/{family}:{revision}"),
        container_definitions=definitions,
        cpu=str(body.get("cpu") or "256"),
        memory=str(body.get("memory") or "512"),
        network_mode=network_mode,
        requires_compatibilities=list(body.get("requiresCompatibilities") or []),
        tags=tags,
        registered=dict(body),
    )
    state.task_definitions[td.arn] = td
    return {"taskDefinition": render(td, state), "tags": tags}


def deregister_task_definition(body: Body, state: SandboxState, render: Render) -> Body:
    ref = str(body.get("taskDefinition", ""))
    if ":" not in ref.rsplit("/", 1)[-1]:
        raise ApiError("ClientException", "The specified task definition does not exist.")
    td = state.find_task_definition(ref)
    if td is None:
        raise ApiError("ClientException", "The specified task definition does not exist.")
    td.status = "INACTIVE"
    return {"taskDefinition": render(td, state)}


def list_task_definitions(
    body: Body, state: SandboxState, page: Callable[[list[str], Body, object, int], Body]
) -> Body:
    prefix = body.get("familyPrefix")
    status = body.get("status") or "ACTIVE"
    found = [
        td
        for td in state.task_definitions.values()
        if (prefix is None or td.family.startswith(str(prefix)))
        and (status == "ALL" or td.status == status)
    ]
    found.sort(key=lambda td: (td.family, td.revision), reverse=body.get("sort") == "DESC")
    result = page([td.arn for td in found], body, ["td", prefix, status, body.get("sort")], 100)
    return {"taskDefinitionArns": result.pop("items"), **result}
