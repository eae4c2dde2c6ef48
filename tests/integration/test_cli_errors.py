"""Bad input through the real CLI process: one clear line, a documented exit code, no traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import clean_env, run_cli

TOOL = 255
USAGE = 2


@pytest.fixture
def api(tmp_path: Path) -> Iterator[SandboxHttpServer]:
    with SandboxHttpServer(demo.demo_state()) as server:
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def check(result, code: int, *needles: str) -> None:
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err, result.err
    first = result.err.splitlines()[0] if result.err else ""
    assert first.startswith("ecs-exec: error: "), result.err
    for needle in needles:
        assert needle.lower() in result.err.lower(), (needle, result.err)
    assert result.stdout == b""


CASES = [
    (
        "wrong cluster",
        ["--cluster", "nope", "--service-name", "web", "--", "true"],
        TOOL,
        ["cluster not found"],
    ),
    (
        "wrong service",
        ["--cluster", "demo", "--service-name", "nope", "--", "true"],
        TOOL,
        ["service not found"],
    ),
    (
        "unknown task id",
        ["--cluster", "demo", "--task", "f" * 32, "--", "true"],
        TOOL,
        ["not found"],
    ),
    (
        "unknown task prefix",
        ["--cluster", "demo", "--task", "ffff", "--", "true"],
        TOOL,
        ["no running task id starts with 'ffff'"],
    ),
    (
        "wrong container",
        ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "nope", "--", "true"],
        TOOL,
        ["no container 'nope'", "log-router", "app"],
    ),
    (
        "exec disabled",
        ["--cluster", "demo", "--task", demo.WEB_EXEC_DISABLED, "--", "true"],
        TOOL,
        ["not enabled", "force a new deployment"],
    ),
    (
        "agent not running",
        ["--cluster", "demo", "--task", demo.WEB_AGENT_PENDING, "--", "true"],
        TOOL,
        ["ExecuteCommandAgent", "PENDING"],
    ),
    (
        "stopping task",
        ["--cluster", "demo", "--task", demo.WEB_STOPPING, "--", "true"],
        TOOL,
        ["stopping"],
    ),
    (
        "no ready task in service",
        ["--cluster", "staging", "--service-name", "web", "--", "true"],
        TOOL,
        ["no task of service 'web'", "exec was not enabled"],
    ),
    (
        "several clusters, none named",
        ["--service-name", "web", "--", "true"],
        TOOL,
        ["several clusters", "--cluster", "staging"],
    ),
    (
        "pipe and argv together",
        ["--cluster", "demo", "--pipe", "x", "--", "y"],
        USAGE,
        ["cannot be combined"],
    ),
    ("empty command", ["--cluster", "demo", "--"], USAGE, ["empty"]),
    ("unknown flag", ["--cluster", "demo", "--frobnicate"], USAGE, ["--frobnicate"]),
    ("command without --", ["--cluster", "demo", "echo", "hi"], USAGE, ["after `--`"]),
    ("bad transport", ["--transport", "carrier-pigeon", "--", "true"], USAGE, ["transport"]),
    ("bad ls output", ["ls", "--output", "xml"], USAGE, ["xml"]),
    ("interactive with ls", ["--interactive", "ls"], USAGE, ["not with `ls`"]),
    ("blank --pipe", ["--cluster", "demo", "--pipe", " "], USAGE, ["--pipe needs"]),
    ("endpoint not http", ["--endpoint-url", "ftp://example", "ls"], TOOL, ["not an http"]),
]


@pytest.mark.parametrize(("name", "args", "code", "needles"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(api, tmp_path, name, args, code, needles):
    env = clean_env(tmp_path)
    extra = [] if "--endpoint-url" in args else ["--endpoint-url", api.url]
    check(run_cli([*extra, *args], env), code, *needles)


@pytest.mark.parametrize(
    ("operation", "error", "needles"),
    [
        ("ExecuteCommand", "AccessDeniedException", ["ecs:ExecuteCommand", "access denied"]),
        ("ListTasks", "AccessDeniedException", ["ecs:ListTasks"]),
        ("ListTasks", "ThrottlingException", ["throttled"]),
        ("*", "ExpiredTokenException", ["expired"]),
        ("*", "UnrecognizedClientException", ["rejected the credentials"]),
        ("ExecuteCommand", "TargetNotConnectedException", ["could not connect", "ssmmessages"]),
    ],
)
def test_api_faults(api, tmp_path, operation, error, needles):
    api.state.faults = {"api": {operation: {"error": error, "times": -1}}}
    env = clean_env(tmp_path)
    args = ["--endpoint-url", api.url, "--cluster", "demo", "--service-name", "web", "--", "true"]
    check(run_cli(args, env), TOOL, *needles)


def test_no_credentials(api, tmp_path):
    env = clean_env(tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    check(
        run_cli(["--endpoint-url", api.url, "ls"], env), TOOL, "no AWS credentials", "AWS_PROFILE"
    )


def test_missing_profile(api, tmp_path):
    env = clean_env(tmp_path)
    check(
        run_cli(["--endpoint-url", api.url, "--profile", "ghost", "ls"], env),
        TOOL,
        "profile 'ghost' does not exist",
    )


def test_no_region(api, tmp_path):
    env = clean_env(tmp_path)
    del env["AWS_REGION"]
    check(run_cli(["--endpoint-url", api.url, "ls"], env), TOOL, "no AWS region", "--region")


def test_endpoint_down(tmp_path):
    env = clean_env(tmp_path)
    url = f"http://127.0.0.1:{_free_port()}"
    check(run_cli(["--endpoint-url", url, "ls"], env), TOOL, "could not connect", url)


def test_debug_shows_traceback(api, tmp_path):
    env = clean_env(tmp_path)
    result = run_cli(["--debug", "--endpoint-url", api.url, "--cluster", "nope", "ls"], env)
    assert result.code != 0
    assert "Traceback" in result.err


def test_env_defaults_and_flag_wins(api, tmp_path):
    env = clean_env(tmp_path, CLUSTER_NAME="nope", SERVICE_NAME="web")
    check(run_cli(["--endpoint-url", api.url, "--", "true"], env), TOOL, "cluster not found")
    result = run_cli(["--endpoint-url", api.url, "--cluster", "demo", "ls", "-o", "json"], env)
    assert result.code == 0, result.err
    assert '"service": "web"' in result.out


def test_bad_task_poll_interval(api, tmp_path):
    env = clean_env(tmp_path, ECS_EXEC_TASK_POLL="soon")
    args = ["--endpoint-url", api.url, "--cluster", "demo", "--service-name", "web", "--", "true"]
    check(run_cli(args, env), TOOL, "ECS_EXEC_TASK_POLL='soon'")
    assert api.log.counts()["ExecuteCommand"] == 0  # refused before any session starts
