"""The doctor parts of the sandbox state file: loading, validation, round trip, query params."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecs_exec.errors import ConfigurationError
from ecs_exec.sandbox import querywire
from ecs_exec.sandbox.demo import demo_state, demo_state_dict
from ecs_exec.sandbox.principals import policies_of
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import ADMINISTRATOR_ACCESS


def _minimal(**extra: Any) -> dict[str, Any]:
    return {"clusters": [{"clusterName": "c"}], **extra}


def test_a_world_without_iam_has_an_administrator_caller() -> None:
    state = SandboxState.from_dict(_minimal(userName="alice"))
    policies = policies_of(state.world, state.caller_arn)
    assert policies is not None
    assert [p.policy_type for p in policies] == ["aws-managed"]
    assert state.world.user("alice") is not None
    assert state.world.policies[ADMINISTRATOR_ACCESS].name == "AdministratorAccess"


def test_buckets_load_with_the_states_region_by_default() -> None:
    buckets = [
        {"name": "a", "encryption": "AES256"},
        {"name": "b", "region": "eu-west-1", "encryption": "aws:kms", "kmsKeyId": "arn:k"},
        {"name": "c"},
    ]
    state = SandboxState.from_dict(_minimal(s3={"buckets": buckets}))
    found = {b.name: (b.region, b.encryption, b.kms_key_id) for b in state.world.buckets.values()}
    assert found == {
        "a": ("us-east-1", "AES256", None),
        "b": ("eu-west-1", "aws:kms", "arn:k"),
        "c": ("us-east-1", None, None),
    }
    again = SandboxState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again.world.buckets == state.world.buckets


def test_the_demo_world_survives_a_dump_and_reload() -> None:
    first = demo_state().to_dict()
    again = SandboxState.from_dict(json.loads(json.dumps(first))).to_dict()
    assert again == first
    assert again["tasks"][-1]["network"]["subnetId"].startswith("subnet-")
    assert again["clusters"][1]["executeCommandConfiguration"]["logging"] == "OVERRIDE"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"iam": {"roles": [{"roleName": "r", "attachedPolicies": ["arn:x"]}]}}, "unknown managed"),
        ({"iam": {"roles": [{"roleName": "r", "inlinePolicies": {"p": {"No": 1}}}]}}, "Statement"),
        ({"iam": {"roles": [{"roleName": "r", "path": "x"}]}}, "must begin and end"),
        (
            {"iam": {"instanceProfiles": [{"instanceProfileName": "p", "roles": ["r"]}]}},
            "unknown roles",
        ),
        ({"ec2": {"subnets": [{"subnetId": "subnet-1", "vpcId": "vpc-9"}]}}, "unknown vpcId"),
        ({"ec2": {"subnets": [{"vpcId": "vpc-9"}]}}, "needs subnetId"),
        (
            {"ec2": {"instances": [{"instanceId": "i-1", "iamInstanceProfile": "p"}]}},
            "unknown profile",
        ),
        ({"kms": {"keys": [{"keyId": "k", "keyState": "Gone"}]}}, "keyState"),
        ({"s3": {"buckets": [{"name": "b", "encryption": "ROT13"}]}}, "encryption"),
        (
            {"clusters": [{"clusterName": "c", "executeCommandConfiguration": {"logging": "ALL"}}]},
            "logging",
        ),
        (
            {
                "clusters": [
                    {
                        "clusterName": "c",
                        "executeCommandConfiguration": {
                            "logConfiguration": {"cloudWatchEncryptionEnabled": "yes"}
                        },
                    }
                ]
            },
            "logConfiguration",
        ),
        (
            {
                "taskDefinitions": [
                    {"family": "f", "pidMode": "shared", "containerDefinitions": [{"name": "a"}]}
                ]
            },
            "pidMode",
        ),
        (
            {
                "taskDefinitions": [{"family": "f", "containerDefinitions": [{"name": "a"}]}],
                "tasks": [
                    {
                        "taskId": "0" * 32,
                        "cluster": "c",
                        "taskDefinition": "f",
                        "network": {"subnetId": "subnet-x"},
                    }
                ],
            },
            "unknown subnet",
        ),
        (
            {
                "taskDefinitions": [{"family": "f", "containerDefinitions": [{"name": "a"}]}],
                "tasks": [
                    {
                        "taskId": "0" * 32,
                        "cluster": "c",
                        "taskDefinition": "f",
                        "containerInstance": "nope",
                    }
                ],
            },
            "unknown container instance",
        ),
    ],
)
def test_inconsistent_worlds_are_configuration_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SandboxState.from_dict(_minimal(**change))


def test_world_kms_keys_are_usable_by_generate_data_key() -> None:
    data = _minimal(kms={"keys": [{"keyId": "k-1", "keyState": "Disabled"}]})
    state = SandboxState.from_dict(data)
    assert state.kms_keys == ["arn:aws:kms:us-east-1:123456789012:key/k-1"]
    assert state.world.kms_key("k-1") is state.world.kms_key(state.kms_keys[0])


def test_demo_state_dict_carries_the_world() -> None:
    data = demo_state_dict()
    assert {"iam", "ec2", "logGroups", "kms", "containerInstances"} <= set(data)


def test_query_parameters() -> None:
    params = {
        "ActionNames.member.2": "b",
        "ActionNames.member.1": "a",
        "ActionNames.member.10": "c",
        "ContextEntries.member.1.ContextKeyName": "k",
        "ContextEntries.member.1.ContextKeyValues.member.1": "v",
        "SubnetId.2": "s2",
        "SubnetId.1": "s1",
        "Filter.1.Name": "vpc-id",
        "Filter.1.Value.2": "v2",
        "Filter.1.Value.1": "v1",
        "Filter.2.Name": "state",
    }
    assert querywire.members(params, "ActionNames") == ["a", "b", "c"]
    assert querywire.struct_members(params, "ContextEntries") == [
        {"ContextKeyName": "k", "ContextKeyValues.member.1": "v"}
    ]
    assert querywire.ec2_list(params, "SubnetId") == ["s1", "s2"]
    assert querywire.ec2_filters(params) == {"vpc-id": ["v1", "v2"], "state": []}
    with pytest.raises(querywire.QueryError, match="roleName"):
        querywire.required({}, "RoleName")


@pytest.mark.parametrize(
    ("authorization", "version", "service"),
    [
        ("AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/iam/aws4_request, X", None, "iam"),
        ("AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/sts/aws4_request, X", None, "sts"),
        ("AWS4-HMAC-SHA256 Credential=x", "2016-11-15", "ec2"),
        ("AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/s3/aws4_request", "1", ""),
    ],
)
def test_the_service_of_a_query_request(
    authorization: str, version: str | None, service: str
) -> None:
    params = {} if version is None else {"Version": version}
    assert querywire.service_of(authorization, params) == service


def test_xml_escapes_text() -> None:
    body = querywire.render("iam", "GetRole", {"Role": {"RoleName": "a<b&c"}}, "r-1")
    assert b"<RoleName>a&lt;b&amp;c</RoleName>" in body
    error = querywire.render_error("ec2", querywire.QueryError("X", "<bad>"), "r-1")
    assert b"<Message>&lt;bad&gt;</Message>" in error


def test_a_caller_role_must_exist_and_survives_a_round_trip() -> None:
    with pytest.raises(ConfigurationError, match="callerRole"):
        SandboxState.from_dict(_minimal(callerRole="ghost"))
    data = _minimal(callerRole="ops", iam={"roles": [{"roleName": "ops"}]})
    state = SandboxState.from_dict(data)
    assert state.caller_arn == "arn:aws:sts::123456789012:assumed-role/ops/sandbox"
    assert SandboxState.from_dict(state.to_dict()).to_dict()["callerRole"] == "ops"
