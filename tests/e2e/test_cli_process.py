"""The ecs-exec process as a shell runs it: closed or full standard streams, argv bytes,
empty AWS_* variables, --debug through the entry point. One line and a documented status,
never a traceback or "unexpected"."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.clihelpers import ECS_EXEC, ROOT, Result

TOOL = 255
USAGE = 2


def sh(redirect: str, args: list[str | bytes], env: dict[str, str], stdin: bytes = b"") -> Result:
    """Run ecs-exec under sh with ``redirect`` applied (e.g. ``<&-``, ``>/dev/full``)."""
    proc = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirect}', "sh", *ECS_EXEC, *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        cwd=ROOT,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def one_line(result: Result, code: int, needle: str) -> None:
    assert result.code == code, (result.code, result.err)
    assert result.err.startswith("ecs-exec: error: "), result.err
    assert needle in result.err, result.err
    assert "Traceback" not in result.err and "unexpected" not in result.err


@pytest.fixture
def env(fast_sandbox, env_for) -> dict[str, str]:
    return env_for(fast_sandbox, CLUSTER_NAME="demo", SERVICE_NAME="web", CONTAINER="app")


def test_closed_stdin_reads_as_empty(env):
    result = sh("<&-", ["--", "sh", "-c", "wc -c; echo done"], env)
    assert (result.code, result.out.split()) == (0, ["0", "done"]), result.err


def test_closed_stdout_is_an_error(env):
    one_line(sh(">&-", ["--", "echo", "hi"], env), TOOL, "stdout is closed")


def test_closed_stderr_keeps_the_status(env):
    result = sh("2>&-", ["--", "sh", "-c", "echo out; exit 3"], env)
    assert (result.code, result.stdout) == (3, b"out\n")


@pytest.mark.parametrize("args", [["ls"], ["--", "echo", "hi"], ["--help"]])
def test_stdout_on_a_full_disk(env, args):
    result = sh(">/dev/full", args, env)
    assert result.code == TOOL, result.err
    assert result.err.startswith("ecs-exec: error: "), result.err
    assert "No space left on device" in result.err
    assert "Traceback" not in result.err and "unexpected" not in result.err


def test_non_utf8_argv_bytes(env):
    result = sh("", ["--", "echo", b"caf\xe9"], env)
    one_line(result, USAGE, "argument 3 ('caf\\xe9') is not valid UTF-8")


def test_empty_aws_variables_count_as_unset(env):
    env = {**env, "AWS_PROFILE": "", "AWS_DEFAULT_REGION": "", "SERVICE_NAME": ""}
    result = sh("", ["ls", "-o", "json"], env)
    assert result.code == 0, result.err
    assert '"services"' in result.out


@pytest.mark.parametrize("how", ["--debug", "ECS_EXEC_DEBUG=1"])
def test_debug_keeps_the_remote_status_and_logs_the_data_channel(env, how):
    if how == "--debug":
        result = sh("", ["--debug", "--", "sh", "-c", "exit 1"], env)
    else:
        result = sh("", ["--", "sh", "-c", "exit 1"], {**env, "ECS_EXEC_DEBUG": "1"})
    assert result.code == 1, result.err
    # the frames, as the data channel or the transport logs them
    assert re.search(r"^ecs_exec\.(datachannel|transports)\S*: .*seq=\d+", result.err, re.M)
    assert "tokenValue" not in result.err and "TokenValue" not in result.err


@pytest.mark.parametrize("how", ["--debug", "ECS_EXEC_DEBUG=1"])
def test_debug_keeps_255_for_our_failures(env, how):
    args = ["--cluster", "nope", "--", "true"]
    if how == "--debug":
        result = sh("", ["--debug", *args], env)
    else:
        result = sh("", args, {**env, "ECS_EXEC_DEBUG": "1"})
    assert result.code == TOOL, result.err
    assert "Traceback" in result.err
    assert "ecs-exec: error: cluster 'nope' not found in us-east-1" in result.err
