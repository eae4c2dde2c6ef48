"""Every doctor check failing and passing, asserted through the JSON document, against the
sandbox's demo world: one task of the ``broken`` clusters per finding, the healthy clusters,
and a few edited worlds for what the demo does not break (the caller's permissions, a
missing task role, logging settings)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.doctor.catalog import CHECKS
from ecs_exec.sandbox import demo, demo_broken as b
from ecs_exec.sandbox.state import SandboxState
from tests.integration.doctor_helpers import Doctor, DoctorWorld, doctor_world

SERVICE_SKIPS = {"service.exec-enabled": "skipped", "service.tasks-current": "skipped"}
#: Clusters that do not log to S3 skip the bucket check.
NO_S3 = {"cluster.s3-bucket": "skipped"}
S3_CLUSTERS = ("broken-s3", "broken-s3-encryption")
S3_SKIPS = {
    "cluster.log-group": "skipped",
    "permissions.kms": "skipped",
    "task-role.kms": "skipped",
}
BROKEN_KEY = b.BROKEN_KMS_KEY_ARN


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DoctorWorld]:
    with doctor_world(demo.demo_state(), tmp_path_factory.mktemp("home")) as w:
        yield w


def not_ok(d: Doctor) -> dict[str, str]:
    """Checks that did not end ok, but for local.plugin (skipped without --transport plugin)."""
    return {k: v for k, v in d.statuses().items() if v != "ok" and k != "local.plugin"}


# task, cluster, the checks that do not end ok, (check, needles in its reason and fix)
BROKEN: list[tuple[str, str, dict[str, str], tuple[str, ...]]] = [
    (
        b.BROKEN_EXEC_DISABLED,
        "broken",
        {"task.exec-enabled": "failed", "task.exec-agent": "skipped"},
        (
            "task.exec-enabled",
            "enable-execute-command",
            f"aws ecs stop-task --cluster broken --task {b.BROKEN_EXEC_DISABLED}",
        ),
    ),
    (
        b.BROKEN_AGENT_STOPPED,
        "broken",
        {"task.exec-agent": "failed"},
        ("task.exec-agent", "failed to start the SSM agent", "ssmmessages"),
    ),
    (
        b.BROKEN_READONLY_ROOT,
        "broken",
        {"task.readonly-root": "failed"},
        ("task.readonly-root", "readonlyRootFilesystem to false", "/var/lib/amazon"),
    ),
    (
        b.BROKEN_PID_TASK,
        "broken",
        {"task.pid-mode": "warning"},
        ("task.pid-mode", "one exec session"),
    ),
    (
        b.BROKEN_NO_INIT,
        "broken",
        {"task.init-process": "warning"},
        ("task.init-process", '"initProcessEnabled": true'),
    ),
    (
        b.BROKEN_ENV_CREDENTIALS,
        "broken",
        {"task.env-credentials": "failed"},
        ("task.env-credentials", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "task role"),
    ),
    (
        b.BROKEN_NO_SSMMESSAGES,
        "broken",
        {"task-role.ssmmessages": "failed"},
        (
            "task-role.ssmmessages",
            "aws iam put-role-policy --role-name broken-no-ssmmessages",
            "ssmmessages:OpenDataChannel",
        ),
    ),
    (b.BROKEN_INSTANCE_PROFILE, "broken", {}, ("task-role.present", "instance profile")),
    (
        b.BROKEN_NO_KMS_DECRYPT,
        "broken",
        {"task-role.kms": "failed"},
        ("task-role.kms", "--role-name broken-no-kms", '"Action":["kms:Decrypt"]', BROKEN_KEY),
    ),
    (
        b.BROKEN_PRIVATE_SUBNET,
        "broken",
        {"network.path": "failed"},
        (
            "network.path",
            "no default route",
            "aws ec2 create-vpc-endpoint",
            "com.amazonaws.us-east-1.ssmmessages",
        ),
    ),
    (
        b.BROKEN_ENDPOINT_NO_DNS,
        "broken",
        {"network.path": "failed"},
        ("network.path", "private DNS off", "aws ec2 modify-vpc-endpoint", "--private-dns-enabled"),
    ),
    (
        b.BROKEN_ENDPOINT_SG,
        "broken",
        {"network.path": "failed"},
        ("network.path", "port 443", "aws ec2 authorize-security-group-ingress", "--port 443"),
    ),
    (
        b.BROKEN_FARGATE_130,
        "broken",
        {"task.platform": "failed"},
        ("task.platform", "1.3.0", "1.4.0", "--platform-version LATEST"),
    ),
    (
        b.BROKEN_OLD_AGENT,
        "broken",
        {"task.platform": "failed"},
        (
            "task.platform",
            "1.50.1",
            "1.50.2",
            f"aws ecs update-container-agent --cluster broken --container-instance "
            f"{b.OLD_AGENT_INSTANCE}",
        ),
    ),
    (
        b.BROKEN_STARTED_BEFORE_EXEC,
        "broken",
        {
            "task.exec-enabled": "failed",
            "task.exec-agent": "skipped",
            "service.tasks-current": "failed",
        },
        (
            "service.tasks-current",
            b.BROKEN_STARTED_BEFORE_EXEC,
            "aws ecs update-service --cluster broken --service late-exec --force-new-deployment",
        ),
    ),
    (b.BROKEN_HEALTHY, "broken", {}, ("network.path", "NAT gateway")),
    (
        b.BROKEN_KMS_DISABLED,
        "broken-kms",
        {
            "cluster.kms-key": "failed",
            "cluster.log-group": "skipped",
            "permissions.kms": "skipped",
            "task-role.kms": "skipped",
            "task-role.logging": "skipped",
        },
        ("cluster.kms-key", "Disabled", f"aws kms enable-key --key-id {b.DISABLED_KMS_KEY_ARN}"),
    ),
    (
        b.BROKEN_LOG_GROUP_MISSING,
        "broken-logs",
        {"cluster.log-group": "failed", "permissions.kms": "skipped", "task-role.kms": "skipped"},
        (
            "cluster.log-group",
            "/ecs/exec/broken-logs does not exist",
            "aws logs create-log-group --log-group-name /ecs/exec/broken-logs",
        ),
    ),
    (
        b.BROKEN_S3_BUCKET_MISSING,
        "broken-s3",
        {**S3_SKIPS, "cluster.s3-bucket": "failed"},
        (
            "cluster.s3-bucket",
            f"bucket {b.MISSING_LOG_BUCKET} does not exist",
            f"aws s3api create-bucket --bucket {b.MISSING_LOG_BUCKET}",
            "aws ecs update-cluster --cluster broken-s3",
        ),
    ),
    (
        b.BROKEN_S3_UNENCRYPTED,
        "broken-s3-encryption",
        {**S3_SKIPS, "cluster.s3-bucket": "failed"},
        (
            "cluster.s3-bucket",
            "has no default encryption, but the cluster requires it",
            f"aws s3api put-bucket-encryption --bucket {b.PLAIN_LOG_BUCKET} "
            "--server-side-encryption-configuration "
            """'{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'""",
        ),
    ),
]


@pytest.mark.parametrize(
    ("task", "cluster", "expected", "finding"),
    BROKEN,
    ids=[b.BROKEN_FINDINGS[c[0]] for c in BROKEN],
)
def test_each_broken_task_fails_its_check_only(world, task, cluster, expected, finding):
    d = world.run(cluster=cluster, task=task)
    standalone = task != b.BROKEN_STARTED_BEFORE_EXEC
    s3 = {} if cluster in S3_CLUSTERS else NO_S3
    assert not_ok(d) == {**(SERVICE_SKIPS if standalone else {}), **s3, **expected}
    check, *needles = finding
    text = " ".join(str(d[check][k]) for k in ("summary", "reason", "fix", "details"))
    for needle in needles:
        assert needle in text, (needle, d[check])
    failed = any(status == "failed" for status in expected.values())
    assert d.document["verdict"] == ("failed" if failed else "warning" if expected else "ok")
    assert d.document["target"]["task"] == task


def test_secrets_stay_out(world):
    d = world.run(cluster="broken", task=b.BROKEN_ENV_CREDENTIALS)
    assert d["task.env-credentials"]["details"]["variables"] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(d.document)


def test_instance_profile_fallback_and_ec2_agent(world):
    d = world.run(cluster="broken", task=b.BROKEN_INSTANCE_PROFILE)
    assert d["task-role.present"]["details"] == {
        "roleArn": "arn:aws:iam::123456789012:role/ecs-instance-role",
        "source": "instance profile",
    }
    assert d["task.platform"]["details"]["launchType"] == "EC2"
    assert d.status("task-role.ssmmessages") == "ok"


@pytest.mark.parametrize(
    ("cluster", "expected", "path"),
    [
        # demo's web service: one of its tasks started before exec was on (a warning).
        (
            "demo",
            {
                "service.tasks-current": "warning",
                "permissions.kms": "skipped",
                "task-role.kms": "skipped",
                **NO_S3,
            },
            "nat-gateway",
        ),
        ("secure", {}, "vpc-endpoint"),
    ],
)
def test_healthy_clusters(world, cluster, expected, path):
    d = world.run(cluster=cluster)
    assert not_ok(d) == expected
    assert d["network.path"]["details"]["path"] == path
    assert d.status("permissions.start-session") == "ok"  # the demo caller is denied it


def test_service_without_exec(world):
    d = world.run(cluster="staging", service="web")
    assert d.status("service.exec-enabled") == "failed"
    assert d["service.exec-enabled"]["fix"] == (
        "aws ecs update-service --cluster staging --service web --enable-execute-command "
        "--force-new-deployment"
    )
    assert d.status("service.tasks-current") == "skipped"


@pytest.mark.parametrize(
    ("target", "check", "needle"),
    [
        ({"cluster": "nope"}, "cluster.found", "cluster 'nope' not found"),
        ({"cluster": "demo", "task": "f" * 32}, "task.found", "was not found in cluster 'demo'"),
        ({"cluster": "demo", "task": demo.WEB_STOPPING}, "task.running", "stopping"),
        (
            {"cluster": "demo", "task": demo.WEB_READY_1, "container": "nope"},
            "task.exec-agent",
            "no container 'nope'",
        ),
    ],
)
def test_target_problems(world, target, check, needle):
    d = world.run(**target)
    assert d.status(check) == "failed"
    assert needle in d[check]["summary"] + d[check]["reason"]
    if check == "task.found":
        assert d.status("task.running") == "skipped"
        assert "no task was found" in d["service.exec-enabled"]["reason"]


#: demo's public subnet (a route to the internet gateway), with demo's task security group.
PUBLIC_SUBNET = {"subnetId": "subnet-demo-public", "securityGroups": ["sg-demo-tasks"]}


def edited(edit: Any) -> SandboxState:
    data = copy.deepcopy(demo.demo_state_dict())
    edit(data)
    return SandboxState.from_dict(data)


def find(items: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    return next(i for i in items if all(i.get(k) == v for k, v in match.items()))


def test_demo_world_edited_task_role_network_and_logging(world):
    """web:3 without a task role, a web task in a public subnet without a public IP, demo's
    exec logging OVERRIDE with nowhere to log."""

    def edit(data):
        find(data["taskDefinitions"], family="web", revision=3).pop("taskRoleArn")
        find(data["tasks"], taskId=demo.WEB_READY_1)["network"] = PUBLIC_SUBNET
        find(data["clusters"], clusterName="demo")["executeCommandConfiguration"].update(
            logging="OVERRIDE", logConfiguration={}
        )

    d = world.run(state=edited(edit), cluster="demo", task=demo.WEB_READY_1)
    assert d.status("task-role.present") == "failed"
    assert "set taskRoleArn in web:3" in d["task-role.present"]["fix"]
    assert d.status("task-role.ssmmessages") == "skipped"
    assert d.status("network.path") == "failed"
    assert "no public IP" in d["network.path"]["summary"]
    assert "assignPublicIp=ENABLED" in d["network.path"]["fix"]
    assert "--service web" in d["network.path"]["fix"]
    assert d.status("cluster.logging") == "failed"
    assert "aws ecs update-cluster --cluster demo" in d["cluster.logging"]["fix"]


def test_a_public_subnet_with_a_public_ip_goes_through_the_internet_gateway(world):
    def edit(data):
        network = {**PUBLIC_SUBNET, "publicIp": "203.0.113.7"}
        find(data["tasks"], taskId=demo.WEB_READY_1)["network"] = network

    d = world.run(state=edited(edit), cluster="demo", task=demo.WEB_READY_1)
    assert d.status("network.path") == "ok"
    assert d["network.path"]["details"]["path"] == "internet-gateway"


def test_demo_world_edited_logging_permissions_and_encryption(world):
    """demo's role without the logging policy; demo's cluster requiring an encrypted group."""

    def edit(data):
        role = find(data["iam"]["roles"], roleName="demo-task")
        role["attachedPolicies"] = [p for p in role["attachedPolicies"] if "Logging" not in p]
        config = find(data["clusters"], clusterName="demo")["executeCommandConfiguration"]
        config["logConfiguration"]["cloudWatchEncryptionEnabled"] = True

    d = world.run(state=edited(edit), cluster="demo", task=demo.WEB_READY_1)
    assert d.status("task-role.logging") == "failed"
    assert "logs:PutLogEvents" in d["task-role.logging"]["summary"]
    assert "aws iam put-role-policy --role-name demo-task" in d["task-role.logging"]["fix"]
    assert "log-group:/ecs/exec/demo:*" in d["task-role.logging"]["fix"]
    assert d.status("cluster.log-group") == "failed"
    assert (
        "aws logs associate-kms-key --log-group-name /ecs/exec/demo"
        in (d["cluster.log-group"]["fix"])
    )


def _caller(document: dict[str, Any]) -> Any:
    def edit(data):
        data["iam"]["policies"].append({"policyName": "Limited", "document": document})
        find(data["iam"]["users"], userName="sandbox")["attachedPolicies"] = [
            "arn:aws:iam::123456789012:policy/Limited"
        ]

    return edit


DOCTOR_READS = [
    "sts:GetCallerIdentity",
    "ecs:Describe*",
    "ecs:List*",
    "iam:GetRole",
    "iam:GetInstanceProfile",
    "ec2:Describe*",
    "logs:DescribeLogGroups",
    "kms:DescribeKey",
]


def test_caller_without_exec_permissions(world):
    """A caller that may read (but not list tasks) and simulate, not exec, and may
    ssm:StartSession. With --task given by its id, doctor itself needs no ListTasks."""
    reads = [a for a in DOCTOR_READS if a != "ecs:List*"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [*reads, "iam:SimulatePrincipalPolicy", "ssm:StartSession"],
                "Resource": "*",
            },
        ],
    }
    d = world.run(state=edited(_caller(policy)), cluster="secure", task=demo.SECURE_API_READY)
    for check in (
        "permissions.execute-command",
        "permissions.describe-tasks",
        "permissions.kms",
        "permissions.ssm-sessions",
    ):
        assert d.status(check) == "failed", d[check]
        assert "aws iam put-user-policy --user-name sandbox" in d[check]["fix"]
    assert (
        "ecs:ExecuteCommand on arn:aws:ecs:us-east-1:123456789012:task/secure/"
        in (d["permissions.execute-command"]["summary"])
    )
    assert d["permissions.describe-tasks"]["summary"].startswith("denied: ecs:ListTasks on ")
    assert "ecs:DescribeTasks" not in d["permissions.describe-tasks"]["summary"]
    assert "ssm:TerminateSession" in d["permissions.ssm-sessions"]["fix"]
    assert d.status("permissions.start-session") == "warning"
    assert "bypasses ECS Exec's logging" in d["permissions.start-session"]["reason"]


def test_caller_that_may_not_simulate(world):
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": DOCTOR_READS, "Resource": "*"}],
    }
    d = world.run(state=edited(_caller(policy)), cluster="demo", task=demo.WEB_READY_1)
    for check in [c.id for c in CHECKS if c.id.startswith("permissions.")] + [
        "task-role.ssmmessages",
        "task-role.logging",
    ]:
        assert d.status(check) == "skipped", d[check]
        assert d[check]["details"].get("deniedAction") in ("iam:SimulatePrincipalPolicy", None)
    assert "iam:SimulatePrincipalPolicy" in d["permissions.execute-command"]["reason"]
    assert d.status("task.exec-enabled") == "ok"  # the rest still runs
    assert d.status("network.path") == "ok"


@pytest.mark.parametrize("role_may_log", [True, False])
def test_default_logging_goes_to_the_containers_awslogs_group(world, role_may_log):
    def edit(data):
        config = find(data["clusters"], clusterName="demo")["executeCommandConfiguration"]
        config.pop("logConfiguration")
        config["logging"] = "DEFAULT"
        app = find(
            find(data["taskDefinitions"], family="web", revision=3)["containerDefinitions"],
            name="app",
        )
        app["logConfiguration"] = {
            "logDriver": "awslogs",
            "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1"},
        }
        if not role_may_log:
            role = find(data["iam"]["roles"], roleName="demo-task")
            role["attachedPolicies"] = [p for p in role["attachedPolicies"] if "Logging" not in p]

    d = world.run(state=edited(edit), cluster="demo", task=demo.WEB_READY_1)
    assert d.status("cluster.logging") == "ok"
    assert d.status("task-role.logging") == ("ok" if role_may_log else "failed")
    assert "/ecs/web" in d["task-role.logging"]["summary"] + (d["task-role.logging"]["fix"] or "")


def test_caller_in_an_assumed_role_session(world):
    """The caller's identity is a role session: its policies are simulated through the role's
    full ARN (path included, from iam:GetRole), and the fixes name the role."""

    def edit(data):
        data["iam"]["policies"].append(
            {
                "policyName": "ReadOnly",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [*DOCTOR_READS, "iam:SimulatePrincipalPolicy"],
                            "Resource": "*",
                        }
                    ],
                },
            }
        )
        data["iam"]["roles"].append(
            {
                "roleName": "ops",
                "path": "/team/",
                "attachedPolicies": ["arn:aws:iam::123456789012:policy/ReadOnly"],
                "assumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
            }
        )
        data["callerRole"] = "ops"

    d = world.run(state=edited(edit), cluster="demo", task=demo.WEB_READY_1)
    assert ":assumed-role/ops/" in d["local.identity"]["details"]["arn"]
    execute = d["permissions.execute-command"]
    assert execute["status"] == "failed"
    assert execute["details"]["principal"] == "arn:aws:iam::123456789012:role/team/ops"
    assert "aws iam put-role-policy --role-name ops " in execute["fix"]
    assert d.status("permissions.describe-tasks") == "ok"


def test_the_secure_clusters_log_bucket_passes(world):
    d = world.run(cluster="secure", task=demo.SECURE_API_READY)
    assert d.status("cluster.s3-bucket") == "ok"
    assert d["cluster.s3-bucket"]["details"] == {
        "bucket": b.SECURE_LOG_BUCKET,
        "region": "us-east-1",
        "encryption": "AES256",
        "kmsKeyId": None,
    }
    assert d.status("task-role.logging") == "ok"
    assert f"s3://{b.SECURE_LOG_BUCKET}/exec/" in d["task-role.logging"]["summary"]


def test_a_log_bucket_in_another_region_without_required_encryption_passes(world):
    """The agent asks S3 where the bucket is and uploads there: another region is fine, and
    without s3EncryptionEnabled the bucket's encryption is not looked at."""

    def edit(data):
        data["s3"]["buckets"].append({"name": "eu-plain", "region": "eu-west-1"})
        config = find(data["clusters"], clusterName="secure")["executeCommandConfiguration"]
        config["logConfiguration"].update(s3BucketName="eu-plain", s3EncryptionEnabled=False)

    world.server.log.clear()
    d = world.run(
        state=edited(edit), cluster="secure", task=demo.SECURE_API_READY, groups=("cluster",)
    )
    assert d.status("cluster.s3-bucket") == "ok", d["cluster.s3-bucket"]
    assert d["cluster.s3-bucket"]["summary"] == "eu-plain exists (in eu-west-1)"
    counts = world.server.log.counts()
    assert (counts["HeadBucket"], counts["GetBucketEncryption"]) == (1, 0)


@pytest.mark.parametrize(
    ("extra", "denied"),
    [([], "s3:ListBucket"), (["s3:ListBucket"], "s3:GetEncryptionConfiguration")],
)
def test_a_caller_that_may_not_look_at_the_bucket_skips_the_check(world, extra, denied):
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": [*DOCTOR_READS, *extra], "Resource": "*"},
        ],
    }
    d = world.run(
        state=edited(_caller(policy)),
        cluster="secure",
        task=demo.SECURE_API_READY,
        groups=("cluster",),
    )
    assert d.status("cluster.s3-bucket") == "skipped"
    assert d["cluster.s3-bucket"]["details"] == {"deniedAction": denied}
    assert denied in d["cluster.s3-bucket"]["reason"]
    assert d.status("cluster.log-group") == "ok"  # the rest still runs


def test_a_missing_bucket_outside_us_east_1_is_created_with_its_location(world):
    clients = AwsClients(AwsSettings(region="eu-west-1", endpoint_url=world.server.url))
    clients.session.set_credentials("AKIDSANDBOX", "sandbox")
    d = world.run(
        clients=clients, cluster="broken-s3", task=b.BROKEN_S3_BUCKET_MISSING, groups=("cluster",)
    )
    assert d.status("cluster.s3-bucket") == "failed"
    assert d["cluster.s3-bucket"]["fix"].startswith(
        f"aws s3api create-bucket --bucket {b.MISSING_LOG_BUCKET} "
        "--create-bucket-configuration LocationConstraint=eu-west-1 (or point"
    )
