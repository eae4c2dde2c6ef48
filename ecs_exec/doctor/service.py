"""Service checks: exec enabled on the service, and its running tasks started after that."""

from __future__ import annotations

from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.fixes import redeploy
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped, warning
from ecs_exec.errors import EcsExecError


def check_exec_enabled(facts: Facts) -> Finding:
    if facts.request.service is None:
        try:
            facts.task()
        except EcsExecError:
            return skipped("no --service-name given, and no task was found to tell its service")
    name = facts.service_name()
    if name is None:
        return skipped("no --service-name given and the task belongs to no service")
    service = facts.service()
    if service.enable_execute_command:
        return ok(f"{name}: enableExecuteCommand is true", service=name)
    return failed(
        f"{name}: enableExecuteCommand is false",
        "tasks the service starts get exec only when the service has it on",
        redeploy(facts.cluster(), name),
        service=name,
    )


def check_tasks_current(facts: Facts) -> Finding:
    name = facts.service_name()
    assert name is not None, "service.exec-enabled passed, so there is a service"
    tasks = [t for t in facts.service_tasks() if not t.stopping]
    stale = sorted(t.id for t in tasks if not t.enable_execute_command)
    details = {"service": name, "runningTasks": len(tasks), "tasksWithoutExec": stale}
    if not tasks:
        return skipped(f"service {name} has no running tasks", **details)
    if stale:
        # Exec still works on the others (a warning) unless no task has it (failed).
        verdict = failed if len(stale) == len(tasks) else warning
        return verdict(
            f"{len(stale)} of {len(tasks)} running tasks of {name} started before exec was "
            f"enabled: {', '.join(stale)}",
            "exec is decided when a task starts; these tasks keep running without it",
            redeploy(facts.cluster(), name, enable_exec=False),
            **details,
        )
    return ok(f"all {len(tasks)} running tasks of {name} have exec enabled", **details)


CHECKS = (
    Check(
        "service.exec-enabled",
        Group.SERVICE,
        "Service exec setting",
        check_exec_enabled,
        needs=("cluster.found",),
    ),
    Check(
        "service.tasks-current",
        Group.SERVICE,
        "Tasks started with exec",
        check_tasks_current,
        needs=("service.exec-enabled",),
    ),
)
