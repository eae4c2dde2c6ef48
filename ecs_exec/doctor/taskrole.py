"""Task role checks: the role the exec agent uses (the task role, or on EC2 the instance
profile's role) exists and may open the ssmmessages channels, decrypt with the cluster's
KMS key, and write the session log where the cluster sends it. By policy simulation."""

from __future__ import annotations

from collections.abc import Sequence

from ecs_exec.aws.iam import role_exists, simulate
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.fixes import put_role_policy
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped

SSMMESSAGES = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
#: What the agent calls to upload a session log to CloudWatch Logs
#: (docs/doctor.md#3-the-agents-role).
LOGS = (
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:DescribeLogGroups",
    "logs:PutLogEvents",
)


def check_present(facts: Facts) -> Finding:
    role = facts.task_role()
    if role.arn is None:
        td = facts.task().revision
        return failed(
            "the task has no task role"
            + (
                " and its instance no instance profile role"
                if facts.task_extras().container_instance_arn
                else ""
            ),
            "the SSM agent in the container needs a role with the ssmmessages permissions",
            f"set taskRoleArn in {td} to a role that ecs-tasks.amazonaws.com may assume and "
            "that allows ssmmessages:CreateControlChannel, CreateDataChannel, "
            "OpenControlChannel and OpenDataChannel; then deploy",
            source=role.source,
        )
    if not role_exists(facts.clients.iam, role.arn, profile=facts.profile):
        return failed(
            f"{role.source} {role.arn} does not exist",
            "the agent cannot get credentials from a role that does not exist",
            f"create the role, or point taskRoleArn in {facts.task().revision} at an existing one",
            roleArn=role.arn,
            source=role.source,
        )
    via = f" (instance profile {role.instance_profile})" if role.instance_profile else ""
    return ok(f"{role.source} {role.arn}{via}", roleArn=role.arn, source=role.source)


def _simulated(
    facts: Facts, pairs: Sequence[tuple[Sequence[str], str]], policy: str, what: str
) -> Finding:
    """Each (actions, resource) pair simulated for the role; failed lists what is denied."""
    role = facts.task_role()
    assert role.arn is not None, "task-role.present passed"
    denied = [
        d
        for actions, resource in pairs
        for d in simulate(facts.clients.iam, role.arn, actions, resource, profile=facts.profile)
        if not d.allowed
    ]
    details = {
        "roleArn": role.arn,
        "denied": [
            {"action": d.action, "resource": d.resource, "decision": d.decision} for d in denied
        ],
    }
    if not denied:
        return ok(f"{role.arn.rsplit('/', 1)[-1]} may {what}", **details)
    missing = sorted({d.action for d in denied})
    return failed(
        f"{role.arn.rsplit('/', 1)[-1]} may not {', '.join(missing)}",
        f"without them the agent cannot {what}"
        + (
            "; an explicit Deny blocks some"
            if any(d.decision == "explicitDeny" for d in denied)
            else ""
        ),
        put_role_policy(role.arn, policy, missing, sorted({d.resource for d in denied})),
        **details,
    )


def check_ssmmessages(facts: Facts) -> Finding:
    return _simulated(
        facts,
        [(SSMMESSAGES, "*")],
        "ecs-exec-ssmmessages",
        "open the exec control and data channels",
    )


def check_kms(facts: Facts) -> Finding:
    config = facts.exec_configuration()
    if not config.kms_key_id:
        return skipped("the cluster has no exec KMS key")
    key = config.kms_key_id
    if not key.startswith("arn:"):
        key = facts.arn("kms", f"key/{key}")
    return _simulated(
        facts, [(["kms:Decrypt"], key)], "ecs-exec-kms", "decrypt the session's data key"
    )


def check_logging(facts: Facts) -> Finding:
    c = facts.exec_configuration()
    pairs: list[tuple[Sequence[str], str]] = []
    where = []
    partition = facts.identity().partition
    group = c.log_group if c.logging == "OVERRIDE" else None
    if c.logging == "DEFAULT":
        # DEFAULT sends session output where the container's awslogs driver sends its logs
        # (docs/doctor.md#5-cluster-exec-configuration).
        container = facts.container()
        settings = facts.task_definition().container(container.name) if container else None
        group = settings.awslogs_group if settings else None
    if group:
        pairs.append((LOGS, facts.arn("logs", f"log-group:{group}") + ":*"))
        where.append(group)
    if c.logging == "OVERRIDE" and c.s3_bucket:
        prefix = f"{c.s3_prefix.rstrip('/')}/" if c.s3_prefix else ""
        pairs.append((["s3:PutObject"], f"arn:{partition}:s3:::{c.s3_bucket}/{prefix}*"))
        if c.s3_encryption:
            pairs.append((["s3:GetEncryptionConfiguration"], f"arn:{partition}:s3:::{c.s3_bucket}"))
        where.append(f"s3://{c.s3_bucket}/{prefix}")
    if not pairs:
        why = "with no awslogs log driver on the container" if c.logging == "DEFAULT" else ""
        return skipped(
            f"the cluster's exec logging ({c.logging}) names no destination {why}".strip()
        )
    return _simulated(
        facts, pairs, "ecs-exec-logging", f"upload the session log to {' and '.join(where)}"
    )


CHECKS = (
    Check("task-role.present", Group.TASK_ROLE, "Task role", check_present, needs=("task.found",)),
    Check(
        "task-role.ssmmessages",
        Group.TASK_ROLE,
        "ssmmessages channels",
        check_ssmmessages,
        needs=("task-role.present",),
    ),
    Check(
        "task-role.kms",
        Group.TASK_ROLE,
        "kms:Decrypt",
        check_kms,
        needs=("task-role.present", "cluster.kms-key"),
    ),
    Check(
        "task-role.logging",
        Group.TASK_ROLE,
        "Session log upload",
        check_logging,
        needs=("task-role.present", "cluster.logging"),
    ),
)
