"""IAM policy evaluation of the sandbox's policy simulator."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_exec.sandbox.iampolicy import SourcePolicy, evaluate, most_restrictive

TASK = "arn:aws:ecs:us-east-1:123456789012:task/demo/0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11"


def _policy(*statements: dict[str, Any], name: str = "p") -> SourcePolicy:
    return SourcePolicy(name, "user", {"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("pattern", "action", "allowed"),
    [
        ("ecs:ExecuteCommand", "ecs:ExecuteCommand", True),
        ("ecs:*", "ecs:ExecuteCommand", True),
        ("ecs:Describe*", "ecs:DescribeTasks", True),
        ("ecs:Describe*", "ecs:ListTasks", False),
        ("ECS:executecommand", "ecs:ExecuteCommand", True),  # actions ignore case
        ("ssmmessages:Open?ataChannel", "ssmmessages:OpenDataChannel", True),
        ("*", "kms:Decrypt", True),
        ("ecs:Execute", "ecs:ExecuteCommand", False),  # no implicit prefix match
    ],
)
def test_action_wildcards(pattern: str, action: str, allowed: bool) -> None:
    decision = evaluate([_policy(_allow(pattern))], action).decision
    assert decision == ("allowed" if allowed else "implicitDeny")


@pytest.mark.parametrize(
    ("pattern", "resource", "allowed"),
    [
        ("*", TASK, True),
        ("arn:aws:ecs:*:123456789012:task/demo/*", TASK, True),
        ("arn:aws:ecs:*:123456789012:task/staging/*", TASK, False),
        ("arn:aws:ecs:us-east-1:123456789012:TASK/demo/*", TASK, False),  # resources keep case
        (["arn:aws:ecs:*:*:cluster/*", "arn:aws:ecs:*:*:task/*"], TASK, True),
    ],
)
def test_resource_wildcards(pattern: Any, resource: str, allowed: bool) -> None:
    decision = evaluate(
        [_policy(_allow("ecs:ExecuteCommand", pattern))], "ecs:ExecuteCommand", resource
    ).decision
    assert decision == ("allowed" if allowed else "implicitDeny")


def test_an_explicit_deny_wins_and_is_the_only_match_listed() -> None:
    policies = [
        _policy(_allow("ssm:*"), name="broad"),
        _policy(_deny("ssm:StartSession", "arn:aws:ecs:*:*:task/*"), name="guard"),
    ]
    denied = evaluate(policies, "ssm:StartSession", TASK)
    assert denied.decision == "explicitDeny"
    assert [(m.policy_id, m.index) for m in denied.matched] == [("guard", 0)]
    # The deny names task resources only: other resources stay allowed.
    assert evaluate(policies, "ssm:StartSession", "arn:aws:ec2:*:*:instance/i-1").decision == (
        "allowed"
    )
    assert evaluate([], "ssm:StartSession").decision == "implicitDeny"


def test_not_action_and_not_resource() -> None:
    everything_but_iam = _policy({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert evaluate([everything_but_iam], "ecs:ListTasks").decision == "allowed"
    assert evaluate([everything_but_iam], "iam:GetRole").decision == "implicitDeny"
    not_staging = _policy(
        {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:ecs:*:*:task/demo/*"},
        _allow("*"),
    )
    assert evaluate([not_staging], "ecs:StopTask", TASK).decision == "allowed"
    assert evaluate([not_staging], "ecs:StopTask", "arn:aws:ecs:::task/x/1").decision == (
        "explicitDeny"
    )


def test_conditions_on_context_keys() -> None:
    policy = _policy(
        _allow(
            "ecs:ExecuteCommand",
            Condition={
                "StringEquals": {"ecs:container-name": ["app", "worker"]},
                "ArnLike": {"ecs:cluster": "arn:aws:ecs:*:*:cluster/demo"},
            },
        )
    )
    context = {"ECS:Container-Name": ["app"], "ecs:cluster": ["arn:aws:ecs:r:1:cluster/demo"]}
    assert evaluate([policy], "ecs:ExecuteCommand", TASK, context).decision == "allowed"
    other = {**context, "ECS:Container-Name": ["log-router"]}
    assert evaluate([policy], "ecs:ExecuteCommand", TASK, other).decision == "implicitDeny"
    missing = evaluate(
        [policy], "ecs:ExecuteCommand", TASK, {"ecs:cluster": context["ecs:cluster"]}
    )
    assert (missing.decision, missing.missing_context) == ("implicitDeny", ["ecs:container-name"])


@pytest.mark.parametrize(
    ("condition", "context", "holds", "missing"),
    [
        ({"StringNotEquals": {"k": "a"}}, {"k": ["b"]}, True, []),
        ({"StringEqualsIgnoreCase": {"k": "ABC"}}, {"k": ["abc"]}, True, []),
        ({"StringLike": {"k": "a*"}}, {"k": ["abc"]}, True, []),
        ({"StringNotLike": {"k": "a*"}}, {"k": ["abc"]}, False, []),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": ["true"]}, True, []),
        ({"NumericLessThan": {"n": "10"}}, {"n": ["9"]}, True, []),
        ({"NumericGreaterThanEquals": {"n": "10"}}, {"n": ["x"]}, False, []),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True, []),
        ({"StringEquals": {"k": "a"}}, {}, False, ["k"]),
        ({"Null": {"k": "true"}}, {}, True, []),
        ({"Null": {"k": "false"}}, {}, False, []),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True, []),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ["a", "c"]}, False, []),
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ["c", "a"]}, True, []),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}},
            {"aws:CurrentTime": ["2024-01-01"]},
            False,
            [],
        ),  # not modelled: never matches
    ],
)
def test_condition_operators(
    condition: dict[str, Any], context: dict[str, list[str]], holds: bool, missing: list[str]
) -> None:
    result = evaluate(
        [_policy(_allow("s3:GetObject", Condition=condition))], "s3:GetObject", "*", context
    )
    assert (result.decision == "allowed", result.missing_context) == (holds, missing)


def test_most_restrictive() -> None:
    assert most_restrictive(["allowed", "implicitDeny"]) == "implicitDeny"
    assert most_restrictive(["allowed", "explicitDeny", "implicitDeny"]) == "explicitDeny"
    assert most_restrictive(["allowed"]) == "allowed"
