"""IAM policy simulation (iam:SimulatePrincipalPolicy) and the role look-ups doctor needs
(docs/doctor.md#6-caller-permissions-and-policy-simulation).

Simulation evaluates the principal's identity policies (and permission boundary) against
the real resource ARNs and condition keys; it does not see service control policies,
session policies or resource policies such as a KMS key policy, so an "allowed" here can
still be denied by those. One resource per call keeps the answer unambiguous: the decision
returned is for that action on that resource.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_exec.aws._errors import map_aws_errors
from ecs_exec.errors import AwsServiceError

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient


@dataclass(frozen=True)
class Decision:
    """One action on one resource: ``allowed``, ``explicitDeny`` or ``implicitDeny``."""

    action: str
    resource: str
    decision: str

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"


@dataclass(frozen=True)
class Principal:
    """What to simulate: an IAM user or role ARN (with its path), or why there is none."""

    arn: str | None
    kind: str  # user | role | root | federated | unknown
    why_not: str | None = None


def simulate(
    client: IAMClient,
    principal_arn: str,
    actions: Sequence[str],
    resource: str,
    *,
    context: Mapping[str, str] | None = None,
    profile: str | None = None,
) -> list[Decision]:
    """Each of ``actions`` on ``resource``, with string condition keys from ``context``.

    Raises:
        AccessDeniedError: the caller may not call iam:SimulatePrincipalPolicy.
        AwsError: any other failure.
    """
    entries: list[Any] = [
        {"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
        for key, value in (context or {}).items()
    ]
    decisions: list[Decision] = []
    with map_aws_errors(action="iam:SimulatePrincipalPolicy", profile=profile):
        paginator = client.get_paginator("simulate_principal_policy")
        for page in paginator.paginate(
            PolicySourceArn=principal_arn,
            ActionNames=list(actions),
            ResourceArns=[resource],
            ContextEntries=entries,
        ):
            for result in page.get("EvaluationResults", []):
                decisions.append(
                    Decision(
                        action=str(result.get("EvalActionName", "")),
                        resource=str(result.get("EvalResourceName") or resource),
                        decision=str(result.get("EvalDecision", "implicitDeny")),
                    )
                )
    return decisions


def principal_for(client: IAMClient, caller_arn: str, *, profile: str | None = None) -> Principal:
    """The IAM principal behind an sts:GetCallerIdentity ARN.

    An assumed-role ARN (``arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION``) omits the
    role's path, which the simulation needs: iam:GetRole supplies it, and when that is
    denied the path-less ARN is used (right for the usual roles, which have none).
    """
    parts = caller_arn.split(":", 5)
    if len(parts) < 6:
        return Principal(None, "unknown", f"'{caller_arn}' is not an ARN")
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith("user/"):
        return Principal(caller_arn, "user")
    if service == "iam" and resource == "root":
        return Principal(None, "root", "the account's root user is allowed every action")
    if service == "sts" and resource.startswith("assumed-role/"):
        name = resource.split("/")[1]
        return Principal(role_arn(client, name, partition, account, profile=profile), "role")
    if service == "sts" and resource.startswith("federated-user/"):
        return Principal(None, "federated", "a federated user's session cannot be simulated")
    return Principal(None, "unknown", f"cannot simulate the policies of '{caller_arn}'")


def role_arn(
    client: IAMClient, name: str, partition: str, account: str, *, profile: str | None = None
) -> str:
    """A role's full ARN by name (iam:GetRole), or the path-less one if GetRole fails."""
    from ecs_exec.errors import AwsError

    try:
        with map_aws_errors(action="iam:GetRole", profile=profile):
            return str(client.get_role(RoleName=name)["Role"]["Arn"])
    except AwsError:
        return f"arn:{partition}:iam::{account}:role/{name}"


def instance_profile_role(
    client: IAMClient, profile_arn: str, *, profile: str | None = None
) -> str | None:
    """The role ARN of an instance profile (iam:GetInstanceProfile), None if it has none.

    Raises:
        AwsError: denied, or the profile does not exist.
    """
    name = profile_arn.rsplit("/", 1)[-1]
    with map_aws_errors(action="iam:GetInstanceProfile", profile=profile):
        response = client.get_instance_profile(InstanceProfileName=name)
    roles = response.get("InstanceProfile", {}).get("Roles", [])
    return str(roles[0]["Arn"]) if roles else None


def role_exists(client: IAMClient, arn: str, *, profile: str | None = None) -> bool:
    """Whether the role exists (iam:GetRole; NoSuchEntity is False).

    Raises:
        AwsError: denied or failed otherwise.
    """
    try:
        with map_aws_errors(action="iam:GetRole", profile=profile):
            client.get_role(RoleName=arn.rsplit("/", 1)[-1])
    except AwsServiceError as exc:
        if exc.code == "NoSuchEntity":
            return False
        raise
    return True
