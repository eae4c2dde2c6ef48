"""Bad input through the CLI: one clear line, a documented exit code, no traceback.

Most cases run the CLI in process (``ecs_exec.cli.run`` with an injected console); the ones
that depend on the process itself (closed descriptors, argv bytes, the entry point's exit)
run it as a subprocess.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import DEMO_CLUSTERS, clean_env, run_cli, run_in_process

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
        [
            "cluster 'nope' not found in us-east-1",
            f"clusters in us-east-1: {', '.join(DEMO_CLUSTERS)}",
        ],
    ),
    (
        "wrong service",
        ["--cluster", "demo", "--service-name", "nope", "--", "true"],
        TOOL,
        ["service 'nope' not found in cluster 'demo'", "services in cluster 'demo': web, worker"],
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
        ["no container 'nope'", "log-router", "app", "hint: pass --container"],
    ),
    (
        "exec disabled",
        ["--cluster", "demo", "--task", demo.WEB_EXEC_DISABLED, "--", "true"],
        TOOL,
        ["not enabled", "hint: exec must be enabled", "force a new deployment"],
    ),
    (
        "agent not running",
        ["--cluster", "demo", "--task", demo.WEB_AGENT_PENDING, "--", "true"],
        TOOL,
        ["ExecuteCommandAgent", "PENDING", "hint: if the agent is PENDING, retry"],
    ),
    (
        "stopping task",
        ["--cluster", "demo", "--task", demo.WEB_STOPPING, "--", "true"],
        TOOL,
        ["stopping", "hint: a stopping task takes no new sessions"],
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
    ("endpoint not http", ["--endpoint-url", "ftp://example", "ls"], USAGE, ["not an http"]),
]
#: Hints that would mislead for these failures.
WRONG_HINTS = {
    "stopping task": "enable-execute-command",
    "wrong container": "enable-execute-command",
    "agent not running": "enable-execute-command",
}


@pytest.mark.parametrize(("name", "args", "code", "needles"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(api, tmp_path, name, args, code, needles):
    env = clean_env(tmp_path)
    extra = [] if "--endpoint-url" in args else ["--endpoint-url", api.url]
    result = run_in_process([*extra, *args], env)
    check(result, code, *needles)
    if name in WRONG_HINTS:
        assert WRONG_HINTS[name] not in result.err


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
    check(run_in_process(args, env), TOOL, *needles)


def test_no_credentials(api, tmp_path):
    env = clean_env(tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    check(
        run_in_process(["--endpoint-url", api.url, "ls"], env),
        TOOL,
        "no AWS credentials",
        "AWS_PROFILE",
    )


def test_missing_profile(api, tmp_path):
    env = clean_env(tmp_path)
    check(
        run_in_process(["--endpoint-url", api.url, "--profile", "ghost", "ls"], env),
        TOOL,
        "profile 'ghost' does not exist",
    )


def test_no_region(api, tmp_path):
    env = clean_env(tmp_path)
    del env["AWS_REGION"]
    check(run_in_process(["--endpoint-url", api.url, "ls"], env), TOOL, "no AWS region", "--region")


def test_endpoint_down(tmp_path):
    env = clean_env(tmp_path)
    url = f"http://127.0.0.1:{_free_port()}"
    check(run_in_process(["--endpoint-url", url, "ls"], env), TOOL, "could not connect", url)


@pytest.mark.parametrize("how", ["flag", "flag after ls", "environment"])
def test_debug_shows_traceback_and_keeps_the_exit_status(api, tmp_path, how):
    env = clean_env(tmp_path, ECS_EXEC_DEBUG="1" if how == "environment" else "")
    args = ["--endpoint-url", api.url, "--cluster", "nope", "ls"]
    args = {"flag": ["--debug", *args], "flag after ls": [*args, "--debug"]}.get(how, args)
    result = run_in_process(args, env)
    assert result.code == TOOL, result.err
    assert "Traceback" in result.err
    assert "ecs-exec: error: cluster 'nope' not found" in result.err
    assert "unexpected" not in result.err


def test_debug_usage_error_keeps_exit_2(api, tmp_path):
    result = run_in_process(["--debug", "--cluster", "", "ls"], clean_env(tmp_path))
    assert result.code == USAGE
    assert "ecs-exec: error: --cluster is empty" in result.err


def test_env_defaults_and_flag_wins(api, tmp_path):
    # A developer's shell with the gateway variables exported: ECS_EXEC_LOCK=0 lets flags
    # override them (with the scope lock on, --cluster would be refused).
    env = clean_env(tmp_path, CLUSTER_NAME="nope", SERVICE_NAME="web", ECS_EXEC_LOCK="0")
    check(
        run_in_process(["--endpoint-url", api.url, "--", "true"], env),
        TOOL,
        "cluster 'nope' not found",
    )
    result = run_in_process(
        ["--endpoint-url", api.url, "--cluster", "demo", "ls", "-o", "json"], env
    )
    assert result.code == 0, result.err
    assert '"service": "web"' in result.out


def test_bad_task_poll_interval(api, tmp_path):
    env = clean_env(tmp_path, ECS_EXEC_TASK_POLL="soon")
    args = ["--endpoint-url", api.url, "--cluster", "demo", "--service-name", "web", "--", "true"]
    check(run_in_process(args, env), TOOL, "ECS_EXEC_TASK_POLL='soon'")
    assert api.log.counts()["ExecuteCommand"] == 0  # refused before any session starts


# -- the process itself: a few end-to-end runs of the entry point ---------------------------


def test_subprocess_named_error_and_exit_status(api, tmp_path):
    args = ["--endpoint-url", api.url, "ls", "--cluster", "nope"]
    check(run_cli(args, clean_env(tmp_path)), TOOL, "cluster 'nope' not found in us-east-1")


def test_subprocess_debug_from_environment_keeps_255(api, tmp_path):
    env = clean_env(tmp_path, ECS_EXEC_DEBUG="1")
    result = run_cli(["--endpoint-url", api.url, "--cluster", "nope", "--", "true"], env)
    assert result.code == TOOL, result.err
    assert "Traceback" in result.err and "ecs-exec: error: cluster 'nope'" in result.err
