"""The pure handlers, called without HTTP."""

from __future__ import annotations

import pytest

from ecs_exec.sandbox import api
from ecs_exec.sandbox.demo import WEB_READY_1, WEB_READY_2, WORKER_READY, demo_state
from ecs_exec.sandbox.state import SandboxState

ECS = api.ECS_PREFIX + "."


@pytest.fixture
def state() -> SandboxState:
    return demo_state()


def test_every_operation_is_dispatched(state: SandboxState) -> None:
    assert len(api.OPERATIONS) == 17  # 14, and 3 task-definition calls of `run`
    status, body = api.handle("AmazonSSM.StartSession", {}, state)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = api.handle("Nope", {}, state)
    assert body["__type"] == "UnknownOperationException"


def test_errors_use_the_json_protocol_shape(state: SandboxState) -> None:
    status, body = api.handle(ECS + "ListTasks", {"cluster": "ghost"}, state)
    assert (status, body) == (
        400,
        {"__type": "ClusterNotFoundException", "message": "Cluster not found."},
    )


def test_pagination_tokens_walk_the_whole_list(state: SandboxState) -> None:
    seen: list[str] = []
    request: dict[str, object] = {"cluster": "demo", "maxResults": 2}
    while True:
        status, page = api.handle(ECS + "ListTasks", request, state)
        assert status == 200
        seen += page["taskArns"]
        if "nextToken" not in page:
            break
        request = {**request, "nextToken": page["nextToken"]}
    assert len(seen) == 5
    status, body = api.handle(ECS + "ListTasks", {"cluster": "demo", "nextToken": "!!"}, state)
    assert body["__type"] == "InvalidParameterException"


def test_fault_status_and_message_overrides(state: SandboxState) -> None:
    state.faults["api"] = {
        "DescribeTasks": {"error": "ServerException", "times": 1},
        "ListClusters": {"error": "Custom", "message": "boom", "status": 418},
    }
    status, body = api.handle(ECS + "DescribeTasks", {"tasks": [WEB_READY_1]}, state)
    assert (status, body["__type"]) == (500, "ServerException")
    assert api.handle(ECS + "ListClusters", {}, state) == (
        418,
        {"__type": "Custom", "message": "boom"},
    )


@pytest.mark.parametrize(
    ("target", "body", "action", "resource"),
    [
        (ECS + "ListTasks", {"cluster": "demo"}, "ecs:ListTasks", "cluster/demo"),
        (ECS + "ListClusters", {}, "ecs:ListClusters", "resource: *"),
        (
            "AmazonSSM.ResumeSession",
            {"SessionId": "s-1"},
            "ssm:ResumeSession",
            "arn:aws:ssm:us-east-1:123456789012:session/s-1",
        ),
        (
            "TrentService.GenerateDataKey",
            {"KeyId": "k"},
            "kms:GenerateDataKey",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        ),
    ],
)
def test_access_denied_names_action_and_resource(
    state: SandboxState, target: str, body: dict[str, object], action: str, resource: str
) -> None:
    state.faults["api"] = {"*": {"error": "AccessDeniedException"}}
    status, answer = api.handle(target, body, state)
    assert status == 400
    assert answer["__type"] == "AccessDeniedException"
    assert f"not authorized to perform: {action} on resource: " in answer["message"]
    assert resource in answer["message"]
    assert answer["message"].endswith(f"allows the {action} action")


def test_execute_command_without_container_on_single_container_task(state: SandboxState) -> None:
    status, body = api.handle(
        ECS + "ExecuteCommand",
        {"cluster": "demo", "task": WORKER_READY, "command": "sh", "interactive": True},
        state,
    )
    assert status == 200
    assert body["containerName"] == "worker"
    status, body = api.handle(
        ECS + "ExecuteCommand",
        {"cluster": "demo", "task": WEB_READY_2, "command": "sh", "interactive": True},
        state,
    )
    assert (status, body["__type"]) == (400, "InvalidParameterException")


def test_session_faults_are_copied_into_sessions(state: SandboxState) -> None:
    state.faults["session"] = {"dropAfterMessages": 2}
    status, body = api.handle(
        ECS + "ExecuteCommand",
        {
            "cluster": "demo",
            "task": WEB_READY_1,
            "container": "app",
            "command": "sh",
            "interactive": True,
        },
        state,
    )
    assert status == 200
    session = state.sessions.session_by_id(body["session"]["sessionId"])
    assert session is not None
    assert session.faults == {"dropAfterMessages": 2}
