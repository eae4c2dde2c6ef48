"""`--transport plugin` through the real CLI, with our drop-in standing in for the Go binary."""

from __future__ import annotations

import shutil
import sys

import pexpect
import pytest

from ecs_exec.sandbox import demo
from tests.clihelpers import ROOT, run_cli

TARGET = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app"]


@pytest.fixture
def plugin_env(fast_sandbox, env_for):
    plugin = shutil.which("ecs-exec-plugin") or str(ROOT / ".venv" / "bin" / "ecs-exec-plugin")
    return env_for(fast_sandbox, ECS_EXEC_PLUGIN=plugin)


def test_oneoff_exact_streams_and_exit_code(plugin_env):
    stdin = bytes(range(256)) * 400 + b"\n\r\n\x03\x04"
    script = "sha256sum; printf 'a\\000b\\357\\277\\275' ; printf 'E\\n' >&2; exit 7"
    result = run_cli(["--transport", "plugin", *TARGET, "--pipe", script], plugin_env, stdin=stdin)
    import hashlib

    assert result.code == 7, result.err
    digest = hashlib.sha256(stdin).hexdigest().encode()
    assert result.stdout == digest + b"  -\n" + b"a\0b\xef\xbf\xbd"
    assert result.stderr == b"E\n"


def test_interactive_exit_code(plugin_env):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ecs_exec", "--transport", "plugin", *TARGET, "--interactive", "--", "sh"],
        env=plugin_env,
        cwd=str(ROOT),
        dimensions=(30, 100),
        timeout=20,
    )
    try:
        child.sendline("echo $((40+2))")
        child.expect_exact("42")
        child.sendline("stty size")
        child.expect_exact("30 100")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5
    assert b"Starting session" not in (child.before or b"")


def test_missing_plugin_binary(fast_sandbox, env_for):
    env = env_for(
        fast_sandbox, ECS_EXEC_PLUGIN="/nonexistent/session-manager-plugin", PATH="/usr/bin:/bin"
    )
    result = run_cli(["--transport", "plugin", *TARGET, "--", "true"], env)
    assert result.code == 255
    assert result.err.startswith("ecs-exec: error: ")
    assert "Traceback" not in result.err
