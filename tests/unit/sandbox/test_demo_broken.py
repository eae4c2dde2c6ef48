"""The demo world's doctor scenarios: each broken task fails exactly one check, the healthy tasks
none. The checks here are a small independent reading of the world (not doctor's code), so a
change to the demo that adds a second finding to a task, or breaks a healthy one, fails."""

from __future__ import annotations

import ipaddress

import pytest

from ecs_exec.sandbox import demo, demo_broken as broken
from ecs_exec.sandbox.iampolicy import evaluate
from ecs_exec.sandbox.principals import policies_of
from ecs_exec.sandbox.state import SandboxState, Task

STATE = demo.demo_state()
HEALTHY = (
    demo.WEB_READY_1,
    demo.WEB_READY_2,
    demo.WORKER_READY,
    demo.SECURE_API_READY,
    broken.BROKEN_HEALTHY,
)


def _role_arn(task: Task, state: SandboxState) -> str | None:
    td = state.task_definitions[task.task_definition_arn]
    role = state.world.task_definition_fields.get(f"{td.family}:{td.revision}", {})
    if "taskRoleArn" in role:
        return str(role["taskRoleArn"])
    instance_arn = state.world.task_container_instance.get(task.task_id)
    if instance_arn is None:
        return None
    instance = state.world.container_instance(instance_arn)
    assert instance is not None
    ec2 = next(i for i in state.world.ec2.instances if i["instanceId"] == instance.ec2_instance_id)
    profile = state.world.instance_profiles[ec2["iamInstanceProfile"]]
    return state.world.roles[profile.roles[0]].arn


def _allowed(role_arn: str, action: str, resource: str, state: SandboxState) -> bool:
    policies = policies_of(state.world, role_arn)
    assert policies is not None, role_arn
    return evaluate(policies, action, resource).decision == "allowed"


def _reaches_ssmmessages(task: Task, state: SandboxState) -> bool:
    world = state.world
    network = world.task_networks.get(task.task_id)
    if network is None:  # bridge mode: the instance's own subnet and public address
        instance_arn = world.task_container_instance[task.task_id]
        instance = world.container_instance(instance_arn)
        assert instance is not None
        ec2 = next(i for i in world.ec2.instances if i["instanceId"] == instance.ec2_instance_id)
        subnet_id, public, groups = ec2["subnetId"], bool(ec2.get("publicIp")), []
        address = ec2["privateIp"]
    else:
        subnet_id, public = network.subnet_id, network.public_ip is not None
        groups, address = network.security_groups, world.private_ip(task.task_id)
    subnet = world.ec2.subnet(subnet_id)
    assert subnet is not None
    tables = [t for t in world.ec2.route_tables if subnet_id in t.get("subnets", [])] or [
        t for t in world.ec2.route_tables if t["vpcId"] == subnet["vpcId"] and t.get("main")
    ]
    routes = [r for r in tables[0].get("routes", []) if r["destinationCidrBlock"] == "0.0.0.0/0"]
    if any("natGatewayId" in r for r in routes):
        return True
    if public and any(r.get("gatewayId", "").startswith("igw-") for r in routes):
        return True
    for endpoint in world.ec2.vpc_endpoints:
        if endpoint["vpcId"] != subnet["vpcId"] or not endpoint["serviceName"].endswith(
            ".ssmmessages"
        ):
            continue
        if not endpoint.get("privateDnsEnabled"):
            return False
        for group_id in endpoint["securityGroups"]:
            group = next(g for g in world.ec2.security_groups if g["groupId"] == group_id)
            for rule in group.get("ingress", []):
                if not rule.get("fromPort", 0) <= 443 <= rule.get("toPort", 65535):
                    continue
                if set(rule.get("groups", [])) & set(groups) or any(
                    ipaddress.ip_address(address) in ipaddress.ip_network(c)
                    for c in rule.get("cidrIp", [])
                ):
                    return True
    return False


def findings(task: Task, state: SandboxState) -> set[str]:
    found: set[str] = set()
    td = state.task_definitions[task.task_definition_arn]
    ref = f"{td.family}:{td.revision}"
    cluster = state.clusters[task.cluster]
    service = next((s for s in state.services if task.group == f"service:{s.name}"), None)
    if not task.enable_execute_command:
        late = service is not None and service.enable_execute_command
        found.add("service task started before exec" if late else "exec disabled")
    if any(c.agent is not None and c.agent.last_status != "RUNNING" for c in task.containers):
        found.add("agent not running")
    fields = state.world.task_definition_fields.get(ref, {})
    if fields.get("pidMode") == "task":
        found.add("pidMode task")
    for definition in td.container_definitions:
        extra = state.world.container_fields.get(f"{ref}/{definition.name}", {})
        if extra.get("readonlyRootFilesystem"):
            found.add("read-only root")
        if extra.get("linuxParameters", {}).get("initProcessEnabled") is not True:
            found.add("no init process")
        if {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(definition.environment):
            found.add("credentials in environment")
    if task.launch_type == "FARGATE" and (task.platform_version or "") < "1.4.0":
        found.add("old Fargate platform")
    instance_arn = state.world.task_container_instance.get(task.task_id)
    if instance_arn is not None:
        instance = state.world.container_instance(instance_arn)
        assert instance is not None
        version = tuple(int(p) for p in instance.agent_version.split("."))
        if version < (1, 50, 2):
            found.add("old ECS agent")
    if "taskRoleArn" not in fields:
        found.add("instance profile")
    role = _role_arn(task, state)
    assert role is not None
    if not all(_allowed(role, a, "*", state) for a in broken.SSMMESSAGES_ACTIONS):
        found.add("no ssmmessages")
    key = cluster.kms_key_id
    if key is not None:
        world_key = state.world.kms_key(key)
        if world_key is None or world_key.state != "Enabled":
            found.add("KMS key unusable")
        if not _allowed(role, "kms:Decrypt", key, state):
            found.add("no kms:Decrypt")
    logging = state.world.cluster_exec_logging.get(cluster.name, {})
    config = logging.get("logConfiguration", {})
    if logging.get("logging") == "OVERRIDE" and "cloudWatchLogGroupName" in config:
        group = config["cloudWatchLogGroupName"]
        if group not in {g.name for g in state.world.log_groups}:
            found.add("log group missing")
        if not all(_allowed(role, a, "*", state) for a in broken.LOGGING_ACTIONS):
            found.add("no logging permissions")
    if logging.get("logging") == "OVERRIDE" and "s3BucketName" in config:
        bucket = state.world.buckets.get(config["s3BucketName"])
        if bucket is None:
            found.add("log bucket missing")
        elif config.get("s3EncryptionEnabled") and bucket.encryption is None:
            found.add("log bucket not encrypted")
        arn = f"arn:aws:s3:::{config['s3BucketName']}"
        may_put = _allowed(role, "s3:PutObject", f"{arn}/{config.get('s3KeyPrefix', '')}/x", state)
        if not may_put or not _allowed(role, "s3:GetEncryptionConfiguration", arn, state):
            found.add("no S3 logging permissions")
    if not _reaches_ssmmessages(task, state):
        found.add("no path to ssmmessages")
    return found


EXPECTED = {
    broken.BROKEN_EXEC_DISABLED: "exec disabled",
    broken.BROKEN_AGENT_STOPPED: "agent not running",
    broken.BROKEN_READONLY_ROOT: "read-only root",
    broken.BROKEN_PID_TASK: "pidMode task",
    broken.BROKEN_NO_INIT: "no init process",
    broken.BROKEN_ENV_CREDENTIALS: "credentials in environment",
    broken.BROKEN_NO_SSMMESSAGES: "no ssmmessages",
    broken.BROKEN_INSTANCE_PROFILE: "instance profile",
    broken.BROKEN_NO_KMS_DECRYPT: "no kms:Decrypt",
    broken.BROKEN_PRIVATE_SUBNET: "no path to ssmmessages",
    broken.BROKEN_ENDPOINT_NO_DNS: "no path to ssmmessages",
    broken.BROKEN_ENDPOINT_SG: "no path to ssmmessages",
    broken.BROKEN_FARGATE_130: "old Fargate platform",
    broken.BROKEN_OLD_AGENT: "old ECS agent",
    broken.BROKEN_STARTED_BEFORE_EXEC: "service task started before exec",
    broken.BROKEN_KMS_DISABLED: "KMS key unusable",
    broken.BROKEN_LOG_GROUP_MISSING: "log group missing",
    broken.BROKEN_S3_BUCKET_MISSING: "log bucket missing",
    broken.BROKEN_S3_UNENCRYPTED: "log bucket not encrypted",
}


def _task(task_id: str) -> Task:
    return next(t for t in STATE.tasks if t.task_id == task_id)


@pytest.mark.parametrize("task_id", sorted(EXPECTED), ids=lambda t: broken.BROKEN_FINDINGS[t])
def test_each_broken_task_fails_one_check(task_id: str) -> None:
    assert findings(_task(task_id), STATE) == {EXPECTED[task_id]}


@pytest.mark.parametrize("task_id", HEALTHY)
def test_healthy_tasks_pass_every_check(task_id: str) -> None:
    assert findings(_task(task_id), STATE) == set()


def test_every_broken_task_is_named_and_documented() -> None:
    ids = {t.task_id for t in STATE.tasks if t.cluster.startswith("broken")}
    assert ids == set(broken.BROKEN_FINDINGS) == {*EXPECTED, broken.BROKEN_HEALTHY}
    assert all(
        broken.__doc__ and name in broken.__doc__
        for name in dir(broken)
        if name.startswith("BROKEN_") and len(getattr(broken, name)) == 32
    )


def test_the_caller_may_exec_but_not_start_sessions_directly() -> None:
    caller = STATE.caller_arn
    task_arn = _task(demo.WEB_READY_1).task_arn
    assert _allowed(caller, "ecs:ExecuteCommand", task_arn, STATE)
    assert _allowed(caller, "iam:SimulatePrincipalPolicy", caller, STATE)
    policies = policies_of(STATE.world, caller)
    assert policies is not None
    assert evaluate(policies, "ssm:StartSession", task_arn).decision == "explicitDeny"


def test_the_doctor_world_does_not_change_its_input() -> None:
    data = {
        "clusters": [{"clusterName": "demo"}],
        "services": [],
        "taskDefinitions": [],
        "tasks": [],
    }
    out = broken.with_doctor_world(data)
    assert data == {
        "clusters": [{"clusterName": "demo"}],
        "services": [],
        "taskDefinitions": [],
        "tasks": [],
    }
    assert out["clusters"][0]["executeCommandConfiguration"]["logging"] == "OVERRIDE"


def test_a_service_keeps_its_own_network_and_still_reaches_ssmmessages() -> None:
    config = {
        "subnets": ["subnet-0a", "subnet-0b"],
        "securityGroups": ["sg-0c"],
        "assignPublicIp": "DISABLED",
    }
    raw = {
        "clusters": [{"clusterName": "demo"}],
        "subnets": [{"subnetId": "subnet-0a", "vpcId": "vpc-0own"}],
        "taskDefinitions": [{"family": "web", "containerDefinitions": [{"name": "app"}]}],
        "services": [
            {
                "serviceName": "web",
                "cluster": "demo",
                "taskDefinition": "web",
                "networkConfiguration": {"awsvpcConfiguration": config},
            }
        ],
        "tasks": [
            {"taskId": "a" * 32, "cluster": "demo", "taskDefinition": "web", "group": "service:web"}
        ],
    }
    state = SandboxState.from_dict(broken.with_doctor_world(raw))
    (task,) = [t for t in state.tasks if t.cluster == "demo"]
    network = state.world.task_networks[task.task_id]
    assert (network.subnet_id, network.security_groups, network.public_ip) == (
        "subnet-0a",
        ["sg-0c"],
        None,
    )
    subnet = state.world.ec2.subnet("subnet-0a")
    assert subnet is not None and subnet["vpcId"] == "vpc-0own"
    assert state.world.ec2.subnet("subnet-0b") is not None
    assert findings(task, state) == set()
