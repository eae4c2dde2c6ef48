"""The scope lock through the CLI, in process, against the sandbox API and its request log:
every widening argument appended to a gateway's connection command exits 2 before any AWS
call; what stays allowed still works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import Result, clean_env, run_in_process

USAGE = 2
TOOL = 255
CONNECTION = ["--interactive", "--cluster=demo", "--service-name=web"]


@pytest.fixture
def api() -> Iterator[SandboxHttpServer]:
    with SandboxHttpServer(demo.demo_state()) as server:
        yield server


@pytest.fixture
def gateway(api, tmp_path: Path) -> dict[str, str]:
    """What a gateway's administrator sets: the target, and the endpoint and region."""
    return clean_env(tmp_path, CLUSTER_NAME="demo", SERVICE_NAME="web", AWS_ENDPOINT_URL=api.url)


def refused(result: Result, *needles: str) -> None:
    assert result.code == USAGE, (result.code, result.err)
    assert result.stdout == b""
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err  # one line
    assert lines[0].startswith("ecs-exec: error: "), result.err
    assert "ECS_EXEC_LOCK=0 turns the lock off" in lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, result.err)


WIDENING = [
    (["--cluster", "staging"], "the cluster is locked to 'demo'"),
    (["--cluster=secure"], "the cluster is locked to 'demo'"),
    (["--service-name", "worker"], "the service is locked to 'web'"),
    (["--service", "worker"], "the service is locked to 'web'"),
    (["--region", "eu-west-1"], "the region is locked to 'us-east-1'"),
    (["--profile", "admin"], "the profile is locked"),
    (["--endpoint-url", "https://attacker.example"], "the endpoint is locked"),
    (["--transport", "plugin"], "the transport is locked to 'native'"),
    (["--context", "other"], "the context is locked"),
    (["--sandbox", "--", "sh", "-c", "env"], "--sandbox refused"),
    (["--sandbox", "ls"], "--sandbox refused"),
    (["sandbox"], "`sandbox` refused"),
    (["context", "ls"], "`context` refused"),
    (["context", "create", "x", "--endpoint-url", "https://attacker.example"], "refused"),
    (["ls", "--cluster", "staging"], "the cluster is locked"),
    (["ls", "--service", "worker"], "the service is locked"),
    (["--install-completion"], "--install-completion refused"),
    (["--show-completion"], "--show-completion refused"),
]


@pytest.mark.parametrize(("user", "needle"), WIDENING, ids=lambda v: str(v)[:40])
def test_widening_arguments_are_refused_before_any_call(api, gateway, user, needle):
    refused(run_in_process([*CONNECTION, *user], gateway), needle)
    assert api.log.records == []


def test_container_pinned_and_allowed(api, gateway):
    env = {**gateway, "CONTAINER": "app"}
    refused(
        run_in_process([*CONNECTION, "--container", "log-router", "--", "true"], env),
        "the container is locked to 'app'",
    )
    assert api.log.records == []
    env["ECS_EXEC_ALLOWED_CONTAINERS"] = "app,log-router"
    result = run_in_process([*CONNECTION, "--container", "log-router", "--", "true"], env)
    assert "locked" not in result.err  # allowed: it gets as far as the session
    assert api.log.counts()["ExecuteCommand"] == 1


def test_a_task_of_another_service_is_refused_before_execute_command(api, gateway):
    result = run_in_process([*CONNECTION, "--task", demo.WORKER_READY, "--", "true"], gateway)
    assert result.code == USAGE, result.err
    assert "belongs to service 'worker', not to service 'web'" in result.err
    counts = api.log.counts()
    assert counts["DescribeTasks"] == 1
    assert counts["ExecuteCommand"] == 0


def test_a_task_of_the_pinned_service_is_allowed(api, gateway):
    run_in_process([*CONNECTION, "--task", demo.WEB_READY_1, "--", "true"], gateway)
    bodies = api.log.bodies("ExecuteCommand")
    assert [b["task"].rsplit("/", 1)[-1] for b in bodies] == [demo.WEB_READY_1]


def test_repeating_the_pinned_values_is_allowed(api, gateway):
    args = [*CONNECTION, "--cluster", "demo", "--service", "web", "--region", "us-east-1"]
    run_in_process([*args, "--endpoint-url", api.url, "-q", "--", "true"], gateway)
    assert api.log.counts()["ExecuteCommand"] == 1


def test_ls_lists_the_pinned_service_only(api, gateway):
    result = run_in_process(["ls", "-o", "json"], gateway)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert (document["cluster"], document["service"]) == ("demo", "web")
    listed = {b.get("serviceName") for b in api.log.bodies("ListTasks")}
    assert listed == {"web"}
    assert api.log.counts()["ListClusters"] == 0


def test_ls_needs_a_pinned_service(api, tmp_path):
    env = clean_env(tmp_path, ECS_EXEC_LOCK="1", CLUSTER_NAME="demo", AWS_ENDPOINT_URL=api.url)
    refused(run_in_process(["ls"], env), "no service is pinned")
    assert api.log.records == []


def test_the_lock_can_be_turned_off(api, gateway):
    result = run_in_process(
        ["ls", "--cluster", "staging", "-o", "json"],
        {**gateway, "ECS_EXEC_LOCK": "0"},
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["cluster"] == "staging"


def test_a_bad_switch_value_fails_closed(api, gateway):
    result = run_in_process(["ls"], {**gateway, "ECS_EXEC_LOCK": "maybe"})
    assert result.code == USAGE
    assert "ECS_EXEC_LOCK='maybe' is neither 1 nor 0" in result.err
    assert api.log.records == []


def test_a_locked_context(api, tmp_path):
    env = clean_env(tmp_path)
    create = [
        "context",
        "create",
        "pinned",
        "--endpoint-url",
        api.url,
        "--cluster",
        "demo",
        "--service",
        "web",
        "--locked",
    ]
    assert run_in_process(create, env).code == 0
    refused(
        run_in_process(["--context", "pinned", "ls", "--cluster", "staging"], env),
        "context 'pinned' is locked",
    )
    assert run_in_process(["context", "use", "pinned"], env).code == 0
    refused(run_in_process(["--context", "other", "ls"], env), "the context is locked")
    refused(run_in_process(["--endpoint-url", "http://127.0.0.1:9", "ls"], env), "endpoint")
    assert api.log.records == []
    result = run_in_process(["ls", "-o", "json"], env)
    assert json.loads(result.out)["service"] == "web"
    debug = run_in_process(["--debug", "ls", "--cluster", "staging"], env)
    refused(debug, "context 'pinned' is locked")  # one line: no traceback


def test_connection_debug_acts_as_debug_without_tracebacks_under_the_lock(api, tmp_path):
    base = clean_env(tmp_path, CLUSTER_NAME="nope", SERVICE_NAME="web", AWS_ENDPOINT_URL=api.url)
    locked = run_in_process(["--", "true"], {**base, "CONNECTION_DEBUG": "1"})
    assert locked.code == TOOL
    assert "cluster 'nope' not found" in locked.err
    assert "Traceback" not in locked.err
    assert str(Path(__file__).parent.parent.parent) not in locked.err  # no local paths
    unlocked = run_in_process(
        ["--", "true"], {**base, "CONNECTION_DEBUG": "1", "ECS_EXEC_LOCK": "0"}
    )
    assert unlocked.code == TOOL
    assert "Traceback" in unlocked.err  # CONNECTION_DEBUG=1 is --debug
    refusal = run_in_process(["--debug", "--cluster", "x"], {**base, "CONNECTION_DEBUG": "1"})
    assert refusal.code == USAGE
    assert "Traceback" not in refusal.err
