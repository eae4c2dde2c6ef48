"""The sandbox's look-ups for ``ecs-exec doctor`` against real botocore clients.

STS, IAM and EC2 answer in XML (query protocol): every successful answer is checked, element
by element, against the output shape of its operation in botocore's model (an element that is
not a member, a list item with the wrong name or a value of the wrong type fails), then parsed
by botocore. JSON answers (Logs, KMS, ECS) are checked as in test_sandbox_api. Error answers
must come back as ``ClientError`` with AWS's code.
"""

from __future__ import annotations

import datetime as dt
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any, cast

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from ecs_exec.sandbox import demo_broken as broken
from ecs_exec.sandbox.demo import (
    SECURE_KMS_KEY_ARN,
    STAGING_WEB_EXEC_DISABLED,
    WEB_READY_1,
    demo_state,
    demo_state_dict,
)
from ecs_exec.sandbox.http import SandboxHttpServer
from ecs_exec.sandbox.state import SandboxState
from tests.integration.test_sandbox_api import RawCapture

_MODELS = botocore.session.get_session()
_BOTO = boto3.session.Session()
ACCOUNT = "123456789012"
TASK_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/demo/{WEB_READY_1}"


# -- XML shape validation ------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def validate_xml(element: ET.Element, shape: Shape, *, ec2: bool, path: str = "$") -> None:
    """Fail unless ``element``'s content fits ``shape`` as the query/ec2 protocols write it."""
    if isinstance(shape, StructureShape):
        names = {m.serialization.get("name", k): m for k, m in shape.members.items()}
        for child in element:
            tag = _local(child.tag)
            assert tag in names, f"{path}: <{tag}> is not a member of {shape.name}"
            validate_xml(child, names[tag], ec2=ec2, path=f"{path}.{tag}")
    elif isinstance(shape, ListShape):
        item = shape.member.serialization.get("name", "member")
        for i, child in enumerate(element):
            assert _local(child.tag) == item, f"{path}: list item <{_local(child.tag)}>"
            validate_xml(child, shape.member, ec2=ec2, path=f"{path}[{i}]")
    elif isinstance(shape, MapShape):
        for entry in element:
            assert _local(entry.tag) == "entry", f"{path}: map item <{_local(entry.tag)}>"
            assert [_local(c.tag) for c in entry] == ["key", "value"], path
    else:
        assert len(element) == 0, f"{path}: a {shape.type_name} has no child elements"
        text = element.text or ""
        kind = shape.type_name
        if kind == "boolean":
            assert text in ("true", "false"), f"{path}: boolean {text!r}"
        elif kind in ("integer", "long"):
            int(text)
        elif kind == "timestamp":
            dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif kind == "string":
            enum = getattr(shape, "enum", None)
            # EC2 writes some enum values in lower case (VPC endpoint states) where its model
            # capitalises them; botocore keeps the wire value either way.
            choices = [e.lower() for e in enum] if enum and ec2 else enum
            value = text.lower() if enum and ec2 else text
            assert not choices or value in choices, f"{path}: {text!r} not in {enum}"


class XmlCapture:
    """Keeps the raw XML of each successful answer, keyed by operation name."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {}

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] == 200:
            self.bodies.setdefault(operation_model.name, []).append(response_dict["body"])

    def check(self, service: str, operation: str) -> ET.Element:
        """Validate every captured answer of ``operation``; return the last root element."""
        model = _MODELS.get_service_model(service)
        op = model.operation_model(operation)
        assert op.output_shape is not None
        namespace = model.metadata["xmlNamespace"].rstrip("/")
        roots = [ET.fromstring(body) for body in self.bodies[operation]]
        for root in roots:
            assert root.tag.startswith("{" + namespace), root.tag
            assert _local(root.tag) == f"{operation}Response"
            if service == "ec2":
                request_id, *members = list(root)
                assert _local(request_id.tag) == "requestId"
                wrapper = ET.Element("result")
                wrapper.extend(members)
                validate_xml(wrapper, op.output_shape, ec2=True)
            else:
                result, metadata = list(root)
                assert _local(result.tag) == op.output_shape.serialization["resultWrapper"]
                assert _local(metadata.tag) == "ResponseMetadata"
                assert metadata[0].text, "a RequestId"
                validate_xml(result, op.output_shape, ec2=False)
        return roots[-1]


def test_xml_validator_rejects_what_the_model_lacks() -> None:
    shape = _MODELS.get_service_model("iam").operation_model("GetRole").output_shape
    assert shape is not None
    good = "<r><Role><RoleName>x</RoleName><MaxSessionDuration>3600</MaxSessionDuration></Role></r>"
    validate_xml(ET.fromstring(good), shape, ec2=False)
    for bad in (
        "<r><Role><Nope>x</Nope></Role></r>",
        "<r><Role><MaxSessionDuration>long</MaxSessionDuration></Role></r>",
        "<r><Role><Tags><item><Key>k</Key></item></Tags></Role></r>",  # IAM lists use <member>
    ):
        with pytest.raises((AssertionError, ValueError)):
            validate_xml(ET.fromstring(bad), shape, ec2=False)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHttpServer]:
    """One demo world for the read-only tests of this module."""
    with SandboxHttpServer(demo_state()) as srv:
        yield srv


def _client(service: str, url: str, capture: Any) -> Any:
    client = cast(Any, _BOTO).client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    client.meta.events.register("before-parse", capture)
    return client


@pytest.fixture
def xml() -> XmlCapture:
    return XmlCapture()


@pytest.fixture
def raw() -> RawCapture:
    return RawCapture()


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


# -- STS and IAM -----------------------------------------------------------------------------


def test_get_caller_identity(server: SandboxHttpServer, xml: XmlCapture) -> None:
    identity = _client("sts", server.url, xml).get_caller_identity()
    xml.check("sts", "GetCallerIdentity")
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/sandbox"
    assert identity["UserId"].startswith("AIDA")


def test_role_look_ups(server: SandboxHttpServer, xml: XmlCapture) -> None:
    iam = _client("iam", server.url, xml)
    role = iam.get_role(RoleName="secure-task")["Role"]
    xml.check("iam", "GetRole")
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/secure-task"
    # botocore URL-decodes and parses policy documents, as IAM sends them encoded.
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}

    attached = iam.list_attached_role_policies(RoleName="secure-task")
    xml.check("iam", "ListAttachedRolePolicies")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == [
        "EcsExecChannels",
        "EcsExecLogging",
        "EcsExecS3Logging",
    ]
    assert attached["IsTruncated"] is False
    assert iam.list_role_policies(RoleName="secure-task")["PolicyNames"] == ["kms"]
    xml.check("iam", "ListRolePolicies")
    inline = iam.get_role_policy(RoleName="secure-task", PolicyName="kms")
    xml.check("iam", "GetRolePolicy")
    assert inline["PolicyDocument"]["Statement"][0]["Resource"] == SECURE_KMS_KEY_ARN

    arn = attached["AttachedPolicies"][0]["PolicyArn"]
    policy = iam.get_policy(PolicyArn=arn)["Policy"]
    xml.check("iam", "GetPolicy")
    assert policy["AttachmentCount"] == 5  # every task role but broken-no-ssmmessages
    version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    xml.check("iam", "GetPolicyVersion")
    assert (
        "ssmmessages:OpenDataChannel"
        in version["PolicyVersion"]["Document"]["Statement"][0]["Action"]
    )

    profile = iam.get_instance_profile(InstanceProfileName="ecs-instance")["InstanceProfile"]
    xml.check("iam", "GetInstanceProfile")
    assert [r["RoleName"] for r in profile["Roles"]] == ["ecs-instance-role"]


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        ({"op": "get_role", "RoleName": "ghost"}, "NoSuchEntity", "role with name ghost"),
        (
            {"op": "get_role_policy", "RoleName": "demo-task", "PolicyName": "ghost"},
            "NoSuchEntity",
            "role policy with name ghost",
        ),
        (
            {"op": "get_policy", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/ghost"},
            "NoSuchEntity",
            "does not exist",
        ),
        (
            {
                "op": "get_policy_version",
                "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/EcsExecChannels",
                "VersionId": "v9",
            },
            "NoSuchEntity",
            "version v9",
        ),
        (
            {"op": "get_instance_profile", "InstanceProfileName": "ghost"},
            "NoSuchEntity",
            "Instance Profile ghost",
        ),
        (
            {
                "op": "simulate_principal_policy",
                "PolicySourceArn": f"arn:aws:iam::{ACCOUNT}:role/ghost",
                "ActionNames": ["ecs:ListTasks"],
            },
            "NoSuchEntity",
            "role with name ghost",
        ),
        (
            {
                "op": "simulate_principal_policy",
                "PolicySourceArn": "arn:aws:s3:::a-bucket-not-a-principal",
                "ActionNames": ["ecs:ListTasks"],
            },
            "InvalidInput",
            "Invalid Entity Arn",
        ),
    ],
)
def test_iam_errors(
    server: SandboxHttpServer, call: dict[str, str], code: str, message: str
) -> None:
    iam = _client("iam", server.url, XmlCapture())
    kwargs = dict(call)
    with pytest.raises(ClientError) as exc:
        getattr(iam, kwargs.pop("op"))(**kwargs)
    assert _code(exc)[0] == code
    assert message in _code(exc)[1]
    assert exc.value.response["Error"]["Type"] == "Sender"


def _simulate(iam: Any, source: str, actions: list[str], **kwargs: Any) -> dict[str, Any]:
    out = iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=actions, **kwargs)
    return {r["EvalActionName"]: r for r in out["EvaluationResults"]}


def test_simulate_principal_policy(server: SandboxHttpServer, xml: XmlCapture) -> None:
    iam = _client("iam", server.url, xml)
    caller = f"arn:aws:iam::{ACCOUNT}:user/sandbox"
    results = _simulate(
        iam,
        caller,
        ["ecs:ExecuteCommand", "ssm:StartSession", "s3:GetObject", "ECS:describetasks"],
        ResourceArns=[TASK_ARN],
    )
    xml.check("iam", "SimulatePrincipalPolicy")
    assert results["ecs:ExecuteCommand"]["EvalDecision"] == "allowed"
    assert results["ECS:describetasks"]["EvalDecision"] == "allowed"  # actions ignore case
    deny = results["ssm:StartSession"]
    assert deny["EvalDecision"] == "explicitDeny"  # the deny beats ssm's absent allow
    assert deny["MatchedStatements"] == [
        {"SourcePolicyId": "EcsExecOperator", "SourcePolicyType": "user-managed"}
    ]
    assert results["s3:GetObject"]["EvalDecision"] == "implicitDeny"
    assert results["s3:GetObject"]["ResourceSpecificResults"][0]["EvalResourceName"] == TASK_ARN

    role = f"arn:aws:iam::{ACCOUNT}:role/broken-no-kms"
    results = _simulate(
        iam,
        role,
        ["ssmmessages:OpenDataChannel", "kms:Decrypt", "logs:PutLogEvents"],
        ResourceArns=[broken.BROKEN_KMS_KEY_ARN],
    )
    assert results["ssmmessages:OpenDataChannel"]["EvalDecision"] == "allowed"
    assert results["kms:Decrypt"]["EvalDecision"] == "implicitDeny"
    decrypt = _simulate(
        iam,
        f"arn:aws:iam::{ACCOUNT}:role/broken-task",
        ["kms:Decrypt"],
        ResourceArns=[broken.BROKEN_KMS_KEY_ARN, SECURE_KMS_KEY_ARN],
    )["kms:Decrypt"]
    # One result per action: the most restrictive decision on top, each resource below.
    assert decrypt["EvalDecision"] == "implicitDeny"
    assert [r["EvalResourceDecision"] for r in decrypt["ResourceSpecificResults"]] == [
        "allowed",
        "implicitDeny",
    ]


def test_simulation_with_context_and_input_policies(
    server: SandboxHttpServer, xml: XmlCapture
) -> None:
    iam = _client("iam", server.url, xml)
    conditional = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecs:ExecuteCommand",'
        ' "Resource": "*", "Condition": {"StringEquals": {"ecs:container-name": "app"}}}]}'
    )
    caller = f"arn:aws:iam::{ACCOUNT}:user/sandbox"
    missing = _simulate(iam, caller, ["ecs:ExecuteCommand"], PolicyInputList=[conditional])[
        "ecs:ExecuteCommand"
    ]
    assert missing["EvalDecision"] == "allowed"
    assert missing["MissingContextValues"] == ["ecs:container-name"]

    def with_container(name: str) -> str:
        entry = {
            "ContextKeyName": "ecs:container-name",
            "ContextKeyValues": [name],
            "ContextKeyType": "string",
        }
        result = _simulate(
            iam,
            caller,
            ["ecs:ExecuteCommand"],
            PolicyInputList=[conditional],
            ContextEntries=[entry],
        )
        return str(result["ecs:ExecuteCommand"]["EvalDecision"])

    assert with_container("app") == "explicitDeny"
    assert with_container("log-router") == "allowed"
    xml.check("iam", "SimulatePrincipalPolicy")
    with pytest.raises(ClientError) as exc:
        _simulate(iam, caller, ["ecs:ListTasks"], PolicyInputList=["{not json"])
    assert _code(exc)[0] == "MalformedPolicyDocument"


def _restricted_world(deny: list[str]) -> SandboxState:
    data = demo_state_dict()
    data["iam"]["users"] = [
        {
            "userName": "sandbox",
            "inlinePolicies": {
                "readonly": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["iam:Get*", "ec2:Describe*"],
                            "Resource": "*",
                        },
                        {"Effect": "Deny", "Action": deny, "Resource": "*"},
                    ],
                }
            },
        }
    ]
    return SandboxState.from_dict(data)


def test_a_caller_without_permissions_is_denied() -> None:
    state = _restricted_world(deny=["ec2:DescribeRouteTables"])
    with SandboxHttpServer(state) as srv:
        iam = _client("iam", srv.url, XmlCapture())
        with pytest.raises(ClientError) as exc:
            _simulate(iam, state.caller_arn, ["ecs:ListTasks"])
        code, message = _code(exc)
        assert (code, exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "AccessDenied",
            403,
        )
        assert message == (
            f"User: {state.caller_arn} is not authorized to perform: iam:SimulatePrincipalPolicy"
            f" on resource: {state.caller_arn} because no identity-based policy allows the"
            " iam:SimulatePrincipalPolicy action"
        )
        assert iam.get_role(RoleName="demo-task")["Role"]["RoleName"] == "demo-task"
        # STS answers whoever calls, as AWS does.
        assert _client("sts", srv.url, XmlCapture()).get_caller_identity()["Account"] == ACCOUNT
        ec2 = _client("ec2", srv.url, XmlCapture())
        assert ec2.describe_subnets()["Subnets"]
        with pytest.raises(ClientError) as exc:
            ec2.describe_route_tables()
        assert _code(exc)[0] == "UnauthorizedOperation"
        assert "with an explicit deny" in _code(exc)[1]
        for service, call in (
            ("logs", lambda c: c.describe_log_groups()),
            ("kms", lambda c: c.describe_key(KeyId=SECURE_KMS_KEY_ARN)),
            (
                "ecs",
                lambda c: c.describe_container_instances(
                    cluster="broken", containerInstances=[broken.OLD_AGENT_INSTANCE]
                ),
            ),
        ):
            with pytest.raises(ClientError) as exc:
                call(_client(service, srv.url, RawCapture()))
            assert _code(exc)[0] == "AccessDeniedException", service


# -- EC2 -------------------------------------------------------------------------------------


def test_describe_subnets_and_route_tables(server: SandboxHttpServer, xml: XmlCapture) -> None:
    ec2 = _client("ec2", server.url, xml)
    subnets = ec2.describe_subnets(SubnetIds=["subnet-demo-public", "subnet-broken-private"])
    xml.check("ec2", "DescribeSubnets")
    assert [(s["SubnetId"], s["MapPublicIpOnLaunch"]) for s in subnets["Subnets"]] == [
        ("subnet-demo-public", True),
        ("subnet-broken-private", False),
    ]
    by_vpc = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": ["vpc-broken"]}])
    assert len(by_vpc["Subnets"]) == 3

    def tables(*filters: tuple[str, str]) -> list[dict[str, Any]]:
        wanted = [{"Name": n, "Values": [v]} for n, v in filters]
        return list(ec2.describe_route_tables(Filters=wanted)["RouteTables"])

    (public,) = tables(("association.subnet-id", "subnet-demo-public"))
    xml.check("ec2", "DescribeRouteTables")
    assert [(r["DestinationCidrBlock"], r["GatewayId"]) for r in public["Routes"]] == [
        ("10.0.0.0/16", "local"),
        ("0.0.0.0/0", "igw-demo"),
    ]
    (nat,) = tables(("association.subnet-id", "subnet-broken-nat"))
    assert nat["Routes"][1]["NatGatewayId"] == "nat-broken"
    # A subnet without an explicit association uses the main table, found by its VPC.
    assert tables(("association.subnet-id", "subnet-broken-private")) == []
    (main,) = tables(("vpc-id", "vpc-broken"), ("association.main", "true"))
    assert [r["GatewayId"] for r in main["Routes"]] == ["local"]
    assert main["Associations"][0]["Main"] is True


def test_describe_endpoints_and_security_groups(server: SandboxHttpServer, xml: XmlCapture) -> None:
    ec2 = _client("ec2", server.url, xml)
    service = "com.amazonaws.us-east-1.ssmmessages"
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "service-name", "Values": [service]}])[
        "VpcEndpoints"
    ]
    xml.check("ec2", "DescribeVpcEndpoints")
    assert {(e["VpcId"], e["PrivateDnsEnabled"]) for e in endpoints} == {
        ("vpc-secure", True),
        ("vpc-nodns", False),
        ("vpc-badsg", True),
    }
    assert all(e["State"] == "available" for e in endpoints)
    none = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": ["vpc-broken"]}])
    assert none["VpcEndpoints"] == []

    groups = ec2.describe_security_groups(GroupIds=["sg-secure-endpoint", "sg-badsg-endpoint"])
    xml.check("ec2", "DescribeSecurityGroups")
    secure, bad = groups["SecurityGroups"]
    (rule,) = secure["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"], rule["UserIdGroupPairs"][0]["GroupId"]) == (
        443,
        443,
        "sg-secure-tasks",
    )
    assert [(r["FromPort"], r["IpRanges"][0]["CidrIp"]) for r in bad["IpPermissions"]] == [
        (80, "10.4.0.0/16")
    ]
    assert bad["IpPermissionsEgress"][0]["IpProtocol"] == "-1"


def test_task_interfaces_and_instances(
    server: SandboxHttpServer, xml: XmlCapture, raw: RawCapture
) -> None:
    ecs = _client("ecs", server.url, raw)
    # staging's tasks sit in demo's public subnet with public IPs (demo's own services bring
    # private subnets behind NAT).
    (task,) = ecs.describe_tasks(cluster="staging", tasks=[STAGING_WEB_EXEC_DISABLED])["tasks"]
    raw.check("ecs", "DescribeTasks")
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert details["subnetId"] == "subnet-demo-public"
    assert (
        task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
        == (details["privateIPv4Address"])
    )
    ec2 = _client("ec2", server.url, xml)
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])[
        "NetworkInterfaces"
    ]
    xml.check("ec2", "DescribeNetworkInterfaces")
    assert eni["Association"]["PublicIp"].startswith("203.0.113.")
    assert eni["PrivateIpAddress"] == details["privateIPv4Address"]
    assert eni["Groups"] == [{"GroupId": "sg-demo-tasks", "GroupName": "demo-tasks"}]
    private = ec2.describe_network_interfaces(
        Filters=[{"Name": "subnet-id", "Values": ["subnet-secure-private"]}]
    )["NetworkInterfaces"]
    assert private and all("Association" not in e for e in private)

    (ec2_task,) = ecs.describe_tasks(cluster="broken", tasks=[broken.BROKEN_INSTANCE_PROFILE])[
        "tasks"
    ]
    raw.check("ecs", "DescribeTasks")
    assert ec2_task["launchType"] == "EC2" and "platformVersion" not in ec2_task
    (instance,) = ecs.describe_container_instances(
        cluster="broken", containerInstances=[ec2_task["containerInstanceArn"]]
    )["containerInstances"]
    raw.check("ecs", "DescribeContainerInstances")
    assert instance["versionInfo"]["agentVersion"] == "1.82.0"
    reservations = ec2.describe_instances(InstanceIds=[instance["ec2InstanceId"]])
    xml.check("ec2", "DescribeInstances")
    (described,) = reservations["Reservations"][0]["Instances"]
    assert described["IamInstanceProfile"]["Arn"].endswith(":instance-profile/ecs-instance")
    assert described["PublicIpAddress"] == "203.0.113.202"


@pytest.mark.parametrize(
    ("op", "kwargs", "code", "message"),
    [
        (
            "describe_subnets",
            {"SubnetIds": ["subnet-nope"]},
            "InvalidSubnetID.NotFound",
            "The subnet ID 'subnet-nope' does not exist",
        ),
        (
            "describe_route_tables",
            {"RouteTableIds": ["rtb-nope"]},
            "InvalidRouteTableID.NotFound",
            "rtb-nope",
        ),
        (
            "describe_vpc_endpoints",
            {"VpcEndpointIds": ["vpce-nope"]},
            "InvalidVpcEndpointId.NotFound",
            "vpce-nope",
        ),
        ("describe_security_groups", {"GroupIds": ["sg-nope"]}, "InvalidGroup.NotFound", "sg-nope"),
        (
            "describe_network_interfaces",
            {"NetworkInterfaceIds": ["eni-nope"]},
            "InvalidNetworkInterfaceID.NotFound",
            "eni-nope",
        ),
        ("describe_instances", {"InstanceIds": ["i-nope"]}, "InvalidInstanceID.NotFound", "i-nope"),
        (
            "describe_subnets",
            {"Filters": [{"Name": "colour", "Values": ["x"]}]},
            "InvalidParameterValue",
            "The filter 'colour' is invalid",
        ),
    ],
)
def test_ec2_errors(
    server: SandboxHttpServer, op: str, kwargs: dict[str, Any], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as exc:
        getattr(_client("ec2", server.url, XmlCapture()), op)(**kwargs)
    assert _code(exc)[0] == code
    assert message in _code(exc)[1]


# -- Logs, KMS and ECS -----------------------------------------------------------------------


def test_describe_log_groups(server: SandboxHttpServer, raw: RawCapture) -> None:
    logs = _client("logs", server.url, raw)
    groups = logs.describe_log_groups(logGroupNamePrefix="/ecs/exec/")["logGroups"]
    raw.check("logs", "DescribeLogGroups")
    assert [g["logGroupName"] for g in groups] == [
        "/ecs/exec/broken",
        "/ecs/exec/demo",
        "/ecs/exec/secure",
    ]
    assert groups[2]["kmsKeyId"] == SECURE_KMS_KEY_ARN and "kmsKeyId" not in groups[1]
    first = logs.describe_log_groups(limit=2)
    second = logs.describe_log_groups(limit=2, nextToken=first["nextToken"])
    raw.check("logs", "DescribeLogGroups")
    assert len(first["logGroups"]) == 2 and "nextToken" not in second
    assert logs.describe_log_groups(logGroupNamePrefix="/ecs/exec/broken-logs")["logGroups"] == []
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(logGroupNamePrefix="/a", logGroupNamePattern="b")
    assert _code(exc)[0] == "InvalidParameterException"


def test_describe_key_and_unusable_keys(server: SandboxHttpServer, raw: RawCapture) -> None:
    kms = _client("kms", server.url, raw)
    states = {
        ref: kms.describe_key(KeyId=ref)["KeyMetadata"]
        for ref in (
            SECURE_KMS_KEY_ARN,
            "alias/ecs-exec-disabled",
            broken.RETIRED_KMS_KEY_ID,
        )
    }
    raw.check("kms", "DescribeKey")
    assert [(m["KeyState"], m["Enabled"]) for m in states.values()] == [
        ("Enabled", True),
        ("Disabled", False),
        ("PendingDeletion", False),
    ]
    assert states[broken.RETIRED_KMS_KEY_ID]["DeletionDate"].year == 2024
    for ref, code in (("alias/ghost", "NotFoundException"), ("0000", "NotFoundException")):
        with pytest.raises(ClientError) as exc:
            kms.describe_key(KeyId=ref)
        assert _code(exc)[0] == code
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=broken.DISABLED_KMS_KEY_ARN, KeySpec="AES_256")
    assert _code(exc) == ("DisabledException", f"{broken.DISABLED_KMS_KEY_ARN} is disabled.")
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=broken.RETIRED_KMS_KEY_ARN, KeySpec="AES_256")
    assert _code(exc)[0] == "KMSInvalidStateException"
    assert kms.generate_data_key(KeyId=broken.BROKEN_KMS_KEY_ARN, KeySpec="AES_256")["KeyId"]


def test_clusters_task_definitions_and_services(server: SandboxHttpServer, raw: RawCapture) -> None:
    ecs = _client("ecs", server.url, raw)
    clusters = ecs.describe_clusters(
        clusters=["demo", "broken", "broken-kms"], include=["CONFIGURATIONS"]
    )["clusters"]
    raw.check("ecs", "DescribeClusters")
    configs = {
        c["clusterName"]: c["configuration"]["executeCommandConfiguration"] for c in clusters
    }
    assert configs["demo"] == {
        "logging": "OVERRIDE",
        "logConfiguration": {
            "cloudWatchLogGroupName": "/ecs/exec/demo",
            "cloudWatchEncryptionEnabled": False,
        },
    }
    assert configs["broken"]["kmsKeyId"] == broken.BROKEN_KMS_KEY_ARN
    assert configs["broken-kms"] == {"logging": "DEFAULT", "kmsKeyId": broken.DISABLED_KMS_KEY_ARN}
    assert [c["registeredContainerInstancesCount"] for c in clusters] == [0, 2, 0]

    definitions = {
        family: ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        for family in ("web", "broken-readonly", "broken-pid", "broken-noinit", "broken-ec2-norole")
    }
    raw.check("ecs", "DescribeTaskDefinition")
    assert definitions["web"]["taskRoleArn"].endswith(":role/demo-task")
    assert {
        c["linuxParameters"]["initProcessEnabled"]
        for c in definitions["web"]["containerDefinitions"]
    } == {True}
    assert definitions["broken-readonly"]["containerDefinitions"][0]["readonlyRootFilesystem"]
    assert definitions["broken-pid"]["pidMode"] == "task"
    noinit = definitions["broken-noinit"]["containerDefinitions"][0]["linuxParameters"]
    assert noinit == {"initProcessEnabled": False}
    assert "taskRoleArn" not in definitions["broken-ec2-norole"]

    (service,) = ecs.describe_services(cluster="broken", services=["late-exec"])["services"]
    raw.check("ecs", "DescribeServices")
    assert service["enableExecuteCommand"] is True
    assert service["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == [
        "subnet-broken-nat"
    ]
    instances = ecs.list_container_instances(cluster="broken")["containerInstanceArns"]
    raw.check("ecs", "ListContainerInstances")
    out = ecs.describe_container_instances(cluster="broken", containerInstances=[*instances, "x"])
    raw.check("ecs", "DescribeContainerInstances")
    assert [i["versionInfo"]["agentVersion"] for i in out["containerInstances"]] == [
        "1.50.1",
        "1.82.0",
    ]
    assert out["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as exc:
        ecs.describe_container_instances(cluster="nope", containerInstances=["x"])
    assert _code(exc)[0] == "ClusterNotFoundException"


# -- protocol edges ----------------------------------------------------------------------------


def test_faults_and_the_request_log_cover_query_calls() -> None:
    state = demo_state()
    state.faults["api"] = {"DescribeSubnets": {"error": "RequestLimitExceeded", "times": 1}}
    with SandboxHttpServer(state) as srv:
        ec2 = _client("ec2", srv.url, XmlCapture())
        with pytest.raises(ClientError) as exc:
            ec2.describe_subnets()
        assert _code(exc)[0] == "RequestLimitExceeded"
        assert ec2.describe_subnets()["Subnets"]
        assert srv.log.counts()["DescribeSubnets"] == 2
        assert srv.log.records[0].target == "ec2.DescribeSubnets"
        assert srv.log.bodies("DescribeSubnets")[0]["Version"] == "2016-11-15"


def _post_form(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_query_errors_are_aws_error_documents(server: SandboxHttpServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, body = _post_form(server.url, b"Action=GetCallerIdentity&Version=2011-06-15", form)
    root = ET.fromstring(body)
    assert status == 400 and _local(root.tag) == "ErrorResponse"
    assert [root[0][0].text, root[0][1].text] == ["Sender", "MissingAuthenticationToken"]
    # Without a credential scope, the API version names the service.
    signed = {**form, "Authorization": "AWS4-HMAC-SHA256 Credential=x, Signature=z"}
    status, body = _post_form(server.url, b"Action=DescribeSubnets&Version=2016-11-15", signed)
    assert status == 200 and b"<subnetSet>" in body
    status, body = _post_form(server.url, b"Action=DescribeNothing&Version=2016-11-15", signed)
    root = ET.fromstring(body)
    assert status == 400 and _local(root.tag) == "Response"
    assert root.find("Errors/Error/Code") is not None
    assert root.findtext("Errors/Error/Code") == "InvalidAction"
    assert root.findtext("RequestID")


def test_exec_into_a_task_whose_agent_cannot_connect(
    server: SandboxHttpServer, raw: RawCapture
) -> None:
    ecs = _client("ecs", server.url, raw)
    for task in (broken.BROKEN_NO_SSMMESSAGES, broken.BROKEN_ENDPOINT_SG):
        with pytest.raises(ClientError) as exc:
            ecs.execute_command(
                cluster="broken", task=task, container="app", command="sh", interactive=True
            )
        assert _code(exc) == (
            "TargetNotConnectedException",
            "The execute command failed due to an internal error. Try again later.",
        )
    # The task exists in cluster broken only: elsewhere ECS does not find it.
    with pytest.raises(ClientError) as exc:
        ecs.execute_command(
            cluster="demo", task=broken.BROKEN_NO_SSMMESSAGES, command="sh", interactive=True
        )
    assert _code(exc)[0] == "InvalidParameterException"
    session = ecs.execute_command(
        cluster="broken", task=broken.BROKEN_HEALTHY, command="sh", interactive=True
    )
    raw.check("ecs", "ExecuteCommand")
    assert session["session"]["sessionId"]


def test_a_caller_in_an_assumed_role_session() -> None:
    data = demo_state_dict()
    data["userName"] = "alice"
    data["callerRole"] = "ops"
    data["iam"]["roles"].append(
        {
            "roleName": "ops",
            "path": "/sso/",
            "inlinePolicies": {
                "read": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}],
                }
            },
        }
    )
    state = SandboxState.from_dict(data)
    with SandboxHttpServer(state) as srv:
        identity = _client("sts", srv.url, XmlCapture()).get_caller_identity()
        # The session ARN omits the role's path; the role's own ARN has it.
        assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/alice"
        iam = _client("iam", srv.url, XmlCapture())
        role = iam.get_role(RoleName="ops")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/sso/ops"
        assert identity["UserId"] == f"{role['RoleId']}:alice"
        with pytest.raises(ClientError) as exc:
            _simulate(iam, role["Arn"], ["ecs:ListTasks"])
        assert _code(exc)[1].startswith(
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ops/alice is not authorized to perform:"
            " iam:SimulatePrincipalPolicy"
        )


def test_run_task_gives_the_task_its_network() -> None:
    with SandboxHttpServer(demo_state()) as srv:
        raw = RawCapture()
        ecs = _client("ecs", srv.url, raw)
        config = {
            "subnets": ["subnet-demo-public"],
            "securityGroups": ["sg-demo-tasks"],
            "assignPublicIp": "ENABLED",
        }
        (task,) = ecs.run_task(
            cluster="demo",
            taskDefinition="worker:1",
            networkConfiguration={"awsvpcConfiguration": config},
        )["tasks"]
        raw.check("ecs", "RunTask")
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        assert details["subnetId"] == "subnet-demo-public"
        (described,) = ecs.describe_tasks(cluster="demo", tasks=[task["taskArn"]])["tasks"]
        assert described["attachments"] == task["attachments"]
        ec2 = _client("ec2", srv.url, XmlCapture())
        (eni,) = ec2.describe_network_interfaces(
            NetworkInterfaceIds=[details["networkInterfaceId"]]
        )["NetworkInterfaces"]
        assert eni["Association"]["PublicIp"].startswith("203.0.113.")
