"""Generated fleets: a service with N identical tasks from one entry of the state file.

A state file may hold, next to (or instead of) clusters, services and tasks::

    {"fleets": [{"cluster": "demo", "serviceName": "fleet", "count": 200,
                 "container": "app", "pathMode": "host",
                 "tasks": {"3": {"containers": [{"name": "app", "agentStatus": "PENDING"}]}}}]}

Each fleet becomes a task definition (family = the service name, revision 1, one essential
container), the service, and ``count`` RUNNING tasks with exec enabled. The cluster is added
when the state has none by that name. ``tasks`` overrides entries by index with the task
layout of :mod:`.state` (a not-ready agent, a stopping task). Task ids are derived from the
cluster, service and index (:func:`fleet_task_id`), so tests and docs can name them.

Each task's container gets the relative working directory ``tasks/<taskId>``, which the
launcher (:class:`~ecs_exec.sandbox.pty_process.Launcher`) turns into a directory of its own
under the sandbox's scratch directory: a command can tell which task ran it (``pwd``), and
files one task writes are not seen by the others.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

_STARTED = 1714568400.0  # 2024-05-01T13:00:00Z
_IMAGE = "public.ecr.aws/docker/library/busybox:1.36"


def fleet_task_id(cluster: str, service: str, index: int) -> str:
    """The id of task ``index`` (0-based) of a generated fleet."""
    return hashlib.sha256(f"{cluster}/{service}/{index}".encode()).hexdigest()[:32]


def fleet_working_directory(task_id: str) -> str:
    """The (relative) working directory of a generated task's container."""
    return f"tasks/{task_id}"


def expand_fleets(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state-file layout with every ``fleets`` entry turned into real entries.

    Raises:
        KeyError, TypeError, ValueError: a malformed fleet (the loader reports them).
    """
    fleets = data.get("fleets") or []
    if not fleets:
        return data
    out = {key: copy.deepcopy(value) for key, value in data.items() if key != "fleets"}
    clusters = out.setdefault("clusters", [])
    definitions = out.setdefault("taskDefinitions", [])
    services = out.setdefault("services", [])
    tasks = out.setdefault("tasks", [])
    for fleet in fleets:
        cluster = str(fleet.get("cluster", "demo"))
        service = str(fleet.get("serviceName", "fleet"))
        count = int(fleet["count"])
        if not 0 <= count <= 5000:
            raise ValueError(f"fleet {service!r}: count {count} is not between 0 and 5000")
        container = str(fleet.get("container", "app"))
        if not any(c.get("clusterName") == cluster for c in clusters):
            clusters.append({"clusterName": cluster})
        definitions.append(
            {
                "family": service,
                "revision": 1,
                "containerDefinitions": [
                    {
                        "name": container,
                        "image": str(fleet.get("image", _IMAGE)),
                        "essential": True,
                        "sandbox": {"pathMode": str(fleet.get("pathMode", "host"))},
                    }
                ],
            }
        )
        services.append(
            {
                "serviceName": service,
                "cluster": cluster,
                "taskDefinition": f"{service}:1",
                "desiredCount": count,
            }
        )
        overrides = fleet.get("tasks") or {}
        for index in range(count):
            task_id = fleet_task_id(cluster, service, index)
            task: dict[str, Any] = {
                "taskId": task_id,
                "cluster": cluster,
                "taskDefinition": f"{service}:1",
                "group": f"service:{service}",
                "startedBy": "ecs-svc/9234567890123456789",
                "startedAt": _STARTED + index,
            }
            extra = dict(overrides.get(str(index)) or {})
            own = {"name": container, "workingDirectory": fleet_working_directory(task_id)}
            for entry in extra.pop("containers", []):
                own.update(entry)
            task.update(extra)
            task["containers"] = [own]
            tasks.append(task)
    return out
