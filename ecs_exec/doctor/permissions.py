"""Caller permissions, by IAM policy simulation on the real resources: what exec calls
(ecs:ExecuteCommand with the cluster and container as context, DescribeTasks/ListTasks,
kms:GenerateDataKey on the cluster's key, ssm:ResumeSession/TerminateSession), and a
warning when ssm:StartSession on the task is allowed, since it bypasses ECS Exec's logging.

When the caller may not simulate (iam:SimulatePrincipalPolicy denied) these checks are
skipped with that reason: the runner turns the denial into a skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ecs_exec.aws.iam import Decision, simulate
from ecs_exec.doctor.facts import Facts
from ecs_exec.doctor.fixes import put_role_policy
from ecs_exec.doctor.model import Check, Finding, Group, failed, ok, skipped, warning

#: A session id as ECS Exec names them, for the ssm:*Session resource ARN.
SAMPLE_SESSION = "ecs-execute-command-0123456789abcdef0"


def _decisions(
    facts: Facts,
    principal: str,
    actions: Sequence[str],
    resource: str,
    context: Mapping[str, str] | None = None,
) -> list[Decision]:
    return simulate(
        facts.clients.iam, principal, actions, resource, context=context, profile=facts.profile
    )


def _verdict(
    facts: Facts,
    principal: str,
    checks: Sequence[tuple[Sequence[str], str, Mapping[str, str]]],
    *,
    policy: str,
) -> Finding:
    """ok when every action is allowed on its resource, else failed naming the denials."""
    denied: list[Decision] = []
    allowed: list[str] = []
    for actions, resource, context in checks:
        for d in _decisions(facts, principal, actions, resource, context):
            if d.allowed:
                allowed.append(d.action)
            else:
                denied.append(d)
    details = {
        "principal": principal,
        "denied": [
            {"action": d.action, "resource": d.resource, "decision": d.decision} for d in denied
        ],
    }
    if not denied:
        return ok(f"allowed: {', '.join(sorted(set(allowed)))}", **details)
    actions = sorted({d.action for d in denied})
    resources = sorted({d.resource for d in denied})
    explicit = any(d.decision == "explicitDeny" for d in denied)
    return failed(
        f"denied: {', '.join(f'{d.action} on {d.resource}' for d in denied)}",
        "an explicit Deny in a policy" if explicit else "no policy of the caller allows it",
        ("remove the Deny statement, then " if explicit else "")
        + put_role_policy(principal, policy, actions, resources),
        **details,
    )


def _need_principal(facts: Facts) -> str | Finding:
    principal = facts.principal()
    if principal.arn is None:
        return skipped(principal.why_not or "the caller cannot be simulated")
    return principal.arn


def check_execute_command(facts: Facts) -> Finding:
    principal = _need_principal(facts)
    if isinstance(principal, Finding):
        return principal
    task, config = facts.task(), facts.exec_configuration()
    container = facts.container()
    context = {"ecs:cluster": config.cluster_arn, "ecs:task": task.arn}
    if container is not None:
        context["ecs:container-name"] = container.name
    return _verdict(
        facts,
        principal,
        [
            (["ecs:ExecuteCommand"], task.arn, context),
            (["ecs:ExecuteCommand"], config.cluster_arn, context),
        ],
        policy="ecs-exec",
    )


def check_describe_tasks(facts: Facts) -> Finding:
    principal = _need_principal(facts)
    if isinstance(principal, Finding):
        return principal
    task, config = facts.task(), facts.exec_configuration()
    context = {"ecs:cluster": config.cluster_arn}
    instances = facts.arn("ecs", f"container-instance/{config.cluster}/*")
    return _verdict(
        facts,
        principal,
        [(["ecs:DescribeTasks"], task.arn, context), (["ecs:ListTasks"], instances, context)],
        policy="ecs-exec-describe",
    )


def check_kms(facts: Facts) -> Finding:
    config = facts.exec_configuration()
    if not config.kms_key_id:
        return skipped("the cluster has no exec KMS key")
    principal = _need_principal(facts)
    if isinstance(principal, Finding):
        return principal
    key = config.kms_key_id
    if not key.startswith("arn:"):
        key = facts.arn("kms", f"key/{key}")
    return _verdict(facts, principal, [(["kms:GenerateDataKey"], key, {})], policy="ecs-exec-kms")


def check_ssm_sessions(facts: Facts) -> Finding:
    principal = _need_principal(facts)
    if isinstance(principal, Finding):
        return principal
    session = facts.arn("ssm", f"session/{SAMPLE_SESSION}")
    return _verdict(
        facts,
        principal,
        [(["ssm:ResumeSession", "ssm:TerminateSession"], session, {})],
        policy="ecs-exec-sessions",
    )


def check_start_session(facts: Facts) -> Finding:
    principal = _need_principal(facts)
    if isinstance(principal, Finding):
        return principal
    task = facts.task()
    decisions = _decisions(facts, principal, ["ssm:StartSession"], task.arn)
    if any(d.allowed for d in decisions):
        return warning(
            "ssm:StartSession on the task is allowed",
            "a session started with ssm:StartSession directly bypasses ECS Exec's "
            "logging and its ecs:ExecuteCommand conditions",
            "deny ssm:StartSession on ECS task resources (arn:aws:ecs:*:*:task/*) to this "
            "caller unless it is meant to have it",
            principal=principal,
        )
    return ok("ssm:StartSession on the task is not allowed", principal=principal)


_NEEDS = ("local.identity", "task.found")
CHECKS = (
    Check(
        "permissions.execute-command",
        Group.PERMISSIONS,
        "ecs:ExecuteCommand",
        check_execute_command,
        needs=_NEEDS,
    ),
    Check(
        "permissions.describe-tasks",
        Group.PERMISSIONS,
        "ecs:DescribeTasks and ListTasks",
        check_describe_tasks,
        needs=_NEEDS,
    ),
    Check(
        "permissions.kms",
        Group.PERMISSIONS,
        "kms:GenerateDataKey",
        check_kms,
        needs=("local.identity", "cluster.kms-key"),
    ),
    Check(
        "permissions.ssm-sessions",
        Group.PERMISSIONS,
        "ssm:ResumeSession and TerminateSession",
        check_ssm_sessions,
        needs=("local.identity", "cluster.found"),
    ),
    Check(
        "permissions.start-session",
        Group.PERMISSIONS,
        "ssm:StartSession bypass",
        check_start_session,
        needs=_NEEDS,
    ),
)
