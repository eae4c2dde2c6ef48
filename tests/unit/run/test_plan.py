"""From a `run` request to the RunTask call, against a fake launcher (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ecs_exec.aws.runtask import (
    ContainerSpec,
    ContainerState,
    NetworkConfig,
    ServiceLaunch,
    TaskDefinitionSpec,
    TaskState,
)
from ecs_exec.errors import UsageError
from ecs_exec.run import keepalive
from ecs_exec.run.lifecycle import stopped_error
from ecs_exec.run.plan import (
    TAG_DIGEST,
    TAG_EXPIRES,
    TAG_SERVICE,
    ensure_task_definition,
    plan_launch,
)
from ecs_exec.run.progress import Progress
from ecs_exec.run.request import EnvVar, RunRequest

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SERVICE_NETWORK = NetworkConfig(("subnet-a", "subnet-b"), ("sg-1",), False)


def spec(*, entry_point: tuple[str, ...] | None = None, mode: str = "awsvpc") -> TaskDefinitionSpec:
    return TaskDefinitionSpec(
        arn="arn:aws:ecs:us-east-1:1:task-definition/web:3",
        family="web",
        revision=3,
        network_mode=mode,
        containers=(
            ContainerSpec("log-router", "fluent-bit", essential=False, entry_point=None),
            ContainerSpec("app", "app:1", essential=True, entry_point=entry_point),
        ),
        register_input={
            "family": "web",
            "networkMode": mode,
            "containerDefinitions": [
                {"name": "log-router", "image": "fluent-bit"},
                {"name": "app", "image": "app:1", "command": ["serve"]},
            ],
        },
    )


class FakeLauncher:
    def __init__(self, definition: TaskDefinitionSpec, existing: str | None = None) -> None:
        self.definition = definition
        self.existing = existing
        self.registered: list[tuple[dict[str, Any], dict[str, str]]] = []

    def service_launch(self, cluster: str, service: str) -> ServiceLaunch:
        return ServiceLaunch(
            task_definition="web:3",
            network=SERVICE_NETWORK,
            launch_type=None,
            capacity_provider_strategy=({"capacityProvider": "FARGATE_SPOT", "weight": 1},),
            platform_version="1.4.0",
        )

    def task_definition(self, ref: str) -> TaskDefinitionSpec:
        return self.definition

    def find_tagged_revision(self, family: str, key: str, value: str) -> str | None:
        return self.existing

    def register(self, register_input: dict[str, Any], tags: dict[str, str]) -> str:
        self.registered.append((register_input, tags))
        return f"arn:aws:ecs:us-east-1:1:task-definition/{register_input['family']}:1"


def plan(request: RunRequest, launcher: FakeLauncher) -> Any:
    return plan_launch(launcher, request, "prod", now=NOW)  # type: ignore[arg-type]


def test_a_service_gives_network_strategy_and_the_first_essential_container():
    launcher = FakeLauncher(spec())
    request = RunRequest(service="web", environment=(EnvVar("A", "1"),), max_lifetime=90)
    got = plan(request, launcher)
    params = got.run_input.to_api()
    assert got.container == "app"
    assert params["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED",
    }
    assert params["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "launchType" not in params and params["platformVersion"] == "1.4.0"
    (target,) = params["overrides"]["containerOverrides"]
    assert target["command"] == keepalive.command(90)
    assert params["startedBy"] == "ecs-exec" and params["enableExecuteCommand"] is True
    tags = {t["key"]: t["value"] for t in params["tags"]}
    assert tags[TAG_SERVICE] == "web" and tags[TAG_EXPIRES] == "2026-01-02T03:05:35Z"
    assert got.derived is None


def test_flags_override_the_service():
    request = RunRequest(
        service="web",
        subnets=("subnet-z",),
        public_ip=True,
        launch_type="EC2",
        container="log-router",
    )
    params = plan(request, FakeLauncher(spec())).run_input.to_api()
    assert params["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-z"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "ENABLED",
    }
    assert params["launchType"] == "EC2"
    assert "capacityProviderStrategy" not in params and "platformVersion" not in params
    assert params["overrides"]["containerOverrides"][0]["name"] == "log-router"


def test_an_awsvpc_task_definition_alone_needs_subnets():
    with pytest.raises(UsageError, match="web:3 uses the awsvpc network mode"):
        plan(RunRequest(task_definition="web:3"), FakeLauncher(spec()))
    bridge = plan(RunRequest(task_definition="web:3"), FakeLauncher(spec(mode="bridge")))
    assert "networkConfiguration" not in bridge.run_input.to_api()


def test_image_and_entry_point_make_a_derived_revision_reused_when_identical():
    launcher = FakeLauncher(spec(entry_point=("/docker-entrypoint.sh",)))
    got = plan(RunRequest(service="web", image="app:2"), launcher)
    assert got.derived is not None
    app = got.derived.register_input["containerDefinitions"][1]
    assert (app["image"], app["entryPoint"]) == ("app:2", list(keepalive.ENTRY_POINT))
    assert "command" not in app
    assert got.derived.family == "web-ecs-exec"
    assert plan(RunRequest(service="web", image="app:2"), launcher).derived == got.derived

    ran, registered = ensure_task_definition(launcher, got)  # type: ignore[arg-type]
    assert registered and ran.run_input.task_definition.endswith("web-ecs-exec:1")
    assert launcher.registered[0][1][TAG_DIGEST] == got.derived.digest
    reusing = FakeLauncher(
        spec(), existing="arn:aws:ecs:us-east-1:1:task-definition/web-ecs-exec:7"
    )
    ran, registered = ensure_task_definition(reusing, got)  # type: ignore[arg-type]
    assert not registered and ran.run_input.task_definition.endswith(":7")
    assert reusing.registered == []


def _stopped(reason: str, container_reason: str | None = None, exit_code: int | None = None):
    return TaskState(
        arn="arn:aws:ecs:us-east-1:1:task/prod/abc",
        last_status="STOPPED",
        desired_status="STOPPED",
        stopped_reason=reason,
        containers=(ContainerState("app", "STOPPED", container_reason, exit_code, None, None),),
    )


def test_stopped_errors_carry_aws_reasons_and_a_fitting_hint():
    pull = stopped_error(
        _stopped(
            "CannotPullContainerError: no such host", "CannotPullContainerError: no such host"
        ),
        "app",
    )
    assert str(pull) == "task abc stopped while starting: CannotPullContainerError: no such host"
    assert pull.hint is not None and "image name" in pull.hint and pull.task_id == "abc"
    shell = stopped_error(_stopped("Essential container in task exited", exit_code=127), "app")
    assert "container app exited with status 127" in str(shell)
    assert shell.hint is not None and "sh and sleep" in shell.hint


class _Err:
    def __init__(self, tty: bool) -> None:
        self.text = ""
        self.stderr_isatty = tty

    def write_err(self, text: str) -> None:
        self.text += text


@pytest.mark.parametrize(("tty", "quiet"), [(True, False), (False, False), (False, True)])
def test_progress_live_plain_or_quiet(tty, quiet):
    err = _Err(tty)
    times = [0.0]  # started at 0, then 4 s later whenever asked
    progress = Progress(err, quiet=quiet, clock=lambda: times.pop() if times else 4.0)  # type: ignore[arg-type]
    progress.task_id = "abc"
    for status in ("PROVISIONING", "PENDING", "PENDING"):
        progress.phase(status)
    progress.done("ready")
    if quiet:
        assert err.text == ""
    elif tty:
        assert err.text.count("\r\x1b[K") == 4 and err.text.count("\n") == 1
    else:
        assert err.text.splitlines() == [
            "ecs-exec: task abc: provisioning (ECS is finding capacity and attaching the network)",
            "ecs-exec: task abc: pending (pulling the image, starting the containers)",
            "ecs-exec: task abc: ready (4s)",
        ]


def test_an_unknown_container_lists_the_task_definitions():
    with pytest.raises(UsageError) as exc:
        plan(RunRequest(service="web", container="nope"), FakeLauncher(spec()))
    assert str(exc.value) == "container 'nope' is not in task definition web:3"
    assert exc.value.hint == "its containers: log-router, app"
