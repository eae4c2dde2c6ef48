"""`ecs-exec run`, `ls --orphans` and `run --cleanup` through the CLI in process, against a
fast sandbox and its request log: the task starts, the session runs as exec's does, and the
task (and any task definition the run registered) is gone afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import api, demo
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.sandbox.state import Task
from tests.clihelpers import Result, clean_env, run_in_process

TOOL = 255
USAGE = 2
WORKER = ["run", "--cluster", "demo", "--service-name", "worker"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(fast=True) as sb:
        yield sb


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: the trimmed botocore model is built once, not per test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path, cache: Path) -> dict[str, str]:
    sandbox.state.faults.clear()
    return clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url, XDG_CACHE_HOME=str(cache))


def started_tasks(sandbox: Sandbox, before: int) -> list[Task]:
    with sandbox.state.lock:
        return sandbox.state.tasks[before:]


def count(sandbox: Sandbox) -> int:
    with sandbox.state.lock:
        return len(sandbox.state.tasks)


def nothing_running(sandbox: Sandbox, before: int) -> None:
    for task in started_tasks(sandbox, before):
        assert (task.desired_status, task.last_status) == ("STOPPED", "STOPPED"), task.task_id


def stop_all(sandbox: Sandbox) -> None:
    """Stop what a test left running, through the sandbox API (no CLI call)."""
    with sandbox.state.lock:
        arns = [t.task_arn for t in sandbox.state.tasks if t.desired_status == "RUNNING"]
    for arn in arns:
        if arn.rsplit("/", 1)[-1] not in demo.ALL_TASK_IDS:
            api.handle(
                api.ECS_PREFIX + ".StopTask", {"cluster": "demo", "task": arn}, sandbox.state
            )


def one_error(result: Result, *needles: str) -> str:
    """The run failed with one error line (and at most a hint); returns the line."""
    assert result.code == TOOL, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if not line.startswith("hint: ")]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("ecs-exec: error: "), result.err
    for needle in needles:
        assert needle in lines[0], (needle, result.err)
    return lines[0]


def test_the_issue_example_prints_hi_exits_3_and_stops_the_task(sandbox, env):
    before = count(sandbox)
    sandbox.requests.clear()
    result = run_in_process(
        [
            *WORKER[:3],
            "--service-name",
            "web",
            "-e",
            "GREETING=hi",
            "--",
            "sh",
            "-c",
            "echo $GREETING; exit 3",
        ],
        env,
    )
    assert (result.code, result.stdout) == (3, b"hi\n"), result.err
    (task,) = started_tasks(sandbox, before)
    assert (task.last_status, task.started_by, task.group) == ("STOPPED", "ecs-exec", "family:web")
    assert task.stopped_reason == "ecs-exec run: the session ended (exit status 3)"
    (run,) = sandbox.requests.bodies("RunTask")
    assert run["enableExecuteCommand"] is True
    assert run["networkConfiguration"]["awsvpcConfiguration"]["subnets"]  # the service's
    (override,) = run["overrides"]["containerOverrides"]
    assert override["name"] == "app"  # the first essential container, not the log router
    assert override["command"][:2] == ["sh", "-c"]
    assert override["command"][-1] == "3600"  # --max-lifetime's default
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["ecs-exec:service"] == "web"
    assert "@" in tags["ecs-exec:started-by"]
    assert "=hi" not in result.err
    assert "ready, exec into container app" in result.err


def test_a_pipe_job_fed_by_stdin_with_an_env_file(sandbox, env, tmp_path):
    before = count(sandbox)
    env_file = tmp_path / "job.env"
    env_file.write_text("# the job's settings\nJOB=nightly\nSECRET\n")
    result = run_in_process(
        [
            *WORKER,
            "--env-file",
            str(env_file),
            "-e",
            "JOB=override",
            "--debug",
            "--pipe",
            'echo "$JOB $SECRET"; wc -c',
        ],
        {**env, "SECRET": "from-ci"},
        stdin=b"x" * 100_000,
    )
    assert (result.code, result.out.split()) == (0, ["override", "from-ci", "100000"]), result.err
    assert "from-ci" not in result.err and "override" not in result.err  # --debug too
    nothing_running(sandbox, before)


def test_image_registers_reuses_and_deregisters(sandbox, env):
    sandbox.requests.clear()
    image = ["--image", "public.ecr.aws/docker/library/busybox:1.37", "-q"]
    kept = run_in_process([*WORKER, *image, "--keep", "--", "true"], env)
    assert kept.code == 0, kept.err
    assert sandbox.requests.counts()["RegisterTaskDefinition"] == 1
    (registered,) = sandbox.requests.bodies("RegisterTaskDefinition")
    assert registered["family"] == "worker-ecs-exec"
    assert registered["containerDefinitions"][0]["image"].endswith("busybox:1.37")
    assert sandbox.requests.counts()["DeregisterTaskDefinition"] == 0  # --keep
    assert "keeps running" in kept.err and "ecs-exec --cluster demo --task" in kept.err

    sandbox.requests.clear()
    again = run_in_process([*WORKER, *image, "--", "true"], env)
    assert again.code == 0, again.err
    counts = sandbox.requests.counts()
    assert (counts["RegisterTaskDefinition"], counts["DeregisterTaskDefinition"]) == (0, 0)
    assert sandbox.requests.bodies("RunTask")[0]["taskDefinition"].endswith("worker-ecs-exec:1")

    sandbox.requests.clear()
    other = run_in_process([*WORKER, "--image", "busybox:musl", "-q", "--", "true"], env)
    assert other.code == 0, other.err
    (deregistered,) = sandbox.requests.bodies("DeregisterTaskDefinition")
    assert deregistered["taskDefinition"].endswith(":task-definition/worker-ecs-exec:2")
    assert sandbox.requests.counts()["RegisterTaskDefinition"] == 1
    cleaned = run_in_process(["run", "--cluster", "demo", "--cleanup", "-q"], env)
    kept_id = kept.err.split("task ", 1)[1].split()[0]
    assert cleaned.out == f"stopped {kept_id}\nderegistered worker-ecs-exec:1\n", cleaned.err


@pytest.mark.parametrize(
    ("args", "fault", "needles"),
    [
        (
            ["--image", "registry.example.invalid/app:1"],
            None,
            ["stopped while starting: CannotPullContainerError", "registry.example.invalid"],
        ),
        (
            ["--image", "gcr.io/distroless/static-debian12"],
            None,
            ["stopped while starting: CannotStartContainerError", 'exec: "sh": executable'],
        ),
        (
            ["--launch-type", "EC2", "--memory", "8192"],
            None,
            ["ECS could not place the task: RESOURCE:MEMORY"],
        ),
        (
            ["--subnet", "subnet-0nope"],
            None,
            ["ecs:RunTask failed", "The subnet ID 'subnet-0nope' does not exist"],
        ),
        (
            [],
            {"agentStatus": "STOPPED", "agentReason": "no route to ssmmessages"},
            ["the exec agent of container worker", "stopped: no route to ssmmessages"],
        ),
        (
            ["--wait-timeout", "0.1s"],
            {"agentStatus": "PENDING"},
            ["did not start within 0.1s (--wait-timeout)"],
        ),
    ],
)
def test_each_start_failure_is_one_line_255_and_nothing_left(sandbox, env, args, fault, needles):
    if fault:
        sandbox.state.faults["task"] = fault
    before = count(sandbox)
    result = run_in_process([*WORKER, "-q", *args, "--", "true"], env)
    one_error(result, *needles)
    assert result.stdout == b""
    nothing_running(sandbox, before)
    if "CannotStartContainerError" in needles[0]:
        assert "hint: container worker could not run the keep-alive, which needs sh" in result.err


def test_a_lost_connection_still_stops_the_task(sandbox, env):
    sandbox.set_default_faults({"dropAfterMessages": 3, "refuseResume": True})
    before = count(sandbox)
    try:
        result = run_in_process(
            [*WORKER, "-q", "--", "sh", "-c", "while :; do echo tick; sleep 0.01; done"], env
        )
    finally:
        sandbox.state.faults.clear()
    line = one_error(result, "the session ended while disconnected")
    (task,) = started_tasks(sandbox, before)
    assert task.last_status == "STOPPED"
    assert task.stopped_reason == "ecs-exec run: " + line.removeprefix("ecs-exec: error: ")


def test_cleanup_failure_prints_the_command_that_finishes_it(sandbox, env):
    sandbox.state.faults["api"] = {"StopTask": {"error": "AccessDeniedException", "times": -1}}
    before = count(sandbox)
    try:
        result = run_in_process([*WORKER, "-q", "--", "true"], env)
    finally:
        sandbox.state.faults.clear()
    (task,) = started_tasks(sandbox, before)
    assert result.code == 0, result.err
    assert "ecs-exec: warning: cleanup failed: access denied" in result.err
    assert f"aws ecs stop-task --cluster demo --task {task.task_id}" in result.err
    stop_all(sandbox)


def test_orphans_are_listed_and_cleaned_up(sandbox, env):
    kept = run_in_process([*WORKER, "-q", "--keep", "--", "true"], env)
    assert kept.code == 0, kept.err
    listed = run_in_process(["ls", "--cluster", "demo", "--orphans", "-o", "json"], env)
    orphans = json.loads(listed.stdout)["orphans"]
    assert [o["service"] for o in orphans] == ["worker"]
    cleaned = run_in_process(["run", "--cluster", "demo", "--cleanup"], env)
    assert (cleaned.code, cleaned.out) == (0, f"stopped {orphans[0]['taskId']}\n")
    after = run_in_process(["ls", "--cluster", "demo", "--orphans"], env)
    assert (after.out, after.err) == ("", "ecs-exec: no task started by ecs-exec runs in demo\n")


def test_env_values_never_show_and_the_overrides_limit_names_the_variables(sandbox, env):
    sandbox.requests.clear()
    secret = "s3cr3t-" + "v" * 9000
    result = run_in_process(
        [*WORKER, "--debug", "-e", f"BIG={secret}", "-e", "SMALL=1", "--", "true"], env
    )
    assert result.code == USAGE
    assert "BIG (" in result.err and "SMALL" not in result.err
    assert "over its limit of 8192" in result.err
    assert "s3cr3t" not in result.err
    assert sandbox.requests.counts()["RunTask"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["run", "--cluster", "demo", "--", "true"],
            "run needs --service-name or --task-definition",
        ),
        (
            ["run", "--cluster", "demo", "--task-definition", "worker:1", "--", "true"],
            "uses the awsvpc network mode, which needs subnets",
        ),
        ([*WORKER, "--max-lifetime", "soon", "--", "true"], "--max-lifetime 'soon' is not a"),
        ([*WORKER, "-e", "1BAD=x", "--", "true"], "'1BAD' is not a variable name"),
        ([*WORKER, "-e", "UNSET_HERE", "--", "true"], "UNSET_HERE has no value here"),
        ([*WORKER, "--older-than", "1h", "--", "true"], "--older-than goes with --cleanup"),
        ([*WORKER, "--launch-type", "LAMBDA", "--", "true"], "--launch-type 'LAMBDA'"),
    ],
)
def test_usage_errors_exit_2_before_any_task(sandbox, env, args, needle):
    before = count(sandbox)
    result = run_in_process(args, env)
    assert result.code == USAGE, result.err
    assert needle in result.err, result.err
    assert count(sandbox) == before


def test_run_is_refused_under_the_scope_lock(sandbox, env):
    locked = {**env, "CLUSTER_NAME": "demo", "SERVICE_NAME": "web"}
    before = count(sandbox)
    result = run_in_process(["run", "--", "true"], locked)
    assert result.code == USAGE
    assert "`run` refused under the scope lock" in result.err
    assert count(sandbox) == before
