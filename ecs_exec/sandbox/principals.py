"""Whose policies apply: the identity policies of a user or role of the sandbox world, and the
caller's permission to call the look-ups doctor uses (see :mod:`ecs_exec.sandbox.world`)."""

from __future__ import annotations

from ecs_exec.sandbox.iampolicy import Evaluation, SourcePolicy, evaluate
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import World


def _managed_type(arn: str) -> str:
    return "aws-managed" if arn.startswith("arn:aws:iam::aws:") else "user-managed"


def policies_of(world: World, principal_arn: str) -> list[SourcePolicy] | None:
    """Inline and attached policies of a user or role by ARN; ``None`` when there is none."""
    user = next((u for u in world.users.values() if u.arn == principal_arn), None)
    role = world.role_by_arn(principal_arn)
    if user is not None:
        kind, inline, attached = "user", user.inline_policies, user.attached_policies
    elif role is not None:
        kind, inline, attached = "role", role.inline_policies, role.attached_policies
    else:
        return None
    found = [SourcePolicy(name, kind, doc) for name, doc in inline.items()]
    for arn in attached:
        policy = world.policies[arn]
        found.append(SourcePolicy(policy.name, _managed_type(arn), policy.document))
    return found


def caller_principal_arn(state: SandboxState) -> str:
    """The IAM user or role whose policies the caller holds."""
    role = state.world.caller_role
    return state.caller_arn if role is None else state.world.roles[role].arn


def caller_evaluation(state: SandboxState, action: str, resource: str = "*") -> Evaluation:
    """What the caller's own policies decide for ``action`` (callers hold ``state.lock``)."""
    policies = policies_of(state.world, caller_principal_arn(state)) or []
    return evaluate(policies, action, resource)


def denial_message(state: SandboxState, action: str, resource: str | None) -> str | None:
    """IAM's access-denied sentence when the caller may not call ``action``, else ``None``."""
    evaluation = caller_evaluation(state, action, resource or "*")
    if evaluation.decision == "allowed":
        return None
    why = (
        "with an explicit deny in an identity-based policy"
        if evaluation.decision == "explicitDeny"
        else f"because no identity-based policy allows the {action} action"
    )
    where = f" on resource: {resource}" if resource else ""
    return f"User: {state.caller_arn} is not authorized to perform: {action}{where} {why}"
