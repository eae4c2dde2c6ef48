"""What ``ecs-exec doctor`` inspects in the demo world, and the clusters that fail its checks.

:func:`with_doctor_world` adds to the demo world (``demo.py``):

* to the healthy clusters, what doctor needs to pass: task roles with the ssmmessages,
  logging and KMS permissions, ``initProcessEnabled`` on every container, a network path to
  ssmmessages (``demo`` and ``staging``: a public subnet with an internet gateway and public
  IPs; ``secure``: a private subnet with a working ssmmessages interface endpoint), CloudWatch
  log groups for exec logging, the KMS key of ``secure`` enabled;
* a caller (user ``sandbox``) allowed what ecs-exec and doctor call and explicitly denied
  ``ssm:StartSession`` on tasks;
* cluster ``broken`` (KMS key ``BROKEN_KMS_KEY_ARN``, exec logs to ``/ecs/exec/broken``),
  whose tasks each fail one check, and two clusters for the cluster-wide failures:

  ==============================  =========================================================
  ``BROKEN_EXEC_DISABLED``        enableExecuteCommand false (a standalone task)
  ``BROKEN_AGENT_STOPPED``        ExecuteCommandAgent STOPPED, with a reason
  ``BROKEN_READONLY_ROOT``        readonlyRootFilesystem on its container
  ``BROKEN_PID_TASK``             pidMode ``task`` (a warning)
  ``BROKEN_NO_INIT``              initProcessEnabled false (a warning)
  ``BROKEN_ENV_CREDENTIALS``      AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the
                                  container's environment (AWS's documented example keys)
  ``BROKEN_NO_SSMMESSAGES``       task role without the ssmmessages permissions
  ``BROKEN_INSTANCE_PROFILE``     EC2 task with no task role: the agent falls back to the
                                  instance profile ``ecs-instance`` (whose role would do)
  ``BROKEN_NO_KMS_DECRYPT``       task role without kms:Decrypt on the cluster's key
  ``BROKEN_PRIVATE_SUBNET``       private subnet, no NAT, no ssmmessages endpoint
  ``BROKEN_ENDPOINT_NO_DNS``      ssmmessages endpoint with private DNS off
  ``BROKEN_ENDPOINT_SG``          ssmmessages endpoint whose security group refuses 443
  ``BROKEN_FARGATE_130``          Fargate platform version 1.3.0
  ``BROKEN_OLD_AGENT``            EC2 container instance with ECS agent 1.50.1
  ``BROKEN_STARTED_BEFORE_EXEC``  task of service ``late-exec`` (exec enabled) started
                                  before exec was enabled on the service
  ``BROKEN_HEALTHY``              nothing wrong: the reference (private subnet with NAT)
  ``BROKEN_KMS_DISABLED``         cluster ``broken-kms``: its KMS key is disabled
  ``BROKEN_LOG_GROUP_MISSING``    cluster ``broken-logs``: its exec log group does not exist
  ``BROKEN_S3_BUCKET_MISSING``    cluster ``broken-s3``: its exec log bucket does not exist
  ``BROKEN_S3_UNENCRYPTED``       cluster ``broken-s3-encryption``: encryption required, the
                                  bucket has no default encryption
  ==============================  =========================================================

The same table, with the task ids, is in docs/sandbox-world.md#4-the-demo-world.
``BROKEN_FINDINGS`` maps each task id to that sentence, for tests. The tasks whose agent could
not reach ssmmessages in AWS (read-only root, credentials in the environment, no ssmmessages
permissions, the three network failures) answer ExecuteCommand with
TargetNotConnectedException, as ECS does. The demo world's other
KMS key ``RETIRED_KMS_KEY_ARN`` is pending deletion and used by no cluster (for scenarios).
``secure`` also logs to the bucket ``SECURE_LOG_BUCKET`` (default encryption, required).
"""

from __future__ import annotations

import copy
from typing import Any

from ecs_exec.sandbox.state import DEFAULT_ACCOUNT, DEFAULT_REGION

_ACCOUNT, _REGION = DEFAULT_ACCOUNT, DEFAULT_REGION
_STARTED = 1714564800.0  # 2024-05-01T12:00:00Z, as the rest of the demo


def _kms_arn(key_id: str) -> str:
    return f"arn:aws:kms:{_REGION}:{_ACCOUNT}:key/{key_id}"


def _role_arn(name: str) -> str:
    return f"arn:aws:iam::{_ACCOUNT}:role/{name}"


def _policy_arn(name: str) -> str:
    return f"arn:aws:iam::{_ACCOUNT}:policy/{name}"


BROKEN_KMS_KEY_ID = "0b0b0b0b-1111-4222-8333-444455556666"
BROKEN_KMS_KEY_ARN = _kms_arn(BROKEN_KMS_KEY_ID)
DISABLED_KMS_KEY_ID = "0d0d0d0d-1111-4222-8333-444455556666"
DISABLED_KMS_KEY_ARN = _kms_arn(DISABLED_KMS_KEY_ID)
RETIRED_KMS_KEY_ID = "0e0e0e0e-1111-4222-8333-444455556666"
RETIRED_KMS_KEY_ARN = _kms_arn(RETIRED_KMS_KEY_ID)
# The secure cluster's key (demo.SECURE_KMS_KEY_ARN; demo.py imports this module).
_SECURE_KMS_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"

BROKEN_EXEC_DISABLED = "b0000000000040000000000000000001"
BROKEN_AGENT_STOPPED = "b0000000000040000000000000000002"
BROKEN_READONLY_ROOT = "b0000000000040000000000000000003"
BROKEN_PID_TASK = "b0000000000040000000000000000004"
BROKEN_NO_INIT = "b0000000000040000000000000000005"
BROKEN_ENV_CREDENTIALS = "b0000000000040000000000000000006"
BROKEN_NO_SSMMESSAGES = "b0000000000040000000000000000007"
BROKEN_INSTANCE_PROFILE = "b0000000000040000000000000000008"
BROKEN_NO_KMS_DECRYPT = "b0000000000040000000000000000009"
BROKEN_PRIVATE_SUBNET = "b000000000004000000000000000000a"
BROKEN_ENDPOINT_NO_DNS = "b000000000004000000000000000000b"
BROKEN_ENDPOINT_SG = "b000000000004000000000000000000c"
BROKEN_FARGATE_130 = "b000000000004000000000000000000d"
BROKEN_OLD_AGENT = "b000000000004000000000000000000e"
BROKEN_STARTED_BEFORE_EXEC = "b000000000004000000000000000000f"
BROKEN_HEALTHY = "b0000000000040000000000000000010"
BROKEN_KMS_DISABLED = "b0000000000040000000000000000011"
BROKEN_LOG_GROUP_MISSING = "b0000000000040000000000000000012"
BROKEN_S3_BUCKET_MISSING = "b0000000000040000000000000000013"
BROKEN_S3_UNENCRYPTED = "b0000000000040000000000000000014"

SECURE_LOG_BUCKET = f"ecs-exec-logs-secure-{_ACCOUNT}"  #: AES256 by default
PLAIN_LOG_BUCKET = f"ecs-exec-logs-plain-{_ACCOUNT}"  #: no default encryption
MISSING_LOG_BUCKET = f"ecs-exec-logs-gone-{_ACCOUNT}"  #: no such bucket

OLD_AGENT_INSTANCE = "c0000000000040000000000000000001"  #: container instance, agent 1.50.1
CURRENT_AGENT_INSTANCE = "c0000000000040000000000000000002"  #: container instance, 1.82.0

BROKEN_FINDINGS: dict[str, str] = {
    BROKEN_EXEC_DISABLED: "enableExecuteCommand false",
    BROKEN_AGENT_STOPPED: "ExecuteCommandAgent STOPPED, with a reason",
    BROKEN_READONLY_ROOT: "readonlyRootFilesystem",
    BROKEN_PID_TASK: "pidMode task",
    BROKEN_NO_INIT: "initProcessEnabled false",
    BROKEN_ENV_CREDENTIALS: "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment",
    BROKEN_NO_SSMMESSAGES: "task role without ssmmessages permissions",
    BROKEN_INSTANCE_PROFILE: "no task role: EC2 falls back to the instance profile",
    BROKEN_NO_KMS_DECRYPT: "task role without kms:Decrypt on the cluster key",
    BROKEN_PRIVATE_SUBNET: "private subnet without NAT or ssmmessages endpoint",
    BROKEN_ENDPOINT_NO_DNS: "ssmmessages endpoint with private DNS off",
    BROKEN_ENDPOINT_SG: "ssmmessages endpoint security group refuses 443",
    BROKEN_FARGATE_130: "Fargate platform version 1.3.0",
    BROKEN_OLD_AGENT: "ECS agent 1.50.1",
    BROKEN_STARTED_BEFORE_EXEC: "service task started before exec was enabled",
    BROKEN_HEALTHY: "nothing: the reference task",
    BROKEN_KMS_DISABLED: "cluster KMS key disabled",
    BROKEN_LOG_GROUP_MISSING: "cluster exec log group missing",
    BROKEN_S3_BUCKET_MISSING: "cluster exec log bucket missing",
    BROKEN_S3_UNENCRYPTED: "cluster exec log bucket without default encryption",
}

# -- IAM --------------------------------------------------------------------------------------

SSMMESSAGES_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]
#: What the agent needs to write exec logs to CloudWatch (ECS Exec's documented list).
LOGGING_ACTIONS = [
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
]
#: What the agent needs to upload exec logs to S3 (with encryption required).
S3_LOGGING_ACTIONS = ["s3:PutObject", "s3:GetEncryptionConfiguration"]


def _allow(actions: list[str] | str, resources: list[str] | str = "*") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}],
    }


_CHANNELS = _policy_arn("EcsExecChannels")
_LOGGING = _policy_arn("EcsExecLogging")
_S3_LOGGING = _policy_arn("EcsExecS3Logging")
_OPERATOR = _policy_arn("EcsExecOperator")
_EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
_BROKEN_KEYS = [BROKEN_KMS_KEY_ARN, DISABLED_KMS_KEY_ARN]

_OPERATOR_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "EcsExec",
            "Effect": "Allow",
            "Action": [
                "ecs:Describe*",
                "ecs:List*",
                "ecs:ExecuteCommand",
                "ecs:RunTask",
                "ecs:StopTask",
                "ssm:ResumeSession",
                "ssm:TerminateSession",
                "kms:GenerateDataKey",
                "kms:Decrypt",
                "kms:DescribeKey",
            ],
            "Resource": "*",
        },
        {
            "Sid": "Doctor",
            "Effect": "Allow",
            "Action": [
                "sts:GetCallerIdentity",
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:GetPolicy",
                "iam:GetPolicyVersion",
                "iam:GetInstanceProfile",
                "iam:ListAttachedRolePolicies",
                "iam:ListRolePolicies",
                "iam:SimulatePrincipalPolicy",
                "ec2:Describe*",
                "logs:DescribeLogGroups",
                "s3:ListBucket",
                "s3:GetEncryptionConfiguration",
            ],
            "Resource": "*",
        },
        {
            # Exec sessions must go through ECS Exec (and its logging), never straight to SSM.
            "Sid": "NoDirectSessions",
            "Effect": "Deny",
            "Action": "ssm:StartSession",
            "Resource": f"arn:aws:ecs:*:{_ACCOUNT}:task/*",
        },
    ],
}


def _role(name: str, attached: list[str], inline: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"roleName": name, "attachedPolicies": attached, "inlinePolicies": inline or {}}


IAM: dict[str, Any] = {
    "users": [{"userName": "sandbox", "attachedPolicies": [_OPERATOR]}],
    "policies": [
        {"policyName": "EcsExecChannels", "document": _allow(SSMMESSAGES_ACTIONS)},
        {"policyName": "EcsExecLogging", "document": _allow(LOGGING_ACTIONS)},
        {
            "policyName": "EcsExecS3Logging",
            "document": _allow(
                S3_LOGGING_ACTIONS,
                ["arn:aws:s3:::ecs-exec-logs-*", "arn:aws:s3:::ecs-exec-logs-*/*"],
            ),
        },
        {"policyName": "EcsExecOperator", "document": _OPERATOR_DOCUMENT},
    ],
    "roles": [
        _role("demo-task", [_CHANNELS, _LOGGING]),
        _role(
            "secure-task",
            [_CHANNELS, _LOGGING, _S3_LOGGING],
            {"kms": _allow("kms:Decrypt", _kms_arn(_SECURE_KMS_KEY_ID))},
        ),
        _role(
            "broken-task",
            [_CHANNELS, _LOGGING, _S3_LOGGING],
            {"kms": _allow("kms:Decrypt", _BROKEN_KEYS)},
        ),
        _role(
            "broken-no-ssmmessages",
            [_LOGGING],
            {"kms": _allow("kms:Decrypt", _BROKEN_KEYS)},
        ),
        _role("broken-no-kms", [_CHANNELS, _LOGGING]),
        {
            **_role(
                "ecs-instance-role",
                [_CHANNELS, _LOGGING],
                {"kms": _allow("kms:Decrypt", _BROKEN_KEYS)},
            ),
            "assumeRolePolicyDocument": _EC2_TRUST,
        },
    ],
    "instanceProfiles": [{"instanceProfileName": "ecs-instance", "roles": ["ecs-instance-role"]}],
}

# -- VPC --------------------------------------------------------------------------------------


def _vpc(name: str, second_octet: int) -> dict[str, Any]:
    return {"vpcId": f"vpc-{name}", "cidrBlock": f"10.{second_octet}.0.0/16"}


def _subnet(vpc: str, name: str, cidr: str, public: bool = False) -> dict[str, Any]:
    return {
        "subnetId": f"subnet-{name}",
        "vpcId": f"vpc-{vpc}",
        "cidrBlock": cidr,
        "availabilityZone": f"{_REGION}a",
        "mapPublicIpOnLaunch": public,
    }


def _main_table(vpc: str) -> dict[str, Any]:
    return {"routeTableId": f"rtb-{vpc}-main", "vpcId": f"vpc-{vpc}", "main": True}


def _table(vpc: str, name: str, subnet: str, **target: str) -> dict[str, Any]:
    return {
        "routeTableId": f"rtb-{name}",
        "vpcId": f"vpc-{vpc}",
        "subnets": [f"subnet-{subnet}"],
        "routes": [{"destinationCidrBlock": "0.0.0.0/0", **target}],
    }


def _group(vpc: str, name: str, ingress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "groupId": f"sg-{name}",
        "groupName": name,
        "vpcId": f"vpc-{vpc}",
        "description": f"sandbox {name}",
        "ingress": ingress or [],
    }


def _endpoint(vpc: str, *, private_dns: bool) -> dict[str, Any]:
    return {
        "vpcEndpointId": f"vpce-{vpc}-ssmmessages",
        "vpcId": f"vpc-{vpc}",
        "serviceName": f"com.amazonaws.{_REGION}.ssmmessages",
        "vpcEndpointType": "Interface",
        "privateDnsEnabled": private_dns,
        "state": "available",
        "subnets": [f"subnet-{vpc}-private"],
        "securityGroups": [f"sg-{vpc}-endpoint"],
    }


def _https_from(**source: list[str]) -> dict[str, Any]:
    return {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, **source}


EC2: dict[str, Any] = {
    "vpcs": [
        _vpc("demo", 0),
        _vpc("secure", 1),
        _vpc("broken", 2),
        _vpc("nodns", 3),
        _vpc("badsg", 4),
    ],
    "subnets": [
        _subnet("demo", "demo-public", "10.0.0.0/20", public=True),
        _subnet("secure", "secure-private", "10.1.0.0/20"),
        _subnet("broken", "broken-public", "10.2.0.0/20", public=True),
        _subnet("broken", "broken-nat", "10.2.16.0/20"),
        _subnet("broken", "broken-private", "10.2.32.0/20"),  # the main table: local only
        _subnet("nodns", "nodns-private", "10.3.0.0/20"),
        _subnet("badsg", "badsg-private", "10.4.0.0/20"),
    ],
    "routeTables": [
        *(_main_table(v) for v in ("demo", "secure", "broken", "nodns", "badsg")),
        _table("demo", "demo-public", "demo-public", gatewayId="igw-demo"),
        _table("broken", "broken-public", "broken-public", gatewayId="igw-broken"),
        _table("broken", "broken-nat", "broken-nat", natGatewayId="nat-broken"),
    ],
    "vpcEndpoints": [
        _endpoint("secure", private_dns=True),
        _endpoint("nodns", private_dns=False),
        _endpoint("badsg", private_dns=True),
    ],
    "securityGroups": [
        _group("demo", "demo-tasks"),
        _group("secure", "secure-tasks"),
        _group("secure", "secure-endpoint", [_https_from(groups=["sg-secure-tasks"])]),
        _group("broken", "broken-tasks"),
        _group("nodns", "nodns-tasks"),
        _group("nodns", "nodns-endpoint", [_https_from(cidrIp=["10.3.0.0/16"])]),
        _group("badsg", "badsg-tasks"),
        # Only plain HTTP is let in: the agent's TLS connections to 443 are dropped.
        _group(
            "badsg",
            "badsg-endpoint",
            [{"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIp": ["10.4.0.0/16"]}],
        ),
    ],
    "instances": [
        {
            "instanceId": f"i-0{n}a1b2c3d4e5f6a7b8",
            "subnetId": "subnet-broken-public",
            "instanceType": "t3.medium",
            "iamInstanceProfile": "ecs-instance",
            "publicIp": f"203.0.113.{200 + n}",
            "privateIp": f"10.2.0.{200 + n}",
            "securityGroups": ["sg-broken-tasks"],
        }
        for n in (1, 2)
    ],
}

# -- logs, KMS, container instances -----------------------------------------------------------

LOG_GROUPS: list[dict[str, Any]] = [
    {"logGroupName": "/ecs/exec/demo", "retentionInDays": 30},
    {"logGroupName": "/ecs/exec/secure", "kmsKeyId": _kms_arn(_SECURE_KMS_KEY_ID)},
    {"logGroupName": "/ecs/exec/broken", "retentionInDays": 7},
]

KMS: dict[str, Any] = {
    "keys": [
        {
            "keyId": _SECURE_KMS_KEY_ID,
            "description": "ECS Exec, cluster secure",
            "aliases": ["alias/ecs-exec-secure"],
        },
        {
            "keyId": BROKEN_KMS_KEY_ID,
            "description": "ECS Exec, cluster broken",
            "aliases": ["alias/ecs-exec-broken"],
        },
        {
            "keyId": DISABLED_KMS_KEY_ID,
            "keyState": "Disabled",
            "description": "ECS Exec, cluster broken-kms",
            "aliases": ["alias/ecs-exec-disabled"],
        },
        {
            "keyId": RETIRED_KMS_KEY_ID,
            "keyState": "PendingDeletion",
            "deletionDate": 1717200000.0,
            "description": "retired",
            "aliases": ["alias/ecs-exec-retired"],
        },
    ]
}

S3: dict[str, Any] = {
    "buckets": [
        {"name": SECURE_LOG_BUCKET, "encryption": "AES256"},
        {"name": PLAIN_LOG_BUCKET, "encryption": None},
    ]
}

CONTAINER_INSTANCES: list[dict[str, Any]] = [
    {
        "containerInstanceId": OLD_AGENT_INSTANCE,
        "cluster": "broken",
        "ec2InstanceId": "i-01a1b2c3d4e5f6a7b8",
        "agentVersion": "1.50.1",
    },
    {
        "containerInstanceId": CURRENT_AGENT_INSTANCE,
        "cluster": "broken",
        "ec2InstanceId": "i-02a1b2c3d4e5f6a7b8",
        "agentVersion": "1.82.0",
    },
]

# -- the broken clusters ----------------------------------------------------------------------

_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
_INIT = {"initProcessEnabled": True}


def _app(**extra: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": _IMAGE,
        "essential": True,
        "environment": [{"name": "APP_ENV", "value": "broken"}],
        "workingDirectory": "/srv/app",
        "linuxParameters": dict(_INIT),
    }
    container.update(extra)
    return container


def _definition(family: str, role: str | None = "broken-task", **extra: Any) -> dict[str, Any]:
    container = extra.pop("container", _app())
    td: dict[str, Any] = {"family": family, "revision": 1, "containerDefinitions": [container]}
    if role is not None:
        td["taskRoleArn"] = _role_arn(role)
    td.update(extra)
    return td


_EC2_DEFINITION: dict[str, Any] = {"networkMode": "bridge", "requiresCompatibilities": ["EC2"]}

BROKEN_TASK_DEFINITIONS: list[dict[str, Any]] = [
    _definition("broken-app"),
    _definition("broken-readonly", container=_app(readonlyRootFilesystem=True)),
    _definition("broken-pid", pidMode="task"),
    _definition("broken-noinit", container=_app(linuxParameters={"initProcessEnabled": False})),
    _definition(
        "broken-envcreds",
        container=_app(
            environment=[
                {"name": "APP_ENV", "value": "broken"},
                # AWS's documented example keys: they authenticate nothing.
                {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
                {
                    "name": "AWS_SECRET_ACCESS_KEY",
                    "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                },
            ]
        ),
    ),
    _definition("broken-no-ssmmessages", role="broken-no-ssmmessages"),
    _definition("broken-no-kms", role="broken-no-kms"),
    _definition("broken-ec2-norole", role=None, **_EC2_DEFINITION),
    _definition("broken-ec2", **_EC2_DEFINITION),
]


def _net(subnet: str, group: str, public_ip: str | None = None) -> dict[str, Any]:
    network: dict[str, Any] = {"subnetId": f"subnet-{subnet}", "securityGroups": [f"sg-{group}"]}
    if public_ip is not None:
        network["publicIp"] = public_ip
    return network


_NAT = _net("broken-nat", "broken-tasks")


def _broken(task_id: str, family: str, n: int, **extra: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskId": task_id,
        "cluster": "broken",
        "taskDefinition": f"{family}:1",
        "group": f"family:{family}",
        "startedAt": _STARTED + 3600 + 60 * n,
        "network": _NAT,
    }
    task.update(extra)
    return task


_EC2_TASK = {"launchType": "EC2", "platformVersion": None, "network": None}

BROKEN_TASKS: list[dict[str, Any]] = [
    _broken(BROKEN_EXEC_DISABLED, "broken-app", 1, enableExecuteCommand=False),
    _broken(
        BROKEN_AGENT_STOPPED,
        "broken-app",
        2,
        containers=[
            {
                "name": "app",
                "agentStatus": "STOPPED",
                # Sandbox wording for an agent that could not start.
                "agentReason": "ExecuteCommandAgent exited: failed to start the SSM agent"
                " (exit status 1)",
            }
        ],
    ),
    _broken(BROKEN_READONLY_ROOT, "broken-readonly", 3, agentConnected=False),
    _broken(BROKEN_PID_TASK, "broken-pid", 4),
    _broken(BROKEN_NO_INIT, "broken-noinit", 5),
    _broken(BROKEN_ENV_CREDENTIALS, "broken-envcreds", 6, agentConnected=False),
    _broken(BROKEN_NO_SSMMESSAGES, "broken-no-ssmmessages", 7, agentConnected=False),
    _broken(
        BROKEN_INSTANCE_PROFILE,
        "broken-ec2-norole",
        8,
        containerInstance=CURRENT_AGENT_INSTANCE,
        **_EC2_TASK,
    ),
    _broken(BROKEN_NO_KMS_DECRYPT, "broken-no-kms", 9),
    *(
        _broken(task_id, "broken-app", n, network=_net(subnet, group), agentConnected=False)
        for task_id, n, subnet, group in (
            (BROKEN_PRIVATE_SUBNET, 10, "broken-private", "broken-tasks"),
            (BROKEN_ENDPOINT_NO_DNS, 11, "nodns-private", "nodns-tasks"),
            (BROKEN_ENDPOINT_SG, 12, "badsg-private", "badsg-tasks"),
        )
    ),
    _broken(BROKEN_FARGATE_130, "broken-app", 13, platformVersion="1.3.0"),
    _broken(BROKEN_OLD_AGENT, "broken-ec2", 14, containerInstance=OLD_AGENT_INSTANCE, **_EC2_TASK),
    _broken(
        BROKEN_STARTED_BEFORE_EXEC,
        "broken-app",
        15,
        group="service:late-exec",
        startedBy="ecs-svc/5234567890123456789",
        enableExecuteCommand=False,
    ),
    _broken(BROKEN_HEALTHY, "broken-app", 16),
    _broken(BROKEN_KMS_DISABLED, "broken-app", 17, cluster="broken-kms"),
    _broken(BROKEN_LOG_GROUP_MISSING, "broken-app", 18, cluster="broken-logs"),
    _broken(BROKEN_S3_BUCKET_MISSING, "broken-app", 19, cluster="broken-s3"),
    _broken(BROKEN_S3_UNENCRYPTED, "broken-app", 20, cluster="broken-s3-encryption"),
]


def _logging(group: str, encrypted: bool = False) -> dict[str, Any]:
    return {
        "logging": "OVERRIDE",
        "logConfiguration": {
            "cloudWatchLogGroupName": group,
            "cloudWatchEncryptionEnabled": encrypted,
        },
    }


def _s3_logging(bucket: str, encrypted: bool) -> dict[str, Any]:
    config = {"s3BucketName": bucket, "s3EncryptionEnabled": encrypted, "s3KeyPrefix": "exec"}
    return {"logging": "OVERRIDE", "logConfiguration": config}


BROKEN_CLUSTERS: list[dict[str, Any]] = [
    {
        "clusterName": "broken",
        "executeCommandConfiguration": {
            "kmsKeyId": BROKEN_KMS_KEY_ARN,
            **_logging("/ecs/exec/broken"),
        },
    },
    {
        "clusterName": "broken-kms",
        "executeCommandConfiguration": {"kmsKeyId": DISABLED_KMS_KEY_ARN},
    },
    {
        "clusterName": "broken-logs",
        "executeCommandConfiguration": _logging("/ecs/exec/broken-logs"),
    },
    {
        "clusterName": "broken-s3",
        "executeCommandConfiguration": _s3_logging(MISSING_LOG_BUCKET, encrypted=False),
    },
    {
        "clusterName": "broken-s3-encryption",
        "executeCommandConfiguration": _s3_logging(PLAIN_LOG_BUCKET, encrypted=True),
    },
]

BROKEN_SERVICES: list[dict[str, Any]] = [
    {
        "serviceName": "late-exec",
        "cluster": "broken",
        "taskDefinition": "broken-app:1",
        "enableExecuteCommand": True,
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-broken-nat"],
                "securityGroups": ["sg-broken-tasks"],
                "assignPublicIp": "DISABLED",
            }
        },
    }
]

# -- composing --------------------------------------------------------------------------------

#: cluster -> (task role, VPC, subnet, security group, public IPs?, exec logging)
_HEALTHY: dict[str, tuple[str, str, str, str, bool, dict[str, Any]]] = {
    "demo": ("demo-task", "demo", "demo-public", "demo-tasks", True, _logging("/ecs/exec/demo")),
    "secure": (
        "secure-task",
        "secure",
        "secure-private",
        "secure-tasks",
        False,
        {
            "logging": "OVERRIDE",
            "logConfiguration": {
                **_logging("/ecs/exec/secure", encrypted=True)["logConfiguration"],
                **_s3_logging(SECURE_LOG_BUCKET, encrypted=True)["logConfiguration"],
            },
        },
    ),
    "staging": ("demo-task", "demo", "demo-public", "demo-tasks", True, {}),
}


def _adopt(ec2: dict[str, Any], data: dict[str, Any], vpc: str, config: dict[str, Any]) -> None:
    """Make the subnets and groups of a service's own network configuration real, with a path
    to ssmmessages: an internet gateway when the service assigns public IPs, else a NAT
    gateway. Their VPC is the one the state's top-level ``subnets``/``securityGroups`` give
    them (as RunTask's checks read them), else the cluster's."""
    described = {str(s.get("subnetId")): s for s in data.get("subnets", [])}
    groups = {str(g.get("groupId")): g for g in data.get("securityGroups", [])}
    public = config.get("assignPublicIp") == "ENABLED"
    for subnet_id in config.get("subnets", []):
        if any(s["subnetId"] == subnet_id for s in ec2["subnets"]):
            continue
        vpc_id = str(described.get(subnet_id, {}).get("vpcId") or f"vpc-{vpc}")
        if not any(v["vpcId"] == vpc_id for v in ec2["vpcs"]):
            ec2["vpcs"].append({"vpcId": vpc_id, "cidrBlock": f"10.{len(ec2['vpcs'])}.0.0/16"})
            ec2["routeTables"].append(
                {"routeTableId": f"rtb-{vpc_id}-main", "vpcId": vpc_id, "main": True}
            )
        block = next(v["cidrBlock"] for v in ec2["vpcs"] if v["vpcId"] == vpc_id)
        taken = sum(s["vpcId"] == vpc_id for s in ec2["subnets"])
        prefix = block.split(".0.0/")[0]
        target = {"gatewayId": f"igw-{vpc_id}"} if public else {"natGatewayId": f"nat-{vpc_id}"}
        ec2["subnets"].append(
            {
                "subnetId": subnet_id,
                "vpcId": vpc_id,
                "cidrBlock": f"{prefix}.{128 + 16 * taken}.0/20",
                "availabilityZone": f"{_REGION}a",
                "mapPublicIpOnLaunch": public,
            }
        )
        ec2["routeTables"].append(
            {
                "routeTableId": f"rtb-{subnet_id}",
                "vpcId": vpc_id,
                "subnets": [subnet_id],
                "routes": [{"destinationCidrBlock": "0.0.0.0/0", **target}],
            }
        )
    for group_id in config.get("securityGroups", []):
        if not any(g["groupId"] == group_id for g in ec2["securityGroups"]):
            vpc_id = str(groups.get(group_id, {}).get("vpcId") or f"vpc-{vpc}")
            ec2["securityGroups"].append(
                {"groupId": group_id, "groupName": group_id, "vpcId": vpc_id, "ingress": []}
            )


def with_doctor_world(data: dict[str, Any]) -> dict[str, Any]:
    """The demo state ``data`` (not changed) plus everything this module describes.

    A service that already has a ``networkConfiguration`` keeps it: its subnets and groups
    join the EC2 world (see ``_adopt``) and its tasks sit in its first subnet.
    """
    out = copy.deepcopy(data)
    ec2 = copy.deepcopy(EC2)
    families: dict[str, str] = {}
    placement: dict[tuple[str, str], tuple[str, list[str], bool]] = {}
    for cluster in out["clusters"]:
        if cluster["clusterName"] in _HEALTHY:
            logging = _HEALTHY[cluster["clusterName"]][5]
            cluster.setdefault("executeCommandConfiguration", {}).update(copy.deepcopy(logging))
    for service in out["services"]:
        settings = _HEALTHY.get(service["cluster"])
        if settings is None:
            continue
        families[service["taskDefinition"].split(":")[0]] = service["cluster"]
        config = service.setdefault(
            "networkConfiguration",
            {
                "awsvpcConfiguration": {
                    "subnets": [f"subnet-{settings[2]}"],
                    "securityGroups": [f"sg-{settings[3]}"],
                    "assignPublicIp": "ENABLED" if settings[4] else "DISABLED",
                }
            },
        )["awsvpcConfiguration"]
        _adopt(ec2, out, settings[1], config)
        placement[(service["cluster"], f"service:{service['serviceName']}")] = (
            config["subnets"][0],
            list(config.get("securityGroups", [])),
            config.get("assignPublicIp") == "ENABLED",
        )
    for td in out["taskDefinitions"]:
        cluster = families.get(td["family"])
        if cluster is not None:
            td["taskRoleArn"] = _role_arn(_HEALTHY[cluster][0])
        for container in td["containerDefinitions"]:
            container.setdefault("linuxParameters", dict(_INIT))
    for n, task in enumerate(out["tasks"]):
        settings = _HEALTHY.get(task["cluster"])
        if settings is None or "network" in task:
            continue
        default = (f"subnet-{settings[2]}", [f"sg-{settings[3]}"], settings[4])
        subnet, groups, public = placement.get((task["cluster"], task.get("group", "")), default)
        task["network"] = {"subnetId": subnet, "securityGroups": groups}
        if public:
            task["network"]["publicIp"] = f"203.0.113.{10 + n}"
    out["clusters"].extend(copy.deepcopy(BROKEN_CLUSTERS))
    out["taskDefinitions"].extend(copy.deepcopy(BROKEN_TASK_DEFINITIONS))
    out["services"].extend(copy.deepcopy(BROKEN_SERVICES))
    out["tasks"].extend(
        {k: v for k, v in copy.deepcopy(t).items() if v is not None or k == "platformVersion"}
        for t in BROKEN_TASKS
    )
    out["iam"] = copy.deepcopy(IAM)
    out["ec2"] = ec2
    out["logGroups"] = copy.deepcopy(LOG_GROUPS)
    out["kms"] = copy.deepcopy(KMS)
    out["containerInstances"] = copy.deepcopy(CONTAINER_INSTANCES)
    out["s3"] = copy.deepcopy(S3)
    return out
