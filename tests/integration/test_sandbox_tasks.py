"""The sandbox's RunTask/StopTask lifecycle and task-definition calls, through real boto3
clients, every response checked against botocore's model (as in test_sandbox_api)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecs_exec.sandbox import api, tasks
from ecs_exec.sandbox.demo import DEMO_SECURITY_GROUP, DEMO_SUBNETS, demo_state
from ecs_exec.sandbox.http import SandboxHttpServer
from ecs_exec.sandbox.state import ExecSession, SandboxState, SessionStatus
from tests.integration.test_sandbox_api import ARN, RawCapture, _client, _code

NETWORK = {
    "awsvpcConfiguration": {
        "subnets": [DEMO_SUBNETS[0]],
        "securityGroups": [DEMO_SECURITY_GROUP],
        "assignPublicIp": "DISABLED",
    }
}


@pytest.fixture
def state() -> SandboxState:
    world = demo_state()
    world.ws_base_url = "ws://127.0.0.1:9"
    world.task_delays = (0.0, 0.0, 0.0)  # the next request sees the task ready
    return world


@pytest.fixture
def ecs(state: SandboxState, raw: RawCapture) -> Iterator[Any]:
    server = SandboxHttpServer(state).start()
    try:
        yield _client("ecs", server, raw)
    finally:
        server.stop()


@pytest.fixture
def raw() -> RawCapture:
    return RawCapture()


def test_run_task_starts_provisioning_then_runs_with_overrides_and_tags(
    ecs: Any, raw: RawCapture, state: SandboxState
) -> None:
    ended: list[ExecSession] = []
    state.sessions.add_terminate_listener(ended.append)
    started = ecs.run_task(
        cluster="demo",
        taskDefinition="web:3",
        enableExecuteCommand=True,
        networkConfiguration=NETWORK,
        startedBy="ecs-exec",
        tags=[{"key": "ecs-exec:service", "value": "web"}],
        overrides={
            "containerOverrides": [
                {
                    "name": "app",
                    "command": ["sleep", "9"],
                    "environment": [{"name": "G", "value": "hi"}],
                }
            ]
        },
    )
    raw.check("ecs", "RunTask")
    (task,) = started["tasks"]
    assert task["lastStatus"] == "PROVISIONING"
    assert {a["lastStatus"] for c in task["containers"] for a in c["managedAgents"]} == {"PENDING"}
    arn = task["taskArn"]

    (now,) = ecs.describe_tasks(cluster="demo", tasks=[arn], include=["TAGS"])["tasks"]
    raw.check("ecs", "DescribeTasks")
    assert (now["lastStatus"], now["startedBy"]) == ("RUNNING", "ecs-exec")
    assert now["tags"] == [{"key": "ecs-exec:service", "value": "web"}]
    assert ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]["tags"] == []
    assert {a["lastStatus"] for c in now["containers"] for a in c["managedAgents"]} == {"RUNNING"}
    found = next(t for t in state.tasks if t.task_arn == arn)
    app = found.container("app")
    assert app is not None
    assert (app.environment["G"], app.environment["APP_ENV"]) == ("hi", "demo")
    assert arn in ecs.list_tasks(cluster="demo", startedBy="ecs-exec")["taskArns"]
    session = ecs.execute_command(
        cluster="demo", task=arn, container="app", command="sh", interactive=True
    )["session"]

    stopped = ecs.stop_task(cluster="demo", task=arn, reason="ecs-exec run: done")["task"]
    raw.check("ecs", "StopTask")
    assert (stopped["lastStatus"], stopped["stopCode"]) == ("STOPPED", "UserInitiated")
    assert [s.session_id for s in ended] == [session["sessionId"]]
    live = state.sessions.session_by_id(session["sessionId"])
    assert live is not None
    assert live.status is SessionStatus.TERMINATED
    again = ecs.stop_task(cluster="demo", task=arn, reason="second")["task"]
    assert again["stoppedReason"] == "ecs-exec run: done"  # stopping twice changes nothing
    assert arn not in ecs.list_tasks(cluster="demo", startedBy="ecs-exec")["taskArns"]


def test_the_lifecycle_follows_its_timeline() -> None:
    state = demo_state()
    state.task_delays = (10.0, 20.0, 5.0)
    status, body = api.handle(
        api.ECS_PREFIX + ".RunTask",
        {
            "cluster": "demo",
            "taskDefinition": "worker:1",
            "enableExecuteCommand": True,
            "networkConfiguration": NETWORK,
        },
        state,
    )
    assert status == 200
    task = next(t for t in state.tasks if t.task_arn == body["tasks"][0]["taskArn"])
    created = task.launch.created
    seen = []
    for offset in (1, 11, 31, 36):
        tasks.advance(state, now=created + offset)
        agent = task.containers[0].agent
        assert agent is not None
        seen.append((task.last_status, task.containers[0].last_status, agent.last_status))
    assert seen == [
        ("PROVISIONING", "PENDING", "PENDING"),
        ("PENDING", "PENDING", "PENDING"),
        ("RUNNING", "RUNNING", "PENDING"),
        ("RUNNING", "RUNNING", "RUNNING"),
    ]
    assert task.started_at == created + 30


def test_an_unpullable_image_stops_the_task(ecs: Any, raw: RawCapture) -> None:
    td = ecs.register_task_definition(
        family="broken",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "app", "image": "registry.example.invalid/app:1"}],
    )["taskDefinition"]
    arn = ecs.run_task(
        cluster="demo",
        taskDefinition=td["taskDefinitionArn"],
        networkConfiguration=NETWORK,
        enableExecuteCommand=True,
    )["tasks"][0]["taskArn"]
    (task,) = ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"]
    raw.check("ecs", "DescribeTasks")
    assert (task["lastStatus"], task["stopCode"]) == ("STOPPED", "TaskFailedToStart")
    assert task["stoppedReason"].startswith("CannotPullContainerError: pull image manifest")
    assert "registry.example.invalid/app:1" in task["stoppedReason"]
    assert task["containers"][0]["reason"] == task["stoppedReason"]
    assert "startedAt" not in task


def test_an_agent_fault_keeps_the_agent_from_running(ecs: Any, state: SandboxState) -> None:
    state.faults["task"] = {"agentStatus": "STOPPED", "agentReason": "no route to ssmmessages"}
    arn = ecs.run_task(
        cluster="demo",
        taskDefinition="worker:1",
        networkConfiguration=NETWORK,
        enableExecuteCommand=True,
    )["tasks"][0]["taskArn"]
    (task,) = ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"]
    agent = task["containers"][0]["managedAgents"][0]
    assert (task["lastStatus"], agent["lastStatus"]) == ("RUNNING", "STOPPED")
    assert agent["reason"] == "no route to ssmmessages"


def _bad(network: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster": "demo", "taskDefinition": "web:3", **extra}
    if network is not None:
        body["networkConfiguration"] = {"awsvpcConfiguration": network}
    return body


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        (_bad(), "Network Configuration must be provided when networkMode 'awsvpc' is specified."),
        (_bad({"subnets": []}), "subnets can not be empty."),
        (
            _bad({"subnets": ["subnet-nope"]}),
            "Error retrieving subnet information for [subnet-nope]: The subnet ID 'subnet-nope'"
            " does not exist (ErrorCode: InvalidSubnetID.NotFound)",
        ),
        (
            _bad({"subnets": [DEMO_SUBNETS[0]], "securityGroups": ["sg-nope"]}),
            "Error retrieving security group information for [sg-nope]: The security group "
            "'sg-nope' does not exist (ErrorCode: InvalidGroup.NotFound)",
        ),
        (
            _bad({"subnets": [DEMO_SUBNETS[0]], "assignPublicIp": "ENABLED"}, launchType="EC2"),
            "Assign public IP is not supported for this launch type.",
        ),
        (
            _bad(
                {"subnets": [DEMO_SUBNETS[0]]},
                overrides={"containerOverrides": [{"name": "ghost"}]},
            ),
            "Override for container named ghost is not a container in the TaskDefinition.",
        ),
        (
            _bad(
                {"subnets": [DEMO_SUBNETS[0]]},
                overrides={
                    "containerOverrides": [
                        {"name": "app", "environment": [{"name": "BIG", "value": "x" * 8200}]}
                    ]
                },
            ),
            "Container Overrides length must be at most 8192",
        ),
        (_bad({"subnets": [DEMO_SUBNETS[0]]}, count=11), "count must be between 1 and 10."),
        (
            _bad(
                {"subnets": [DEMO_SUBNETS[0]]},
                launchType="FARGATE",
                capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT"}],
            ),
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again.",
        ),
        (
            {
                "cluster": "staging",
                "taskDefinition": "web-staging:1",
                "launchType": "EC2",
                "networkConfiguration": NETWORK,
            },
            "No Container Instances were found in your cluster.",
        ),
        ({"cluster": "demo", "taskDefinition": "nope:1"}, "TaskDefinition not found."),
    ],
)
def test_run_task_validation(ecs: Any, request_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientError) as exc:
        ecs.run_task(**request_body)
    assert _code(exc) == ("InvalidParameterException", message)


def test_capacity_shortage_is_a_failure_not_an_error(ecs: Any, raw: RawCapture) -> None:
    out = ecs.run_task(
        cluster="demo",
        taskDefinition="web:3",
        launchType="EC2",
        networkConfiguration=NETWORK,
        overrides={"memory": "8192"},
    )
    raw.check("ecs", "RunTask")
    assert out["tasks"] == []
    (failure,) = out["failures"]
    assert failure["reason"] == "RESOURCE:MEMORY"
    assert failure["arn"].startswith(f"{ARN}:container-instance/demo/")
    fits = ecs.run_task(
        cluster="demo", taskDefinition="web:3", launchType="EC2", networkConfiguration=NETWORK
    )
    assert fits["failures"] == [] and fits["tasks"][0]["launchType"] == "EC2"


def test_register_list_describe_deregister(ecs: Any, raw: RawCapture) -> None:
    definition = {"name": "app", "image": "busybox:1.36", "command": ["true"]}
    arns = [
        ecs.register_task_definition(
            family="job-ecs-exec",
            containerDefinitions=[definition],
            tags=[{"key": "ecs-exec:digest", "value": str(n)}],
        )["taskDefinition"]["taskDefinitionArn"]
        for n in (1, 2)
    ]
    raw.check("ecs", "RegisterTaskDefinition")
    assert arns == [
        f"{ARN}:task-definition/job-ecs-exec:1",
        f"{ARN}:task-definition/job-ecs-exec:2",
    ]
    listed = ecs.list_task_definitions(familyPrefix="job-", sort="DESC")["taskDefinitionArns"]
    raw.check("ecs", "ListTaskDefinitions")
    assert listed == arns[::-1]
    described = ecs.describe_task_definition(taskDefinition=arns[0], include=["TAGS"])
    assert described["tags"] == [{"key": "ecs-exec:digest", "value": "1"}]
    assert ecs.describe_task_definition(taskDefinition=arns[0])["tags"] == []

    gone = ecs.deregister_task_definition(taskDefinition=arns[1])["taskDefinition"]
    raw.check("ecs", "DeregisterTaskDefinition")
    assert gone["status"] == "INACTIVE"
    assert ecs.list_task_definitions(familyPrefix="job-")["taskDefinitionArns"] == arns[:1]
    assert (
        ecs.list_task_definitions(familyPrefix="job-", status="INACTIVE")["taskDefinitionArns"]
        == arns[1:]
    )
    # The family name alone means its latest ACTIVE revision; an INACTIVE one cannot run.
    latest = ecs.describe_task_definition(taskDefinition="job-ecs-exec")["taskDefinition"]
    assert latest["revision"] == 1
    with pytest.raises(ClientError) as exc:
        ecs.run_task(cluster="demo", taskDefinition=arns[1])
    assert _code(exc)[1] == "TaskDefinition is inactive"
    third = ecs.register_task_definition(family="job-ecs-exec", containerDefinitions=[definition])
    assert third["taskDefinition"]["revision"] == 3  # numbers are never handed out again
    with pytest.raises(ClientError) as exc:
        ecs.register_task_definition(family="bad family", containerDefinitions=[definition])
    assert _code(exc)[0] == "ClientException"


def test_services_carry_their_network_and_deployment(ecs: Any, raw: RawCapture) -> None:
    (web,) = ecs.describe_services(cluster="demo", services=["web"])["services"]
    raw.check("ecs", "DescribeServices")
    assert web["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == list(DEMO_SUBNETS)
    (primary,) = web["deployments"]
    assert (primary["status"], primary["taskDefinition"]) == (
        "PRIMARY",
        f"{ARN}:task-definition/web:3",
    )


def test_state_files_keep_networks_and_capacity(state: SandboxState) -> None:
    again = SandboxState.from_dict(state.to_dict())
    assert again.subnets == state.subnets
    assert again.security_groups == state.security_groups
    assert again.clusters["demo"].container_instances == [{"cpu": 2048, "memory": 3840}]
    assert again.services[0].network_configuration == state.services[0].network_configuration
