"""The parts of the sandbox world that ``ecs-exec doctor`` inspects: IAM, VPC, logs, KMS key
states, container instances, and the task-definition/task/service/cluster settings ECS Exec
depends on. No I/O; ``SandboxState.world`` holds one :class:`World`.

State-file schema (every key optional; absent parts make an empty world; prose in
docs/sandbox-world.md#3-state-file-schema). Top level::

    "iam": {
      "users": [{"userName": "sandbox",                      # the caller is the user named
                 "attachedPolicies": ["<managed policy ARN>"], #   by the top-level "userName";
                 "inlinePolicies": {"<name>": <policy document>}}],
      "roles": [{"roleName": "web-task", "path": "/",
                 "attachedPolicies": ["<managed policy ARN>"],
                 "inlinePolicies": {"<name>": <policy document>},
                 "assumeRolePolicyDocument": <document>}],   # default: ecs-tasks may assume it
      "policies": [{"policyName": "EcsExecTask", "path": "/", "document": <policy document>,
                    "arn": "arn:aws:iam::aws:policy/..."}],  # arn only for AWS-managed ones
      "instanceProfiles": [{"instanceProfileName": "ecs-instance", "path": "/",
                            "roles": ["ecs-instance-role"]}]}
    "ec2": {
      "vpcs": [{"vpcId": "vpc-1", "cidrBlock": "10.0.0.0/16"}],
      "subnets": [{"subnetId": "subnet-1", "vpcId": "vpc-1", "cidrBlock": "10.0.1.0/24",
                   "availabilityZone": "us-east-1a", "mapPublicIpOnLaunch": false}],
      "routeTables": [{"routeTableId": "rtb-1", "vpcId": "vpc-1", "main": false,
                       "subnets": ["subnet-1"],                 # explicit associations
                       "routes": [{"destinationCidrBlock": "0.0.0.0/0",
                                   "gatewayId": "igw-1"}]}],    # or "natGatewayId": "nat-1";
                                                                # the VPC's local route is added
      "vpcEndpoints": [{"vpcEndpointId": "vpce-1", "vpcId": "vpc-1",
                        "serviceName": "com.amazonaws.us-east-1.ssmmessages",
                        "vpcEndpointType": "Interface", "privateDnsEnabled": true,
                        "state": "available", "subnets": ["subnet-1"],
                        "securityGroups": ["sg-1"]}],
      "securityGroups": [{"groupId": "sg-1", "groupName": "tasks", "vpcId": "vpc-1",
                          "description": "...",
                          "ingress": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                                       "cidrIp": ["10.0.0.0/16"], "groups": ["sg-2"]}],
                          "egress": [...]}],                  # default: all traffic out
      "instances": [{"instanceId": "i-1", "subnetId": "subnet-1", "instanceType": "t3.small",
                     "iamInstanceProfile": "ecs-instance",      # a profile name
                     "publicIp": "54.0.0.1", "securityGroups": ["sg-1"]}]}
    "logGroups": [{"logGroupName": "/ecs/exec", "kmsKeyId": "<key ARN>",
                   "retentionInDays": 30}]
    "kms": {"keys": [{"keyId": "<uuid>", "keyState": "Enabled",  # | Disabled | PendingDeletion
                      "description": "...", "aliases": ["alias/ecs-exec"],
                      "deletionDate": 1717200000.0}]}   # each key is also usable by
                                                        # GenerateDataKey like "kmsKeys"
    "containerInstances": [{"containerInstanceId": "<32 hex>", "cluster": "broken",
                            "ec2InstanceId": "i-1", "agentVersion": "1.50.1",
                            "agentConnected": true, "status": "ACTIVE"}]
    "s3": {"buckets": [{"name": "ecs-exec-logs", "region": "us-east-1",  # default: the
                        "encryption": "AES256",          # state's region; "aws:kms" (with
                        "kmsKeyId": "<key ARN>"}]}       # "kmsKeyId") or null: no default
                                                         # encryption

Inside the existing ECS entries::

    clusters[].executeCommandConfiguration: {"kmsKeyId": ..., "logging": "OVERRIDE",
        "logConfiguration": {"cloudWatchLogGroupName": "/ecs/exec",
                             "cloudWatchEncryptionEnabled": true, "s3BucketName": "...",
                             "s3EncryptionEnabled": true, "s3KeyPrefix": "exec/"}}
    taskDefinitions[]: "taskRoleArn", "executionRoleArn", "pidMode" ("task" | "host")
    taskDefinitions[].containerDefinitions[]: "readonlyRootFilesystem",
        "linuxParameters": {"initProcessEnabled": true}, "logConfiguration" (as in ECS)
    services[]: "networkConfiguration": {"awsvpcConfiguration": {"subnets": [...],
        "securityGroups": [...], "assignPublicIp": "ENABLED"}}
    tasks[]: "network": {"subnetId": "subnet-1", "securityGroups": ["sg-1"],
                         "publicIp": "54.0.0.2"},      # its ENI is derived from the task id
             "containerInstance": "<containerInstanceId>",  # EC2 tasks
             "agentConnected": false    # sandbox-only: the exec agent cannot reach
                                        # ssmmessages, so ExecuteCommand answers
                                        # TargetNotConnectedException

The caller is the IAM user named by the top-level ``userName``; one that has no ``iam.users``
entry holds AWS's ``AdministratorAccess``, so worlds written before IAM existed keep working.
With a top-level ``"callerRole": "<role name>"`` the caller is instead a session of that role
(``arn:aws:sts::<account>:assumed-role/<role>/<userName>``, as SSO and assume-role callers
are) and holds the role's policies. The sandbox enforces
the caller's policies only on the look-ups served for doctor (STS/IAM/EC2/Logs/S3, KMS
DescribeKey, ECS DescribeContainerInstances): denied calls answer that service's access-denied
error.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
#: The trust policy a role gets when the state file gives none: ECS tasks may assume it.
ECS_TASKS_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
_CREATED = 1714550000.0  # 2024-05-01T07:53:20Z, before every demo task started
_KEY_STATES = ("Enabled", "Disabled", "PendingDeletion")
_LOGGING = ("NONE", "DEFAULT", "OVERRIDE")
_LOG_CONFIG_KEYS = {
    "cloudWatchLogGroupName": str,
    "cloudWatchEncryptionEnabled": bool,
    "s3BucketName": str,
    "s3EncryptionEnabled": bool,
    "s3KeyPrefix": str,
}
_PID_MODES = ("task", "host")
_SSE_ALGORITHMS = (None, "AES256", "aws:kms", "aws:kms:dsse")


def derived_id(prefix: str, *parts: str, length: int = 17) -> str:
    """A stable id (``AROA...``, ``eni-...``) derived from the names, so reloads agree."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    if prefix.isupper():  # IAM unique ids are upper-case base32-looking strings
        return prefix + digest.upper()[:length]
    return prefix + digest[:length]


def mac_address(eni_id: str) -> str:
    """The MAC of an ENI, derived from its id."""
    digits = eni_id.removeprefix("eni-")
    return "0a:" + ":".join(digits[i : i + 2] for i in range(0, 10, 2))


@dataclass
class User:
    name: str
    arn: str
    user_id: str
    attached_policies: list[str] = field(default_factory=list)
    inline_policies: dict[str, Any] = field(default_factory=dict)


@dataclass
class Role:
    name: str
    arn: str
    role_id: str
    path: str = "/"
    attached_policies: list[str] = field(default_factory=list)
    inline_policies: dict[str, Any] = field(default_factory=dict)
    trust_policy: dict[str, Any] = field(default_factory=lambda: dict(ECS_TASKS_TRUST))


@dataclass
class ManagedPolicy:
    name: str
    arn: str
    policy_id: str
    document: dict[str, Any]
    path: str = "/"


@dataclass
class InstanceProfile:
    name: str
    arn: str
    profile_id: str
    roles: list[str]  # role names
    path: str = "/"


@dataclass
class KmsKey:
    arn: str
    key_id: str
    state: str = "Enabled"
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    deletion_date: float | None = None


@dataclass
class LogGroup:
    name: str
    kms_key_id: str | None = None
    retention_in_days: int | None = None
    creation_time_ms: int = int(_CREATED * 1000)


@dataclass
class Bucket:
    """An S3 bucket; ``encryption`` is its default SSEAlgorithm, None for none."""

    name: str
    region: str
    encryption: str | None = None
    kms_key_id: str | None = None


@dataclass
class ContainerInstance:
    instance_id: str
    cluster: str
    arn: str
    ec2_instance_id: str
    agent_version: str = "1.82.0"
    agent_connected: bool = True
    status: str = "ACTIVE"
    docker_version: str = "DockerVersion: 20.10.25"


@dataclass
class TaskNetwork:
    """The awsvpc ENI of a task."""

    eni_id: str
    subnet_id: str
    security_groups: list[str]
    public_ip: str | None = None


@dataclass
class Ec2World:
    """VPC resources as state-file dicts (the renderers in ``ec2api`` read them)."""

    vpcs: list[dict[str, Any]] = field(default_factory=list)
    subnets: list[dict[str, Any]] = field(default_factory=list)
    route_tables: list[dict[str, Any]] = field(default_factory=list)
    vpc_endpoints: list[dict[str, Any]] = field(default_factory=list)
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    instances: list[dict[str, Any]] = field(default_factory=list)

    def subnet(self, subnet_id: str) -> dict[str, Any] | None:
        return next((s for s in self.subnets if s["subnetId"] == subnet_id), None)


@dataclass
class World:
    """Everything doctor looks at besides the ECS core that ``SandboxState`` holds."""

    users: dict[str, User] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    policies: dict[str, ManagedPolicy] = field(default_factory=dict)  # by ARN
    instance_profiles: dict[str, InstanceProfile] = field(default_factory=dict)
    ec2: Ec2World = field(default_factory=Ec2World)
    log_groups: list[LogGroup] = field(default_factory=list)
    kms_keys: dict[str, KmsKey] = field(default_factory=dict)  # by ARN
    container_instances: list[ContainerInstance] = field(default_factory=list)
    buckets: dict[str, Bucket] = field(default_factory=dict)  # by name
    # Settings of ECS resources the core state does not model, keyed by the resource's name.
    cluster_exec_logging: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_definition_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # family:rev
    container_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # family:rev/name
    service_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # cluster/name
    task_networks: dict[str, TaskNetwork] = field(default_factory=dict)  # task id
    task_container_instance: dict[str, str] = field(default_factory=dict)  # task id -> ARN
    #: Tasks whose agent never reaches ssmmessages: ExecuteCommand answers
    #: TargetNotConnectedException for them, as ECS does.
    unreachable_agents: set[str] = field(default_factory=set)
    #: The role the caller assumed (its session is named after ``userName``), or None for
    #: the IAM user ``userName``.
    caller_role: str | None = None

    # -- look-ups -----------------------------------------------------------------------------

    def user(self, name: str) -> User | None:
        return self.users.get(name)

    def role_by_arn(self, arn: str) -> Role | None:
        return next((r for r in self.roles.values() if r.arn == arn), None)

    def kms_key(self, ref: str) -> KmsKey | None:
        """By ARN, key id, alias name or alias ARN."""
        for key in self.kms_keys.values():
            if ref in (key.arn, key.key_id) or ref in key.aliases:
                return key
            if any(ref.endswith(":" + alias) for alias in key.aliases):
                return key
        return None

    def container_instance(self, ref: str) -> ContainerInstance | None:
        return next((c for c in self.container_instances if ref in (c.arn, c.instance_id)), None)

    # -- rendering hooks the ECS API calls ------------------------------------------------------

    def cluster_fields(self, cluster: str, include: list[str]) -> dict[str, Any]:
        """Extra ``executeCommandConfiguration`` members of a cluster (logging settings)."""
        return (
            dict(self.cluster_exec_logging.get(cluster, {})) if "CONFIGURATIONS" in include else {}
        )

    def registered_instances(self, cluster: str) -> int:
        return sum(c.cluster == cluster and c.status == "ACTIVE" for c in self.container_instances)

    def decorate_task(self, task: dict[str, Any], task_id: str) -> None:
        """Add what DescribeTasks shows of the task's network and container instance.

        An awsvpc task gets its ENI attachment, and its containers the ENI's address; an EC2
        task in bridge mode has a ``containerInstanceArn`` and no per-container interfaces.
        """
        network = self.task_networks.get(task_id)
        instance = self.task_container_instance.get(task_id)
        if instance is not None:
            task["containerInstanceArn"] = instance
        if network is None:
            if instance is not None:
                for container in task.get("containers", []):
                    container["networkInterfaces"] = []
            return
        address = self.private_ip(task_id)
        details = [
            {"name": "subnetId", "value": network.subnet_id},
            {"name": "networkInterfaceId", "value": network.eni_id},
            {"name": "macAddress", "value": mac_address(network.eni_id)},
            {"name": "privateIPv4Address", "value": address},
        ]
        attachment_id = derived_id("", "attachment", task_id, length=8)
        task["attachments"] = [
            {
                "id": f"{attachment_id}-0000-4000-8000-{task_id[:12]}",
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": details,
            }
        ]
        for container in task.get("containers", []):
            for interface in container.get("networkInterfaces", []):
                interface["privateIpv4Address"] = address

    def private_ip(self, task_id: str) -> str:
        """The task's address inside its subnet (derived from the task id)."""
        network = self.task_networks[task_id]
        subnet = self.ec2.subnet(network.subnet_id) or {}
        block = ipaddress.ip_network(str(subnet.get("cidrBlock", "10.0.0.0/24")))
        # AWS keeps the first four addresses and the last one of every subnet.
        room = max(block.num_addresses - 5, 1)
        offset = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) % room
        return str(block.network_address + 4 + offset)


# -- loading ----------------------------------------------------------------------------------


def _arn(account: str, region: str, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _iam_arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def _document(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict) or "Statement" not in value:
        raise ValueError(f"{what}: a policy document needs a Statement")
    return dict(value)


def _path(item: Mapping[str, Any]) -> str:
    path = str(item.get("path", "/"))
    if not (path.startswith("/") and path.endswith("/")):
        raise ValueError(f"IAM path {path!r} must begin and end with /")
    return path


def _load_iam(world: World, data: Mapping[str, Any], account: str, caller: str) -> None:
    administrator = ManagedPolicy(
        name="AdministratorAccess",
        arn=ADMINISTRATOR_ACCESS,
        policy_id="ANPAIWMBCKSKIEE64ZLYK",  # AWS's own id for this policy
        document={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        },
    )
    world.policies[administrator.arn] = administrator
    for item in data.get("policies", []):
        name, path = str(item["policyName"]), _path(item)
        arn = str(item.get("arn") or _iam_arn(account, "policy", path, name))
        world.policies[arn] = ManagedPolicy(
            name=name,
            arn=arn,
            path=path,
            policy_id=derived_id("ANPA", arn),
            document=_document(item["document"], f"policy {name}"),
        )

    def attached(item: Mapping[str, Any], owner: str) -> list[str]:
        arns = [str(a) for a in item.get("attachedPolicies", [])]
        unknown = [a for a in arns if a not in world.policies]
        if unknown:
            raise ValueError(f"{owner}: unknown managed policies {unknown}")
        return arns

    def inline(item: Mapping[str, Any], owner: str) -> dict[str, Any]:
        policies = item.get("inlinePolicies", {})
        return {str(k): _document(v, f"{owner} {k}") for k, v in policies.items()}

    for item in data.get("users", []):
        name = str(item["userName"])
        arn = _iam_arn(account, "user", _path(item), name)
        world.users[name] = User(
            name=name,
            arn=arn,
            user_id=derived_id("AIDA", arn),
            attached_policies=attached(item, f"user {name}"),
            inline_policies=inline(item, f"user {name}"),
        )
    if caller not in world.users:
        arn = _iam_arn(account, "user", "/", caller)
        world.users[caller] = User(
            caller, arn, derived_id("AIDA", arn), attached_policies=[ADMINISTRATOR_ACCESS]
        )
    for item in data.get("roles", []):
        name, path = str(item["roleName"]), _path(item)
        arn = _iam_arn(account, "role", path, name)
        trust = item.get("assumeRolePolicyDocument")
        world.roles[name] = Role(
            name=name,
            arn=arn,
            role_id=derived_id("AROA", arn),
            path=path,
            attached_policies=attached(item, f"role {name}"),
            inline_policies=inline(item, f"role {name}"),
            trust_policy=dict(ECS_TASKS_TRUST) if trust is None else _document(trust, name),
        )
    for item in data.get("instanceProfiles", []):
        name, path = str(item["instanceProfileName"]), _path(item)
        roles = [str(r) for r in item.get("roles", [])]
        missing = [r for r in roles if r not in world.roles]
        if missing:
            raise ValueError(f"instance profile {name}: unknown roles {missing}")
        arn = _iam_arn(account, "instance-profile", path, name)
        world.instance_profiles[name] = InstanceProfile(
            name=name, arn=arn, profile_id=derived_id("AIPA", arn), roles=roles, path=path
        )


def _dicts(data: Mapping[str, Any], key: str, id_key: str) -> list[dict[str, Any]]:
    items = [dict(item) for item in data.get(key, [])]
    for item in items:
        if not str(item.get(id_key, "")):
            raise ValueError(f"ec2.{key}: every entry needs {id_key}")
    return items


def _load_ec2(world: World, data: Mapping[str, Any]) -> None:
    ec2 = world.ec2
    ec2.vpcs = _dicts(data, "vpcs", "vpcId")
    ec2.subnets = _dicts(data, "subnets", "subnetId")
    ec2.route_tables = _dicts(data, "routeTables", "routeTableId")
    ec2.vpc_endpoints = _dicts(data, "vpcEndpoints", "vpcEndpointId")
    ec2.security_groups = _dicts(data, "securityGroups", "groupId")
    ec2.instances = _dicts(data, "instances", "instanceId")
    vpcs = {v["vpcId"] for v in ec2.vpcs}
    for kind in (ec2.subnets, ec2.route_tables, ec2.vpc_endpoints, ec2.security_groups):
        for item in kind:
            if item.get("vpcId") not in vpcs:
                raise ValueError(f"{item} names an unknown vpcId")
    for instance in ec2.instances:
        profile = instance.get("iamInstanceProfile")
        if profile is not None and profile not in world.instance_profiles:
            raise ValueError(f"instance {instance['instanceId']}: unknown profile {profile!r}")


def _load_ecs_fields(world: World, data: Mapping[str, Any], account: str, region: str) -> None:
    for item in data.get("clusters", []):
        config = dict(item.get("executeCommandConfiguration") or {})
        config.pop("kmsKeyId", None)  # the core state keeps the key
        logging = config.get("logging", "DEFAULT")
        if logging not in _LOGGING:
            raise ValueError(
                f"cluster {item['clusterName']}: logging {logging!r} not in {_LOGGING}"
            )
        for key, value in (config.get("logConfiguration") or {}).items():
            if not isinstance(value, _LOG_CONFIG_KEYS.get(key, type(None))):
                raise ValueError(f"cluster {item['clusterName']}: bad logConfiguration.{key}")
        if set(config) - {"logging", "logConfiguration"}:
            raise ValueError(f"cluster {item['clusterName']}: unknown exec configuration keys")
        if config:
            world.cluster_exec_logging[str(item["clusterName"])] = config
    for td in data.get("taskDefinitions", []):
        ref = f"{td['family']}:{int(td.get('revision', 1))}"
        fields = {k: td[k] for k in ("taskRoleArn", "executionRoleArn", "pidMode") if k in td}
        if fields.get("pidMode", "task") not in _PID_MODES:
            raise ValueError(f"task definition {ref}: pidMode must be one of {_PID_MODES}")
        if fields:
            world.task_definition_fields[ref] = fields
        for container in td.get("containerDefinitions", []):
            extra = {
                k: container[k]
                for k in ("readonlyRootFilesystem", "linuxParameters", "logConfiguration")
                if k in container
            }
            if extra:
                world.container_fields[f"{ref}/{container['name']}"] = extra
    for service in data.get("services", []):
        if "networkConfiguration" in service:
            key = f"{service['cluster']}/{service['serviceName']}"
            world.service_fields[key] = {"networkConfiguration": service["networkConfiguration"]}
    for item in data.get("containerInstances", []):
        instance_id, cluster = str(item["containerInstanceId"]), str(item["cluster"])
        world.container_instances.append(
            ContainerInstance(
                instance_id=instance_id,
                cluster=cluster,
                arn=_arn(account, region, "ecs", f"container-instance/{cluster}/{instance_id}"),
                ec2_instance_id=str(item["ec2InstanceId"]),
                agent_version=str(item.get("agentVersion", "1.82.0")),
                agent_connected=bool(item.get("agentConnected", True)),
                status=str(item.get("status", "ACTIVE")),
            )
        )
    for task in data.get("tasks", []):
        task_id = str(task["taskId"])
        network = task.get("network")
        if network is not None:
            if world.ec2.subnet(str(network["subnetId"])) is None:
                raise ValueError(f"task {task_id}: unknown subnet {network['subnetId']!r}")
            world.task_networks[task_id] = TaskNetwork(
                eni_id=derived_id("eni-", "eni", task_id),
                subnet_id=str(network["subnetId"]),
                security_groups=[str(g) for g in network.get("securityGroups", [])],
                public_ip=network.get("publicIp"),
            )
        if "containerInstance" in task:
            instance = world.container_instance(str(task["containerInstance"]))
            if instance is None:
                raise ValueError(f"task {task_id}: unknown container instance")
            world.task_container_instance[task_id] = instance.arn
        if task.get("agentConnected") is False:
            world.unreachable_agents.add(task_id)


def load_world(
    data: Mapping[str, Any], account: str, region: str, caller: str
) -> tuple[World, list[str]]:
    """The world of a state file, and the KMS key ARNs it adds to ``kmsKeys``.

    Raises:
        ValueError, KeyError, TypeError: an inconsistent world (the caller wraps them).
    """
    world = World()
    _load_iam(world, data.get("iam") or {}, account, caller)
    if data.get("callerRole") is not None:
        world.caller_role = str(data["callerRole"])
        if world.caller_role not in world.roles:
            raise ValueError(f"callerRole {world.caller_role!r} is not a role of iam.roles")
    _load_ec2(world, data.get("ec2") or {})
    for item in data.get("logGroups", []):
        retention = item.get("retentionInDays")
        world.log_groups.append(
            LogGroup(
                name=str(item["logGroupName"]),
                kms_key_id=item.get("kmsKeyId"),
                retention_in_days=None if retention is None else int(retention),
            )
        )
    for item in (data.get("kms") or {}).get("keys", []):
        key_id = str(item["keyId"])
        state = str(item.get("keyState", "Enabled"))
        if state not in _KEY_STATES:
            raise ValueError(f"KMS key {key_id}: keyState must be one of {_KEY_STATES}")
        deletion = item.get("deletionDate")
        arn = _arn(account, region, "kms", f"key/{key_id}")
        world.kms_keys[arn] = KmsKey(
            arn=arn,
            key_id=key_id,
            state=state,
            description=str(item.get("description", "")),
            aliases=[str(a) for a in item.get("aliases", [])],
            deletion_date=None if deletion is None else float(deletion),
        )
    for item in (data.get("s3") or {}).get("buckets", []):
        bucket = Bucket(
            name=str(item["name"]),
            region=str(item.get("region") or region),
            encryption=item.get("encryption"),
            kms_key_id=item.get("kmsKeyId"),
        )
        if bucket.encryption not in _SSE_ALGORITHMS:
            raise ValueError(f"bucket {bucket.name}: encryption must be one of {_SSE_ALGORITHMS}")
        world.buckets[bucket.name] = bucket
    _load_ecs_fields(world, data, account, region)
    return world, list(world.kms_keys)


def dump_world(world: World, out: dict[str, Any]) -> None:
    """Write the world into ``out``, a state dict the core ``_dump`` made (same layout)."""
    defaults = {ADMINISTRATOR_ACCESS}
    iam: dict[str, Any] = {
        "users": [
            {
                "userName": u.name,
                "attachedPolicies": u.attached_policies,
                "inlinePolicies": u.inline_policies,
            }
            for u in world.users.values()
        ],
        "roles": [
            {
                "roleName": r.name,
                "path": r.path,
                "attachedPolicies": r.attached_policies,
                "inlinePolicies": r.inline_policies,
                "assumeRolePolicyDocument": r.trust_policy,
            }
            for r in world.roles.values()
        ],
        "policies": [
            {"policyName": p.name, "path": p.path, "document": p.document, "arn": p.arn}
            for p in world.policies.values()
            if p.arn not in defaults
        ],
        "instanceProfiles": [
            {"instanceProfileName": p.name, "path": p.path, "roles": p.roles}
            for p in world.instance_profiles.values()
        ],
    }
    ec2 = world.ec2
    out["iam"] = json.loads(json.dumps(iam))
    if world.caller_role is not None:
        out["callerRole"] = world.caller_role
    out["ec2"] = json.loads(
        json.dumps(
            {
                "vpcs": ec2.vpcs,
                "subnets": ec2.subnets,
                "routeTables": ec2.route_tables,
                "vpcEndpoints": ec2.vpc_endpoints,
                "securityGroups": ec2.security_groups,
                "instances": ec2.instances,
            }
        )
    )
    out["logGroups"] = [
        {
            k: v
            for k, v in (
                ("logGroupName", g.name),
                ("kmsKeyId", g.kms_key_id),
                ("retentionInDays", g.retention_in_days),
            )
            if v is not None
        }
        for g in world.log_groups
    ]
    out["kms"] = {
        "keys": [
            {
                "keyId": k.key_id,
                "keyState": k.state,
                "description": k.description,
                "aliases": k.aliases,
                **({} if k.deletion_date is None else {"deletionDate": k.deletion_date}),
            }
            for k in world.kms_keys.values()
        ]
    }
    out["containerInstances"] = [
        {
            "containerInstanceId": c.instance_id,
            "cluster": c.cluster,
            "ec2InstanceId": c.ec2_instance_id,
            "agentVersion": c.agent_version,
            "agentConnected": c.agent_connected,
            "status": c.status,
        }
        for c in world.container_instances
    ]
    out["s3"] = {
        "buckets": [
            {
                "name": b.name,
                "region": b.region,
                "encryption": b.encryption,
                **({} if b.kms_key_id is None else {"kmsKeyId": b.kms_key_id}),
            }
            for b in world.buckets.values()
        ]
    }
    for cluster in out.get("clusters", []):
        cluster["executeCommandConfiguration"].update(
            world.cluster_exec_logging.get(cluster["clusterName"], {})
        )
    for td in out.get("taskDefinitions", []):
        ref = f"{td['family']}:{td['revision']}"
        td.update(world.task_definition_fields.get(ref, {}))
        for container in td["containerDefinitions"]:
            container.update(world.container_fields.get(f"{ref}/{container['name']}", {}))
    for service in out.get("services", []):
        service.update(
            world.service_fields.get(f"{service['cluster']}/{service['serviceName']}", {})
        )
    by_arn = {c.arn: c.instance_id for c in world.container_instances}
    for task in out.get("tasks", []):
        network = world.task_networks.get(task["taskId"])
        if network is not None:
            task["network"] = {
                "subnetId": network.subnet_id,
                "securityGroups": network.security_groups,
                **({} if network.public_ip is None else {"publicIp": network.public_ip}),
            }
        instance = world.task_container_instance.get(task["taskId"])
        if instance is not None:
            task["containerInstance"] = by_arn[instance]
        if task["taskId"] in world.unreachable_agents:
            task["agentConnected"] = False
