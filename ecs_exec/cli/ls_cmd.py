"""`ecs-exec ls`: clusters, services, or a service's tasks with their exec readiness."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ecs_exec.aws.ecs import EcsApi, Task
from ecs_exec.aws.resolve import HINTS, NotReady, Resolver, readiness_problems, task_sort_key
from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.errors import ExitStatus


def run_ls(invocation: Invocation, settings: Settings, *, output: str) -> int:
    cluster, service = settings.cluster, settings.service
    with aws_clients(settings) as clients:
        api = EcsApi(clients.ecs, profile=clients.settings.profile)
        document: dict[str, Any]
        if not cluster:
            document = {"clusters": [_cluster_json(c) for c in api.list_clusters()]}
        elif not service:
            document = {
                "cluster": cluster,
                "services": [_service_json(s) for s in api.list_services(cluster)],
            }
        else:
            arns = api.list_task_arns(cluster, service)
            tasks = sorted(api.describe_tasks(cluster, arns), key=task_sort_key)
            resolver = Resolver(api)
            document = {
                "cluster": cluster,
                "service": service,
                "tasks": [_task_json(t, resolver, settings.container) for t in tasks],
            }
    if output == "json":
        invocation.console.write_out(json.dumps(document, indent=2, sort_keys=False) + "\n")
    else:
        invocation.console.write_out(render_table(document))
    return ExitStatus.SUCCESS


def _cluster_json(c: Any) -> dict[str, Any]:
    return {
        "name": c.name,
        "arn": c.arn,
        "status": c.status,
        "runningTasks": c.running_tasks,
        "activeServices": c.active_services,
        "kmsKeyId": c.kms_key_id,
    }


def _service_json(s: Any) -> dict[str, Any]:
    return {
        "name": s.name,
        "arn": s.arn,
        "status": s.status,
        "desiredCount": s.desired_count,
        "runningCount": s.running_count,
        "enableExecuteCommand": s.enable_execute_command,
        "taskDefinition": s.task_definition,
    }


def _task_json(task: Task, resolver: Resolver, wanted: str | None) -> dict[str, Any]:
    container, problem = resolver.choose_container(task, wanted)
    problems = (
        [(NotReady.NO_CONTAINER, problem)] if problem else readiness_problems(task, container)
    )
    reasons = [text for _, text in problems]
    return {
        "taskId": task.id,
        "taskArn": task.arn,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "enableExecuteCommand": task.enable_execute_command,
        "startedAt": task.started_at.isoformat() if task.started_at else None,
        "taskDefinition": task.revision,
        "ready": not reasons,
        "defaultContainer": container.name if container else None,
        "notReadyReasons": reasons,
        "notReadyHints": sorted({HINTS[kind] for kind, _ in problems}),
        "containers": [
            {
                "name": c.name,
                "runtimeId": c.runtime_id,
                "lastStatus": c.last_status,
                "execAgent": c.exec_agent_status,
            }
            for c in task.containers
        ],
    }


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def render_table(document: dict[str, Any]) -> str:
    if "clusters" in document:
        return _table(
            ["CLUSTER", "STATUS", "SERVICES", "TASKS", "KMS"],
            [
                [
                    c["name"],
                    c["status"],
                    str(c["activeServices"]),
                    str(c["runningTasks"]),
                    "yes" if c["kmsKeyId"] else "-",
                ]
                for c in document["clusters"]
            ],
        )
    if "services" in document:
        return _table(
            ["SERVICE", "STATUS", "RUNNING", "DESIRED", "EXEC", "TASK DEFINITION"],
            [
                [
                    s["name"],
                    s["status"],
                    str(s["runningCount"]),
                    str(s["desiredCount"]),
                    "enabled" if s["enableExecuteCommand"] else "disabled",
                    s["taskDefinition"].rsplit("/", 1)[-1],
                ]
                for s in document["services"]
            ],
        )
    rows = []
    for t in document["tasks"]:
        containers = ", ".join(
            f"{c['name']}{'*' if c['name'] == t['defaultContainer'] else ''}"
            f"({(c['execAgent'] or 'no-agent').lower()})"
            for c in t["containers"]
        )
        rows.append(
            [
                t["taskId"],
                t["lastStatus"] + ("" if t["desiredStatus"] == "RUNNING" else "->STOP"),
                "yes" if t["enableExecuteCommand"] else "no",
                "READY" if t["ready"] else "not ready",
                (t["startedAt"] or "-")[:19],
                t["taskDefinition"],
                containers,
            ]
        )
    table = _table(
        ["TASK", "STATUS", "EXEC", "READY", "STARTED", "REVISION", "CONTAINERS (*default, agent)"],
        rows,
    )
    notes = [
        f"  {t['taskId'][:12]}: {reason}"
        for t in document["tasks"]
        for reason in t["notReadyReasons"]
    ]
    hints = sorted({hint for t in document["tasks"] for hint in t["notReadyHints"]})
    if not notes:
        return table
    return (
        table
        + "\nnot ready:\n"
        + "".join(f"{line}\n" for line in [*notes, *(f"hint: {hint}" for hint in hints)])
    )
