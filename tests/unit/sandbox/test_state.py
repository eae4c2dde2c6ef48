"""State file load/dump, fault counters and the exec session registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecs_exec.errors import ConfigurationError
from ecs_exec.sandbox.demo import WEB_READY_1, demo_state, demo_state_dict
from ecs_exec.sandbox.state import (
    ExecSession,
    SandboxState,
    SessionRegistry,
    SessionStatus,
    dump_state,
    load_state,
)


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    state = demo_state()
    path = tmp_path / "state.json"
    dump_state(state, path)
    again = load_state(path)
    assert again.to_dict() == state.to_dict()
    task = next(t for t in again.tasks if t.task_id == WEB_READY_1)
    app = task.container("app")
    assert app is not None
    assert app.environment == {"APP_ENV": "demo", "PORT": "8080"}
    assert app.runtime_id == state.tasks[0].containers[1].runtime_id


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda d: d["tasks"][0].update(taskId="xyz"), "32 lower-case hex"),
        (lambda d: d["tasks"][0].update(cluster="ghost"), "unknown cluster"),
        (lambda d: d["services"][0].update(taskDefinition="ghost:9"), "unknown task definition"),
        (lambda d: d["tasks"][0].update(containers=[{"name": "nope"}]), "not in web"),
        (lambda d: d["clusters"][0].pop("clusterName"), "clusterName"),
    ],
)
def test_inconsistent_state_is_a_configuration_error(
    edit: Callable[[dict[str, Any]], object], needle: str
) -> None:
    data = demo_state_dict()
    edit(data)
    with pytest.raises(ConfigurationError, match=needle):
        SandboxState.from_dict(data)


def test_unreadable_state_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_state(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigurationError, match="JSON object"):
        load_state(bad)


def test_minimal_state_gets_defaults() -> None:
    state = SandboxState.from_dict(
        {
            "clusters": [{"clusterName": "default"}],
            "taskDefinitions": [{"family": "f", "containerDefinitions": [{"name": "c"}]}],
            "tasks": [{"taskId": "a" * 32, "cluster": "default", "taskDefinition": "f"}],
        }
    )
    (task,) = state.tasks
    assert task.task_arn == "arn:aws:ecs:us-east-1:123456789012:task/default/" + "a" * 32
    assert task.containers[0].agent is not None
    assert state.find_cluster(None) is state.clusters["default"]
    assert state.find_task_definition("f:1") is state.find_task_definition("f")


def test_api_fault_counts_down() -> None:
    state = SandboxState(
        faults={"api": {"ListTasks": {"error": "ThrottlingException", "times": 2}}}
    )
    assert state.take_api_fault("ListTasks") == {"error": "ThrottlingException", "times": 1}
    assert state.take_api_fault("ListTasks") is not None
    assert state.take_api_fault("ListTasks") is None
    assert state.take_api_fault("DescribeTasks") is None


def test_api_fault_forever_and_wildcard() -> None:
    state = SandboxState(faults={"api": {"*": {"error": "ExpiredTokenException"}}})
    for _ in range(5):
        assert state.take_api_fault("Anything") == {"error": "ExpiredTokenException"}
    state.faults["session"] = {"dropAfterMessages": 3}
    assert state.fault_settings("session") == {"dropAfterMessages": 3}
    assert state.fault_settings("other") == {}


def _counter_hex() -> Callable[[int], str]:
    count = iter(range(1000))
    return lambda n: f"{next(count):0{2 * n}x}"


def _session(registry: SessionRegistry) -> ExecSession:
    state = demo_state()
    task = next(t for t in state.tasks if t.task_id == WEB_READY_1)
    app = task.container("app")
    assert app is not None
    return registry.create_exec_session(
        cluster="demo", task_arn=task.task_arn, container=app, command="sh", kms_key_id=None
    )


def test_registry_creates_and_finds_sessions() -> None:
    registry = SessionRegistry("ws://127.0.0.1:7000/", random_hex=_counter_hex())
    session = _session(registry)
    assert session.session_id == "ecs-execute-command-00000000000000000"
    assert session.stream_url == (
        "ws://127.0.0.1:7000/v1/data-channel/ecs-execute-command-00000000000000000"
        "?role=publish_subscribe&cell-number=sandbox"
    )
    assert registry.session_by_id(session.session_id) is session
    assert registry.session_by_token(session.token) is session
    assert registry.session_by_token("nope") is None
    assert session.path_mode == "host"
    assert session.status is SessionStatus.CONNECTING


def test_resume_keeps_old_tokens_until_terminated() -> None:
    registry = SessionRegistry(random_hex=_counter_hex())
    session = _session(registry)
    first = session.token
    second = registry.resume_session(session.session_id)
    assert second is not None
    assert second != first
    assert registry.session_by_token(first) is session
    assert registry.session_by_token(second) is session
    assert session.token == second
    registry.terminate_session(session.session_id)
    assert registry.resume_session(session.session_id) is None
    with pytest.raises(KeyError):
        registry.resume_session("unknown")


def test_terminate_calls_listeners_once() -> None:
    registry = SessionRegistry()
    seen: list[str] = []

    def listener(s: ExecSession) -> None:
        seen.append(s.session_id)

    registry.add_terminate_listener(listener)
    session = _session(registry)
    registry.set_status(session.session_id, SessionStatus.CONNECTED)
    assert session.status is SessionStatus.CONNECTED
    assert registry.terminate_session(session.session_id) is True
    assert registry.terminate_session(session.session_id) is False
    registry.set_status(session.session_id, SessionStatus.CONNECTED)
    assert registry.sessions()[0].status is SessionStatus.TERMINATED  # terminal state sticks
    assert seen == [session.session_id]

    other = _session(registry)
    assert registry.terminate_task_sessions(other.task_arn) == [other.session_id]
    registry.remove_terminate_listener(listener)
    third = _session(registry)
    registry.set_status(third.session_id, SessionStatus.TERMINATED)
    assert seen == [session.session_id, other.session_id]


def test_state_file_uses_api_names() -> None:
    text = json.dumps(demo_state().to_dict())
    assert '"taskDefinitions"' in text
    assert '"pathMode": "busybox"' in text
