"""Generated fleets in the state file, and rate-limited API faults."""

from __future__ import annotations

import pytest

from ecs_exec.errors import ConfigurationError
from ecs_exec.sandbox import api
from ecs_exec.sandbox.fleet import fleet_task_id, fleet_working_directory
from ecs_exec.sandbox.ratelimit import rate_allows
from ecs_exec.sandbox.state import SandboxState

ECS = "AmazonEC2ContainerServiceV20141113"


def test_a_fleet_is_a_service_with_its_tasks() -> None:
    state = SandboxState.from_dict(
        {
            "fleets": [
                {
                    "serviceName": "fleet",
                    "count": 3,
                    "tasks": {"1": {"containers": [{"name": "app", "agentStatus": "PENDING"}]}},
                }
            ]
        }
    )
    assert list(state.clusters) == ["demo"]
    assert [s.name for s in state.services] == ["fleet"]
    ids = [fleet_task_id("demo", "fleet", i) for i in range(3)]
    assert [t.task_id for t in state.tasks] == ids
    assert {t.group for t in state.tasks} == {"service:fleet"}
    dirs = [t.containers[0].working_directory for t in state.tasks]
    assert dirs == [fleet_working_directory(i) for i in ids]
    agents = [t.containers[0].agent for t in state.tasks]
    assert [a.last_status if a else None for a in agents] == ["RUNNING", "PENDING", "RUNNING"]
    # What the sandbox dumps loads again, as the same world.
    assert SandboxState.from_dict(state.to_dict()).to_dict() == state.to_dict()


def test_a_bad_fleet_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        SandboxState.from_dict({"fleets": [{"serviceName": "x", "count": -1}]})


def test_the_bucket_refills_at_its_rate() -> None:
    buckets: dict[str, list[float]] = {}
    fault = {"ratePerSecond": 2, "burst": 2}
    assert [rate_allows(buckets, "op", fault, 0.0) for _ in range(3)] == [True, True, False]
    assert rate_allows(buckets, "op", fault, 0.5)  # one token back after 0.5 s
    assert not rate_allows(buckets, "op", fault, 0.5)


def test_execute_command_over_the_rate_is_throttled_as_ecs_answers() -> None:
    state = SandboxState.from_dict(
        {
            "fleets": [{"serviceName": "fleet", "count": 1}],
            "faults": {"api": {"ExecuteCommand": {"ratePerSecond": 0.001, "burst": 1}}},
        }
    )
    task = state.tasks[0]
    body = {
        "cluster": "demo",
        "task": task.task_arn,
        "container": "app",
        "command": "true",
        "interactive": True,
    }
    first = api.handle(f"{ECS}.ExecuteCommand", body, state)
    second = api.handle(f"{ECS}.ExecuteCommand", body, state)
    assert first[0] == 200
    assert second == (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
    # Other operations are not limited.
    assert api.handle(f"{ECS}.ListTasks", {"cluster": "demo"}, state)[0] == 200
