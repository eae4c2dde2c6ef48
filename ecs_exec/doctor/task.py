"""Task checks: the task, its state and platform, exec enabled, each container's exec agent,
and the task definition settings that break or hinder ECS Exec."""

from __future__ import annotations

from ecs_exec.aws.ecsinfo import ContainerSettings
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.fixes import restart_task
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped, warning

#: ECS Exec needs Fargate platform 1.4.0 on Linux and ECS agent 1.50.2 on EC2
#: (docs/doctor.md#1-platform-prerequisites).
FARGATE_MIN = (1, 4, 0)
AGENT_MIN = (1, 50, 2)
#: The SSM agent keeps its state and logs here; a read-only root needs volumes on them
#: (docs/doctor.md#2-inside-the-container).
AGENT_PATHS = ("/var/lib/amazon", "/var/log/amazon")
STATIC_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in text.lstrip("v").split("."))
    except ValueError:
        return None


def check_found(facts: Facts) -> Finding:
    task = facts.task()
    how = "as named" if facts.request.task else "the task exec would choose"
    owner = f"service {task.service_name}" if task.service_name else "no service"
    return ok(
        f"{task.id} ({owner}, {task.revision}; {how})",
        taskArn=task.arn,
        taskDefinition=task.task_definition_arn,
        service=task.service_name,
    )


def check_running(facts: Facts) -> Finding:
    task = facts.task()
    details = {"lastStatus": task.last_status, "desiredStatus": task.desired_status}
    listing = f"ecs-exec ls --cluster {facts.cluster()}" + (
        f" --service-name {task.service_name}" if task.service_name else ""
    )
    if task.stopping:
        return failed(
            f"stopping (desired {task.desired_status}, last {task.last_status})",
            "a stopping task takes no new sessions"
            + (f": {task.stopped_reason}" if task.stopped_reason else ""),
            f"pick a running task (`{listing}`)",
            **details,
        )
    if task.last_status != "RUNNING":
        return failed(
            f"{task.last_status}, not RUNNING yet",
            "exec works once the task and its agent are running",
            f"retry in a few seconds (`{listing}` shows its state)",
            **details,
        )
    return ok("RUNNING", **details)


def check_platform(facts: Facts) -> Finding:
    task = facts.task()
    launch = task.launch_type or (
        "EC2" if facts.task_extras().container_instance_arn else "unknown"
    )
    family = facts.task_extras().platform_family or "Linux"
    if launch == "FARGATE":
        version = task.platform_version or "LATEST"
        parsed = _version(version)
        details = {"launchType": launch, "platformVersion": version, "platformFamily": family}
        if family.upper().startswith("LINUX") and parsed is not None and parsed < FARGATE_MIN:
            service = task.service_name
            fix = (
                f"aws ecs update-service --cluster {facts.cluster()} --service {service} "
                "--platform-version LATEST --force-new-deployment"
                if service
                else "run the task again with --platform-version LATEST"
            )
            return failed(
                f"Fargate platform {version} on {family}",
                "ECS Exec needs Fargate platform version 1.4.0 or later on Linux",
                fix,
                **details,
            )
        return ok(f"Fargate, platform {version} ({family})", **details)
    if launch == "EC2":
        instance = facts.container_instance()
        if instance is None:
            return skipped("the task names no container instance to read the agent version of")
        version = instance.agent_version or "unknown"
        details = {"launchType": launch, "agentVersion": version, "containerInstance": instance.arn}
        parsed = _version(version)
        if parsed is None or parsed < AGENT_MIN:
            return failed(
                f"EC2, ECS agent {version} on {instance.ec2_instance_id or instance.arn}",
                "ECS Exec needs ECS container agent 1.50.2 or later",
                f"aws ecs update-container-agent --cluster {facts.cluster()} "
                f"--container-instance {instance.arn.rsplit('/', 1)[-1]}",
                **details,
            )
        return ok(f"EC2, ECS agent {version}", **details)
    return ok(f"{launch} launch type", launchType=launch)


def check_exec_enabled(facts: Facts) -> Finding:
    task = facts.task()
    if task.enable_execute_command:
        return ok("enableExecuteCommand is true", enableExecuteCommand=True)
    return failed(
        "enableExecuteCommand is false",
        "exec is decided when a task starts; this task started without it",
        restart_task(facts.cluster(), task.id, task.service_name, task.revision),
        enableExecuteCommand=False,
    )


def check_exec_agent(facts: Facts) -> Finding:
    task = facts.task()
    container = facts.container()
    statuses = {c.name: c.exec_agent_status for c in task.containers}
    agents = [
        {"container": c.name, "status": c.exec_agent_status, "reason": c.exec_agent_reason}
        for c in task.containers
    ]
    if container is None:
        names = ", ".join(statuses) or "none"
        return failed(
            f"the task has no container '{facts.request.container}'",
            f"its containers: {names}",
            "pass --container with one of them, or leave it out",
            agents=agents,
        )
    status = container.exec_agent_status or "missing"
    details = {"container": container.name, "status": status, "agents": agents}
    if container.exec_agent_running:
        others = [f"{n}: {s or 'missing'}" for n, s in statuses.items() if n != container.name]
        extra = f" (others: {', '.join(others)})" if others else ""
        return ok(f"ExecuteCommandAgent RUNNING in {container.name}{extra}", **details)
    why = container.exec_agent_reason or "ECS gives no reason"
    if status == "PENDING":
        fix = "retry in a few seconds; if it stays PENDING, see the task-role and network checks"
    else:
        fix = (
            "the agent needs the task role's ssmmessages permissions, a route to ssmmessages "
            "and a writable root filesystem (see the task-role, network and "
            "task.readonly-root checks); then replace the task"
        )
    return failed(
        f"ExecuteCommandAgent {status} in {container.name}",
        why,
        fix,
        reasonFromEcs=container.exec_agent_reason,
        **details,
    )


def _settings(facts: Facts) -> tuple[str, ContainerSettings | None]:
    container = facts.container()
    name = container.name if container is not None else (facts.request.container or "")
    return name, facts.task_definition().container(name)


def check_readonly_root(facts: Facts) -> Finding:
    name, settings = _settings(facts)
    if settings is None:
        return skipped(f"the task definition has no container '{name}'")
    if settings.readonly_root:
        volumes = " and ".join(AGENT_PATHS)
        return failed(
            f"container {name} has readonlyRootFilesystem true",
            "the SSM agent writes its state and logs under /var/lib/amazon and "
            "/var/log/amazon and cannot start on a read-only root",
            f"set readonlyRootFilesystem to false in {facts.task().revision}, or mount "
            f"writable volumes (a bind-mount or EFS volume) at {volumes} in container {name}; "
            "then deploy the new revision",
            container=name,
            readonlyRootFilesystem=True,
        )
    return ok(f"container {name} has a writable root filesystem", container=name)


def check_pid_mode(facts: Facts) -> Finding:
    mode = facts.task_definition().pid_mode
    if mode == "task":
        return warning(
            "pidMode is task",
            "containers share one process namespace: only one exec session at a time "
            "works reliably",
            f"remove pidMode from {facts.task().revision} unless a container needs it",
            pidMode=mode,
        )
    return ok(f"pidMode {mode or 'not set'}", pidMode=mode)


def check_init_process(facts: Facts) -> Finding:
    name, settings = _settings(facts)
    if settings is None:
        return skipped(f"the task definition has no container '{name}'")
    if not settings.init_process:
        return warning(
            f"container {name} has no init process",
            "processes left behind by exec sessions are never reaped and pile up as zombies",
            f'set "linuxParameters": {{"initProcessEnabled": true}} on container {name} in '
            f"{facts.task().revision}",
            container=name,
            initProcessEnabled=False,
        )
    return ok(f"container {name} runs an init process", container=name, initProcessEnabled=True)


def check_env_credentials(facts: Facts) -> Finding:
    name, settings = _settings(facts)
    if settings is None:
        return skipped(f"the task definition has no container '{name}'")
    names = set(settings.env_names) | set(facts.task_extras().override_env.get(name, ()))
    found = [key for key in STATIC_KEYS if key in names]
    if found:
        return failed(
            f"container {name} sets {' and '.join(found)} in its environment",
            "the SSM agent picks them up instead of the task role, and they usually lack "
            "the ssmmessages permissions",
            f"remove {' and '.join(found)} from container {name}'s environment "
            "(the task role provides credentials) and deploy",
            container=name,
            variables=found,
        )
    return ok(f"container {name} sets no static AWS keys", container=name, variables=[])


CHECKS = (
    Check("task.found", Group.TASK, "Task", check_found, needs=("cluster.found",)),
    Check("task.running", Group.TASK, "Task state", check_running, needs=("task.found",)),
    Check(
        "task.platform",
        Group.TASK,
        "Launch type and platform",
        check_platform,
        needs=("task.found",),
    ),
    Check(
        "task.exec-enabled",
        Group.TASK,
        "enableExecuteCommand",
        check_exec_enabled,
        needs=("task.found",),
    ),
    Check(
        "task.exec-agent",
        Group.TASK,
        "ExecuteCommandAgent",
        check_exec_agent,
        needs=("task.exec-enabled",),
    ),
    Check(
        "task.readonly-root",
        Group.TASK,
        "Root filesystem",
        check_readonly_root,
        needs=("task.found",),
    ),
    Check("task.pid-mode", Group.TASK, "pidMode", check_pid_mode, needs=("task.found",)),
    Check(
        "task.init-process", Group.TASK, "Init process", check_init_process, needs=("task.found",)
    ),
    Check(
        "task.env-credentials",
        Group.TASK,
        "Static AWS keys in the environment",
        check_env_credentials,
        needs=("task.found",),
    ),
)
