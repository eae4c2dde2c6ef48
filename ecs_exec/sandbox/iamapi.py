"""STS and IAM operations of the sandbox (query protocol, see :mod:`.querywire`); no I/O.

``sts:GetCallerIdentity`` names the caller (the state's ``userName``); it is never denied, as in
AWS. The IAM look-ups read roles, managed policies and instance profiles of the world (schema
in :mod:`ecs_exec.sandbox.world`); policy documents travel URL-encoded, as IAM sends them
(botocore decodes them). ``SimulatePrincipalPolicy`` evaluates the principal's inline and
attached policies, plus any ``PolicyInputList``, with :mod:`.iampolicy`: one result per action,
the most restrictive decision over the resources at the top and one ``ResourceSpecificResults``
entry per resource when resources are given, as the simulator answers today.

Every IAM call first checks the caller's own policies; a denied call answers ``AccessDenied``
(403), so a world whose caller lacks ``iam:SimulatePrincipalPolicy`` answers as AWS does.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from ecs_exec.sandbox.iampolicy import SourcePolicy, evaluate, most_restrictive, statements
from ecs_exec.sandbox.principals import denial_message, policies_of
from ecs_exec.sandbox.querywire import (
    Handler,
    Params,
    QueryError,
    members,
    required,
    struct_members,
    xml_timestamp,
)
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import InstanceProfile, ManagedPolicy, Role

_CREATED = 1714550000.0  # every IAM entity of the sandbox was made then
Result = dict[str, Any]


def _encoded(document: dict[str, Any]) -> str:
    return quote(json.dumps(document), safe="")


def _authorize(state: SandboxState, action: str, resource: str | None) -> None:
    message = denial_message(state, f"iam:{action}", resource)
    if message is not None:
        raise QueryError("AccessDenied", message)


def _role(params: Params, state: SandboxState, action: str) -> Role:
    name = required(params, "RoleName")
    role = state.world.roles.get(name)
    _authorize(state, action, role.arn if role else f"arn:aws:iam::{state.account_id}:role/{name}")
    if role is None:
        raise QueryError("NoSuchEntity", f"The role with name {name} cannot be found.")
    return role


def _role_body(role: Role) -> Result:
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": xml_timestamp(_CREATED),
        "AssumeRolePolicyDocument": _encoded(role.trust_policy),
        "MaxSessionDuration": 3600,
    }


# -- STS --------------------------------------------------------------------------------------


def get_caller_identity(params: Params, state: SandboxState) -> Result:
    role = state.world.caller_role
    if role is not None:  # a role session's id is the role's id and the session name
        user_id = f"{state.world.roles[role].role_id}:{state.user_name}"
    else:
        user = state.world.user(state.user_name)
        user_id = user.user_id if user is not None else state.user_name
    return {"UserId": user_id, "Account": state.account_id, "Arn": state.caller_arn}


# -- IAM look-ups -----------------------------------------------------------------------------


def get_role(params: Params, state: SandboxState) -> Result:
    return {"Role": _role_body(_role(params, state, "GetRole"))}


def list_attached_role_policies(params: Params, state: SandboxState) -> Result:
    role = _role(params, state, "ListAttachedRolePolicies")
    prefix = params.get("PathPrefix", "/")
    attached = [state.world.policies[arn] for arn in role.attached_policies]
    return {
        "AttachedPolicies": [
            {"PolicyName": p.name, "PolicyArn": p.arn}
            for p in attached
            if p.path.startswith(prefix)
        ],
        "IsTruncated": False,
    }


def list_role_policies(params: Params, state: SandboxState) -> Result:
    role = _role(params, state, "ListRolePolicies")
    return {"PolicyNames": sorted(role.inline_policies), "IsTruncated": False}


def get_role_policy(params: Params, state: SandboxState) -> Result:
    role = _role(params, state, "GetRolePolicy")
    name = required(params, "PolicyName")
    document = role.inline_policies.get(name)
    if document is None:
        raise QueryError("NoSuchEntity", f"The role policy with name {name} cannot be found.")
    return {"RoleName": role.name, "PolicyName": name, "PolicyDocument": _encoded(document)}


def _policy(params: Params, state: SandboxState, action: str) -> ManagedPolicy:
    arn = required(params, "PolicyArn")
    _authorize(state, action, arn)
    policy = state.world.policies.get(arn)
    if policy is None:
        raise QueryError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")
    return policy


def _attachments(policy: ManagedPolicy, state: SandboxState) -> int:
    users = sum(policy.arn in u.attached_policies for u in state.world.users.values())
    return users + sum(policy.arn in r.attached_policies for r in state.world.roles.values())


def get_policy(params: Params, state: SandboxState) -> Result:
    policy = _policy(params, state, "GetPolicy")
    return {
        "Policy": {
            "PolicyName": policy.name,
            "PolicyId": policy.policy_id,
            "Arn": policy.arn,
            "Path": policy.path,
            "DefaultVersionId": "v1",
            "AttachmentCount": _attachments(policy, state),
            "PermissionsBoundaryUsageCount": 0,
            "IsAttachable": True,
            "CreateDate": xml_timestamp(_CREATED),
            "UpdateDate": xml_timestamp(_CREATED),
        }
    }


def get_policy_version(params: Params, state: SandboxState) -> Result:
    policy = _policy(params, state, "GetPolicyVersion")
    version = required(params, "VersionId")
    if version != "v1":  # the sandbox keeps one version per policy
        raise QueryError(
            "NoSuchEntity",
            f"Policy {policy.arn} version {version} does not exist or is not attachable.",
        )
    return {
        "PolicyVersion": {
            "Document": _encoded(policy.document),
            "VersionId": "v1",
            "IsDefaultVersion": True,
            "CreateDate": xml_timestamp(_CREATED),
        }
    }


def _profile_body(profile: InstanceProfile, state: SandboxState) -> Result:
    return {
        "Path": profile.path,
        "InstanceProfileName": profile.name,
        "InstanceProfileId": profile.profile_id,
        "Arn": profile.arn,
        "CreateDate": xml_timestamp(_CREATED),
        "Roles": [_role_body(state.world.roles[name]) for name in profile.roles],
    }


def get_instance_profile(params: Params, state: SandboxState) -> Result:
    name = required(params, "InstanceProfileName")
    profile = state.world.instance_profiles.get(name)
    resource = f"arn:aws:iam::{state.account_id}:instance-profile/{name}"
    _authorize(state, "GetInstanceProfile", profile.arn if profile else resource)
    if profile is None:
        raise QueryError("NoSuchEntity", f"Instance Profile {name} cannot be found.")
    return {"InstanceProfile": _profile_body(profile, state)}


# -- simulation -------------------------------------------------------------------------------


def _context(params: Params) -> dict[str, list[str]]:
    context: dict[str, list[str]] = {}
    for entry in struct_members(params, "ContextEntries"):
        key = entry.get("ContextKeyName")
        if key is None:
            raise QueryError("InvalidInput", "ContextKeyName is required for a context entry.")
        values = [v for k, v in sorted(entry.items(), key=_value_order) if _is_value(k)]
        context.setdefault(key, []).extend(values)
    return context


def _is_value(key: str) -> bool:
    return key.startswith("ContextKeyValues.member.")


def _value_order(item: tuple[str, str]) -> int:
    key = item[0]
    return int(key.rsplit(".", 1)[1]) if _is_value(key) else 0


def _principal_policies(arn: str, state: SandboxState) -> list[SourcePolicy]:
    policies = policies_of(state.world, arn)
    if policies is not None:
        return policies
    resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
    kind, _, name = resource.partition("/")
    if not arn.startswith("arn:aws:iam::") or kind not in ("user", "role", "group") or not name:
        raise QueryError(
            "InvalidInput",
            f"Invalid Entity Arn: {arn} does not clearly define entity type and name.",
        )
    name = name.rsplit("/", 1)[-1]
    raise QueryError("NoSuchEntity", f"The {kind} with name {name} cannot be found.")


def simulate_principal_policy(params: Params, state: SandboxState) -> Result:
    source = required(params, "PolicySourceArn")
    _authorize(state, "SimulatePrincipalPolicy", source)
    policies = _principal_policies(source, state)
    for index, text in enumerate(members(params, "PolicyInputList"), 1):
        try:
            document = json.loads(text)
            statements(document)
        except (ValueError, AttributeError):
            raise QueryError("MalformedPolicyDocument", "Syntax errors in policy.") from None
        policies.append(SourcePolicy(f"PolicyInputList.{index}", "none", document))
    actions = members(params, "ActionNames")
    if not actions:
        raise QueryError("InvalidInput", "ActionNames must contain at least one action.")
    resources = members(params, "ResourceArns")
    context = _context(params)
    results = []
    for action in actions:
        per_resource = [(r, evaluate(policies, action, r, context)) for r in resources or ["*"]]
        decision = most_restrictive(e.decision for _, e in per_resource)
        deciding = [e for _, e in per_resource if e.decision == decision]
        result: Result = {
            "EvalActionName": action,
            "EvalResourceName": resources[0] if len(resources) == 1 else "*",
            "EvalDecision": decision,
            "MatchedStatements": _statements(deciding[0].matched),
            "MissingContextValues": sorted({k for _, e in per_resource for k in e.missing_context}),
        }
        if resources:
            result["ResourceSpecificResults"] = [
                {
                    "EvalResourceName": resource,
                    "EvalResourceDecision": evaluation.decision,
                    "MatchedStatements": _statements(evaluation.matched),
                    "MissingContextValues": evaluation.missing_context,
                }
                for resource, evaluation in per_resource
            ]
            result["EvalDecisionDetails"] = {}
        results.append(result)
    return {"EvaluationResults": results, "IsTruncated": False}


def _statements(matched: list[Any]) -> list[Result]:
    return [{"SourcePolicyId": m.policy_id, "SourcePolicyType": m.policy_type} for m in matched]


HANDLERS: dict[str, dict[str, Handler]] = {
    "sts": {"GetCallerIdentity": get_caller_identity},
    "iam": {
        "GetRole": get_role,
        "ListAttachedRolePolicies": list_attached_role_policies,
        "ListRolePolicies": list_role_policies,
        "GetRolePolicy": get_role_policy,
        "GetPolicy": get_policy,
        "GetPolicyVersion": get_policy_version,
        "GetInstanceProfile": get_instance_profile,
        "SimulatePrincipalPolicy": simulate_principal_policy,
    },
}
