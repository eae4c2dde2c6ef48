"""The built-in demo world of ``ecs-exec sandbox``.

Every id is fixed so that docs and tests can name them. The world is built to exercise the
target-selection logic, not to look tidy:

cluster ``demo`` (no KMS key)
    service ``web`` (task definition ``web:3``: ``log-router`` FIRST and not essential, then
    ``app``, essential; so "first container" and "first essential container" differ)

    ==========================  ===================================================
    ``WEB_READY_1``             exec enabled, agent RUNNING on both containers
    ``WEB_READY_2``             exec enabled, agent RUNNING on both containers
    ``WEB_EXEC_DISABLED``       enableExecuteCommand false (no managedAgents at all)
    ``WEB_AGENT_PENDING``       exec enabled, agent PENDING on ``app`` (RUNNING on the
                                log-router, so a check of the wrong container passes)
    ``WEB_STOPPING``            desiredStatus STOPPED, lastStatus still RUNNING, agents
                                RUNNING: must never be chosen
    ==========================  ===================================================

    service ``worker`` (``worker:1``, one container ``worker`` whose PATH holds busybox
    applets only): ``WORKER_READY``
cluster ``secure`` (executeCommandConfiguration.kmsKeyId = ``SECURE_KMS_KEY_ARN``)
    service ``api`` (``api:2``, one container ``api``): ``SECURE_API_READY``
cluster ``staging``
    service ``web`` (``web-staging:1``, container ``app``): ``STAGING_WEB_EXEC_DISABLED``;
    nothing in ``staging`` can take an exec session.
clusters ``broken``, ``broken-kms``, ``broken-logs``, ``broken-s3``, ``broken-s3-encryption``
    one task per failure ``ecs-exec doctor`` finds, and what the clusters above need to pass
    its checks: see :mod:`ecs_exec.sandbox.demo_broken`.

Every service has an awsvpc network configuration, so ``ecs-exec run --service-name`` works
out of the box: ``demo``'s services use the private subnets ``DEMO_SUBNETS`` (behind a NAT
gateway) and security group ``DEMO_SECURITY_GROUP``, no public IP; ``secure`` and ``staging``
get theirs from :mod:`ecs_exec.sandbox.demo_broken` (an ssmmessages VPC endpoint for
``secure``, a public subnet for ``staging``). ``demo`` also has one EC2 container instance
(2 vCPU, 3840 MiB) for ``--launch-type EC2``.
"""

from __future__ import annotations

import copy
from typing import Any

from ecs_exec.sandbox.demo_broken import with_doctor_world
from ecs_exec.sandbox.state import DEFAULT_ACCOUNT, DEFAULT_REGION, SandboxState

WEB_READY_1 = "0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11"
WEB_READY_2 = "1c4dae8f6a2b4c3d9e7f1a0b8c6d4e22"
WEB_EXEC_DISABLED = "2d5ebf9a7b3c4d4eaf8a2b1c9d7e5f33"
WEB_AGENT_PENDING = "3e6fca0b8c4d4e5fb09b3c2dae8f6a44"
WEB_STOPPING = "4f7adb1c9d5e4f6ac1ac4d3ebf9a7b55"
WORKER_READY = "5a8bec2dae6f4a7bd2bd5e4fca0b8c66"
SECURE_API_READY = "6b9cfd3ebf7a4b8ce3ce6f5adb1c9d77"
STAGING_WEB_EXEC_DISABLED = "7c0d0e4fca8b4c9df4df7a6bec2dae88"

SECURE_KMS_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
SECURE_KMS_KEY_ARN = f"arn:aws:kms:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:key/{SECURE_KMS_KEY_ID}"

#: Every task id of clusters demo, secure and staging, ready or not (the broken clusters' ids
#: are in ``demo_broken.BROKEN_FINDINGS``).
ALL_TASK_IDS = (
    WEB_READY_1,
    WEB_READY_2,
    WEB_EXEC_DISABLED,
    WEB_AGENT_PENDING,
    WEB_STOPPING,
    WORKER_READY,
    SECURE_API_READY,
    STAGING_WEB_EXEC_DISABLED,
)

DEMO_VPC = "vpc-0de000000000000a1"
DEMO_SUBNETS = ("subnet-0de00000000000a01", "subnet-0de00000000000b02")
DEMO_SECURITY_GROUP = "sg-0de0000000000c001"
_NETWORK = {
    "awsvpcConfiguration": {
        "subnets": list(DEMO_SUBNETS),
        "securityGroups": [DEMO_SECURITY_GROUP],
        "assignPublicIp": "DISABLED",
    }
}

_STARTED = 1714564800.0  # 2024-05-01T12:00:00Z

_LOG_ROUTER: dict[str, Any] = {
    "name": "log-router",
    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
    "essential": False,
    "environment": [{"name": "FLB_LOG_LEVEL", "value": "info"}],
}


def _web_task(task_id: str, n: int, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskId": task_id,
        "cluster": "demo",
        "taskDefinition": "web:3",
        "group": "service:web",
        "startedBy": "ecs-svc/1234567890123456789",
        "startedAt": _STARTED + 60 * n,
    }
    task.update(extra)
    return task


DEMO_STATE: dict[str, Any] = {
    "accountId": DEFAULT_ACCOUNT,
    "region": DEFAULT_REGION,
    "clusters": [
        {"clusterName": "demo", "containerInstances": [{"cpu": 2048, "memory": 3840}]},
        {"clusterName": "secure", "executeCommandConfiguration": {"kmsKeyId": SECURE_KMS_KEY_ARN}},
        {"clusterName": "staging"},
    ],
    "kmsKeys": [SECURE_KMS_KEY_ARN],
    "subnets": [
        {"subnetId": subnet, "vpcId": DEMO_VPC, "availabilityZone": f"{DEFAULT_REGION}{zone}"}
        for subnet, zone in zip(DEMO_SUBNETS, "ab", strict=True)
    ],
    "securityGroups": [{"groupId": DEMO_SECURITY_GROUP, "vpcId": DEMO_VPC}],
    "taskDefinitions": [
        {
            "family": "web",
            "revision": 3,
            "containerDefinitions": [
                _LOG_ROUTER,
                {
                    "name": "app",
                    "image": "public.ecr.aws/docker/library/python:3.12-slim",
                    "essential": True,
                    "environment": [
                        {"name": "APP_ENV", "value": "demo"},
                        {"name": "PORT", "value": "8080"},
                    ],
                    "workingDirectory": "/srv/app",
                    "command": ["python", "-m", "http.server", "8080"],
                },
            ],
        },
        {
            "family": "worker",
            "revision": 1,
            "containerDefinitions": [
                {
                    "name": "worker",
                    "image": "public.ecr.aws/docker/library/busybox:1.36",
                    "essential": True,
                    "environment": [{"name": "QUEUE", "value": "jobs"}],
                    "workingDirectory": "/",
                    "command": ["sh", "-c", "while sleep 3600; do :; done"],
                    "sandbox": {"pathMode": "busybox"},
                }
            ],
        },
        {
            "family": "api",
            "revision": 2,
            "containerDefinitions": [
                {
                    "name": "api",
                    "image": "public.ecr.aws/docker/library/python:3.12-slim",
                    "essential": True,
                    "environment": [{"name": "APP_ENV", "value": "secure"}],
                    "workingDirectory": "/srv/api",
                }
            ],
        },
        {
            "family": "web-staging",
            "revision": 1,
            "containerDefinitions": [
                {"name": "app", "image": "public.ecr.aws/docker/library/python:3.12-slim"}
            ],
        },
    ],
    "services": [
        {
            "serviceName": "web",
            "cluster": "demo",
            "taskDefinition": "web:3",
            "desiredCount": 4,
            "networkConfiguration": _NETWORK,
        },
        {
            "serviceName": "worker",
            "cluster": "demo",
            "taskDefinition": "worker:1",
            "networkConfiguration": _NETWORK,
        },
        {
            "serviceName": "api",
            "cluster": "secure",
            "taskDefinition": "api:2",
        },
        {
            "serviceName": "web",
            "cluster": "staging",
            "taskDefinition": "web-staging:1",
            "enableExecuteCommand": False,
        },
    ],
    "tasks": [
        _web_task(WEB_READY_1, 0),
        _web_task(WEB_READY_2, 1),
        _web_task(WEB_EXEC_DISABLED, 2, enableExecuteCommand=False),
        _web_task(
            WEB_AGENT_PENDING,
            3,
            containers=[{"name": "app", "agentStatus": "PENDING"}],
        ),
        _web_task(
            WEB_STOPPING,
            4,
            desiredStatus="STOPPED",
            lastStatus="RUNNING",
            stoppedReason="Scaling activity initiated by (deployment ecs-svc/1234567890123456789)",
            stopCode="ServiceSchedulerInitiated",
        ),
        {
            "taskId": WORKER_READY,
            "cluster": "demo",
            "taskDefinition": "worker:1",
            "group": "service:worker",
            "startedBy": "ecs-svc/2234567890123456789",
            "startedAt": _STARTED + 600,
        },
        {
            "taskId": SECURE_API_READY,
            "cluster": "secure",
            "taskDefinition": "api:2",
            "group": "service:api",
            "startedBy": "ecs-svc/3234567890123456789",
            "startedAt": _STARTED + 900,
        },
        {
            "taskId": STAGING_WEB_EXEC_DISABLED,
            "cluster": "staging",
            "taskDefinition": "web-staging:1",
            "group": "service:web",
            "startedBy": "ecs-svc/4234567890123456789",
            "enableExecuteCommand": False,
            "startedAt": _STARTED + 1200,
        },
    ],
    "faults": {},
}
# The roles, networks, log groups and keys doctor checks, and the clusters that fail them.
DEMO_STATE = with_doctor_world(DEMO_STATE)


def demo_state_dict() -> dict[str, Any]:
    """A fresh deep copy of the demo world in the state-file layout (to edit or dump)."""
    return copy.deepcopy(DEMO_STATE)


def demo_state() -> SandboxState:
    """A fresh demo world."""
    return SandboxState.from_dict(DEMO_STATE)
