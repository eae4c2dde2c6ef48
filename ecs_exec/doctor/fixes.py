"""The fix commands doctor prints, with the real names filled in (AWS CLI syntax)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence


def redeploy(cluster: str, service: str, *, enable_exec: bool = True) -> str:
    """Turn exec on for a service and replace its tasks (exec is fixed when a task starts)."""
    enable = " --enable-execute-command" if enable_exec else ""
    return (
        f"aws ecs update-service --cluster {cluster} --service {service}{enable} "
        "--force-new-deployment"
    )


def restart_task(cluster: str, task_id: str, service: str | None, task_definition: str) -> str:
    """Replace a task with one that has exec enabled."""
    if service:
        return redeploy(cluster, service)
    return (
        f"aws ecs run-task --cluster {cluster} --task-definition {task_definition} "
        f"--enable-execute-command (with the original network settings), then "
        f"aws ecs stop-task --cluster {cluster} --task {task_id}"
    )


def put_role_policy(
    principal_arn: str, name: str, actions: Sequence[str], resources: Sequence[str]
) -> str:
    """An inline policy granting ``actions`` on ``resources`` to the role (or user)."""
    kind = "user" if ":user/" in principal_arn else "role"
    who = principal_arn.rsplit("/", 1)[-1]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": list(resources) if len(resources) > 1 else resources[0],
            }
        ],
    }
    return (
        f"aws iam put-{kind}-policy --{kind}-name {who} --policy-name {name} "
        f"--policy-document {shlex.quote(json.dumps(document, separators=(',', ':')))}"
    )
