"""A gateway's connection command with user arguments appended, through the real process and
the sandbox (agent included): the lock refuses before any call, allowed arguments run."""

from __future__ import annotations

import pytest

from ecs_exec.sandbox import demo
from tests.clihelpers import run_cli

CONNECTION = ["--interactive", "--cluster=demo", "--service-name=web"]


@pytest.fixture
def gateway_env(fast_sandbox, env_for):
    return env_for(fast_sandbox, CLUSTER_NAME="demo", SERVICE_NAME="web", CONTAINER="app")


@pytest.mark.parametrize(
    "user",
    [
        ["--sandbox", "--", "sh", "-c", "echo $AWS_SECRET_ACCESS_KEY"],
        ["--endpoint-url", "https://attacker.example", "--", "true"],
        ["--cluster", "staging", "--", "true"],
        ["--task", demo.WORKER_READY, "--service-name", "worker", "--", "true"],
        ["--container", "log-router", "--", "true"],
    ],
    ids=["sandbox", "endpoint", "cluster", "service", "container"],
)
def test_refused_with_no_call(fast_sandbox, gateway_env, user):
    fast_sandbox.requests.clear()
    result = run_cli([*CONNECTION, *user], gateway_env)
    assert result.code == 2, result.err
    assert result.stdout == b""
    assert len(result.err.splitlines()) == 1
    assert "ECS_EXEC_LOCK=0 turns the lock off" in result.err
    assert fast_sandbox.requests.records == []


def test_a_task_of_another_service_never_reaches_execute_command(fast_sandbox, gateway_env):
    fast_sandbox.requests.clear()
    result = run_cli([*CONNECTION, "--task", demo.WORKER_READY, "--", "true"], gateway_env)
    assert result.code == 2, result.err
    assert "belongs to service 'worker'" in result.err
    assert fast_sandbox.requests.counts()["ExecuteCommand"] == 0


def test_allowed_arguments_run(gateway_env):
    args = [*CONNECTION, "-q", "--task", demo.WEB_READY_1, "--container", "app", "--"]
    result = run_cli([*args, "sh", "-c", "echo ok; exit 3"], gateway_env)
    assert (result.code, result.stdout, result.stderr) == (3, b"ok\n", b"")
    piped = run_cli([*CONNECTION, "-q", "--pipe", "wc -c"], gateway_env, stdin=b"12345")
    assert (piped.code, piped.stdout.split()) == (0, [b"5"])


def test_connection_debug_logs_without_secrets(gateway_env):
    result = run_cli([*CONNECTION, "--", "true"], {**gateway_env, "CONNECTION_DEBUG": "1"})
    assert result.code == 0, result.err
    assert "seq=" in result.err  # the data channel's log: CONNECTION_DEBUG=1 is --debug
    for secret in ("tokenValue", "TokenValue", "AWS_SECRET_ACCESS_KEY", "Traceback"):
        assert secret not in result.err
