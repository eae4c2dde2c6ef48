"""--all / --tasks end to end: the CLI in process against a sandbox whose generated fleet
gives each task's container its own working directory, so the output tells which task ran
what. Sessions left running are checked through the sandbox's session registry and its
agent processes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_exec.sandbox.fleet import fleet_task_id
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.sandbox.state import SandboxState, SessionStatus
from tests.clihelpers import Result, clean_env, run_in_process
from tests.conftest import pid_alive

FLEET = [fleet_task_id("demo", "fleet", i) for i in range(5)]
OTHER = [fleet_task_id("demo", "other", i) for i in range(2)]
READY = [FLEET[i] for i in (0, 1, 2, 4)]
PENDING = FLEET[3]
FAILING = FLEET[1]
SHORT = {task_id: task_id[:8] for task_id in FLEET}
WORLD: dict[str, Any] = {
    "fleets": [
        {
            "cluster": "demo",
            "serviceName": "fleet",
            "count": 5,
            "tasks": {"3": {"containers": [{"name": "app", "agentStatus": "PENDING"}]}},
        },
        {"cluster": "demo", "serviceName": "other", "count": 2},
    ]
}
TARGET = ["--cluster", "demo", "--service", "fleet"]
#: Says which task ran it (its working directory), on both streams; one task exits 3.
SCRIPT = (
    'echo "out $(basename "$PWD")"; echo "err $(basename "$PWD")" >&2; '
    f'case "$PWD" in *{FAILING}) exit 3;; esac'
)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Sandbox]:
    with running_sandbox(state=SandboxState.from_dict(WORLD), fast=True) as sandbox:
        yield sandbox
        assert not [pid for pid in sandbox.pids if pid_alive(pid)]


def cli(sandbox: Sandbox, tmp_path: Path, *args: str, stdin: bytes = b"", **env: str) -> Result:
    environ = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url, **env)
    return run_in_process(list(args), environ, stdin=stdin)


def assert_nothing_running(sandbox: Sandbox) -> None:
    """Every session ended in the registry, and every command process the agent started is
    gone. Polled, bounded: the agent sends channel_closed before it closes the link, kills
    the process and records the session terminated, so the CLI may return first."""
    deadline = time.monotonic() + 10
    while True:
        live = [
            s.session_id
            for s in sandbox.state.sessions.sessions()
            if s.status is not SessionStatus.TERMINATED
        ]
        alive = [pid for pid in sandbox.pids if pid_alive(pid)]
        if not (live or alive) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not live, f"sessions still running: {live}"
    assert not alive, f"command processes still running: {alive}"


def test_all_prefixed_output_summary_and_exit_status(fleet: Sandbox, tmp_path: Path) -> None:
    result = cli(fleet, tmp_path, *TARGET, "--all", "--pipe", SCRIPT)
    out, err = result.out.splitlines(), result.err.splitlines()
    # Each ready task's lines, prefixed with its short id, on the matching stream.
    assert sorted(out) == sorted(f"{SHORT[t]} | out {t}" for t in READY)
    for task_id in READY:
        assert f"{SHORT[task_id]} | err {task_id}" in err
    assert (
        f"ecs-exec: task {SHORT[PENDING]}: not-ready: the ExecuteCommandAgent of container "
        "'app' is PENDING" in err
    )
    assert (
        "5 tasks in " in result.err
        and "3 succeeded, 1 failed, 0 could not start or were lost, 1 skipped as not ready"
        in result.err
    )
    assert f"  failed      {SHORT[FAILING]}: exit 3" in err
    assert f"  not ready   {SHORT[PENDING]}: the ExecuteCommandAgent" in result.err
    # A task could not be reached (not ready): 255, whatever the commands did.
    assert result.code == 255
    assert_nothing_running(fleet)


def test_tasks_every_one_reached_some_failed_exits_1(fleet: Sandbox, tmp_path: Path) -> None:
    refs = ",".join([READY[0][:6], f"arn:aws:ecs:us-east-1:123456789012:task/demo/{FAILING}"])
    result = cli(fleet, tmp_path, *TARGET, "--tasks", refs, "-q", "--pipe", SCRIPT)
    assert sorted(result.out.splitlines()) == sorted(
        f"{SHORT[t]} | out {t}" for t in (READY[0], FAILING)
    )
    assert result.code == 1, result.err
    # (exit 0 when every task succeeds: the throttled test below)


def test_json_lines(fleet: Sandbox, tmp_path: Path) -> None:
    script = SCRIPT.replace('echo "out', 'printf "\\377"; echo "out')
    result = cli(fleet, tmp_path, *TARGET, "--all", "-o", "json", "-q", "--pipe", script)
    assert result.code == 255
    assert result.err == ""  # --quiet: no summary; nothing else on stderr
    documents = [json.loads(line) for line in result.out.splitlines()]
    by_id = {d["taskId"]: d for d in documents}
    assert sorted(by_id) == sorted(FLEET)
    keys = {
        *("taskId", "taskArn", "container", "status", "exitStatus", "error", "startedAt"),
        *("durationSeconds", "stdout", "stdoutEncoding", "stderr", "stderrEncoding"),
    }
    for task_id in READY:
        doc = by_id[task_id]
        assert set(doc) == keys
        assert doc["container"] == "app" and doc["taskArn"].endswith(task_id)
        assert doc["status"] == "exited"
        assert doc["exitStatus"] == (3 if task_id == FAILING else 0)
        assert doc["error"] is None
        # Not valid UTF-8: base64, with the flag saying so; stderr is text.
        assert doc["stdoutEncoding"] == "base64"
        assert doc["stdout"] and (doc["stdout"] != f"out {task_id}\n")
        import base64

        assert base64.b64decode(doc["stdout"]) == f"\xffout {task_id}\n".encode("latin-1")
        assert (doc["stderr"], doc["stderrEncoding"]) == (f"err {task_id}\n", "utf-8")
        assert doc["startedAt"].endswith("Z") and doc["durationSeconds"] >= 0
    pending = by_id[PENDING]
    assert pending["status"] == "not-ready" and pending["exitStatus"] is None
    assert "PENDING" in pending["error"] and pending["startedAt"] is None


def test_five_megabytes_of_stdin_reach_every_task_byte_exact(
    fleet: Sandbox, tmp_path: Path
) -> None:
    data = os.urandom(5 * 1024 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    script = 'sha256sum | cut -d" " -f1; basename "$PWD"'
    # Two tasks keep the test short; the spool is the same for any number.
    tasks = ",".join(READY[:2])
    result = cli(
        fleet, tmp_path, *TARGET, "--tasks", tasks, "--group", "--pipe", script, stdin=data
    )
    assert result.code == 0, result.err
    blocks = result.out.splitlines()
    assert len(blocks) == 4
    seen = {blocks[i + 1]: blocks[i] for i in range(0, len(blocks), 2)}
    assert seen == dict.fromkeys(READY[:2], digest)
    # --group: a header on stderr before each task's block.
    assert sorted(line for line in result.err.splitlines() if line.startswith("==>")) == sorted(
        f"==> {SHORT[t]}: exit 0 <==" for t in READY[:2]
    )


def test_tasks_of_another_service_are_refused_under_the_lock(
    fleet: Sandbox, tmp_path: Path
) -> None:
    gateway = {"CLUSTER_NAME": "demo", "SERVICE_NAME": "fleet"}
    before = len(fleet.state.sessions.sessions())
    refused = cli(fleet, tmp_path, "--tasks", f"{READY[0]},{OTHER[0]}", "--", "true", **gateway)
    assert refused.code == 2
    assert f"task '{OTHER[0]}' belongs to service 'other', not to service 'fleet'" in refused.err
    assert len(fleet.state.sessions.sessions()) == before  # before any ExecuteCommand
    widened = cli(fleet, tmp_path, "--service", "other", "--all", "--", "true", **gateway)
    assert widened.code == 2 and "the service is locked to 'fleet'" in widened.err
    # --all stays within the pinned service.
    result = cli(fleet, tmp_path, "--all", "-o", "json", "--", "true", **gateway)
    ids = {json.loads(line)["taskId"] for line in result.out.splitlines()}
    assert ids == set(FLEET)


def test_fail_fast_terminates_the_rest(fleet: Sandbox, tmp_path: Path) -> None:
    # The tasks run in order; two at a time: the first fails at once while the second
    # sleeps, so the second is terminated and the last two never start.
    order = [READY[0], READY[1], READY[2], READY[3]]
    script = f'case "$PWD" in *{order[0]}) exit 7;; esac; sleep 60'
    result = cli(
        fleet,
        tmp_path,
        *TARGET,
        "--tasks",
        ",".join(order),
        "--parallel",
        "2",
        "--fail-fast",
        "-o",
        "json",
        "--pipe",
        script,
    )
    docs = {d["taskId"]: d for d in map(json.loads, result.out.splitlines())}
    assert (docs[order[0]]["status"], docs[order[0]]["exitStatus"]) == ("exited", 7)
    for task_id in order[1:]:
        assert docs[task_id]["status"] == "cancelled", docs[task_id]
        assert docs[task_id]["error"] == f"--fail-fast: task {SHORT[order[0]]} failed"
    assert result.code == 1
    assert "1 cancelled" not in result.err and "3 cancelled" in result.err
    assert_nothing_running(fleet)


def test_timeout_terminates_each_task(fleet: Sandbox, tmp_path: Path) -> None:
    result = cli(
        fleet,
        tmp_path,
        *TARGET,
        "--tasks",
        f"{READY[0]},{READY[1]}",
        "--timeout",
        "500ms",
        "-o",
        "json",
        "--",
        "sleep",
        "60",
    )
    docs = [json.loads(line) for line in result.out.splitlines()]
    assert [d["status"] for d in docs] == ["timed-out", "timed-out"]
    assert all("timed out after 0.5 s (--timeout)" in d["error"] for d in docs)
    assert result.code == 1
    assert_nothing_running(fleet)


def test_ctrl_c_terminates_every_session_and_prints_the_summary(
    fleet: Sandbox, tmp_path: Path
) -> None:
    before = {s.session_id for s in fleet.state.sessions.sessions()}
    returned = threading.Event()

    def interrupt_once_all_run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            new = [
                s
                for s in fleet.state.sessions.sessions()
                if s.session_id not in before and s.status is SessionStatus.CONNECTED
            ]
            if len(new) == len(READY):
                break
            time.sleep(0.02)
        if not returned.is_set():  # never into pytest itself
            os.kill(os.getpid(), signal.SIGINT)

    killer = threading.Thread(target=interrupt_once_all_run)
    killer.start()
    try:
        result = cli(fleet, tmp_path, *TARGET, "--all", "--", "sleep", "60")
    finally:
        returned.set()
        killer.join()
    assert result.code == 130
    assert "ecs-exec: interrupted: 5 tasks in" in result.err
    assert (
        "0 succeeded, 0 failed, 0 could not start or were lost, 1 skipped as not ready, "
        "4 cancelled" in result.err
    )
    assert_nothing_running(fleet)


def test_throttled_execute_command_completes(tmp_path: Path) -> None:
    world = {
        "fleets": [{"cluster": "demo", "serviceName": "fleet", "count": 8}],
        "faults": {
            "api": {
                "ExecuteCommand": {"error": "ThrottlingException", "ratePerSecond": 20, "burst": 2}
            }
        },
    }
    with running_sandbox(state=SandboxState.from_dict(world), fast=True) as sandbox:
        result = cli(sandbox, tmp_path, *TARGET, "--all", "--parallel", "0", "--", "true")
        throttled = [
            r
            for r in sandbox.requests.records
            if r.operation == "ExecuteCommand" and r.status != 200
        ]
    assert result.code == 0, result.err
    assert throttled, "the rate limit never answered ThrottlingException"
    assert "ecs-exec: ExecuteCommand is throttled (ThrottlingException)" in result.err
    assert "8 of 8 sessions started (" in result.err
    assert "8 succeeded" in result.err
    assert "Traceback" not in result.err and "Rate exceeded" not in result.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--all", "-i", "--", "sh"], "interactive sessions are refused"),
        (["--all", "--tasks", "x", "--", "true"], "--all and --tasks cannot be combined"),
        (["--all", "--parallel", "-1", "--", "true"], "--parallel -1 is negative"),
        (["--all", "--timeout", "0", "--", "true"], "--timeout '0' is not a positive duration"),
        (["--all", "--timeout", "soon", "--", "true"], "--timeout 'soon'"),
        (["--tasks", "a,,b", "--", "true"], "--tasks 'a,,b' has an empty task reference"),
        (["--all", "--group", "-o", "json", "--", "true"], "--group and -o json"),
        (["--parallel", "3", "--", "true"], "--parallel goes with --all or --tasks"),
        (["-o", "json", "--", "true"], "-o/--output goes with --all or --tasks"),
        (["--all", "--task", "abc", "--", "true"], "--task and --all cannot be combined"),
        (["--all", "ls"], "--all and --tasks go with exec, not with `ls`"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], needle: str) -> None:
    environ = clean_env(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    result = run_in_process([*TARGET, *args], environ)
    assert result.code == 2, result.err
    assert needle in result.err
