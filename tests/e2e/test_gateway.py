"""Access-gateway use without a terminal: environment configuration plus appended user args."""

from __future__ import annotations

import pytest

from tests.clihelpers import run_cli

SCRIPT = b"puts 1 + 1\nputs 'two'\n"


@pytest.fixture
def gateway_env(fast_sandbox, env_for):
    return env_for(fast_sandbox, CLUSTER_NAME="demo", SERVICE_NAME="web", CONTAINER="app")


def test_interactive_pipe_bash_without_terminal(gateway_env):
    result = run_cli(
        ["--interactive", "--pipe", "/bin/bash"],
        gateway_env,
        stdin=b"echo from-bash; echo oops >&2; exit 5\n",
    )
    assert result.code == 5
    assert result.stdout == b"from-bash\n"
    assert b"oops\n" in result.stderr
    assert b"no terminal" in result.stderr  # the one note saying what happened


def test_pipe_runner_fed_by_heredoc(gateway_env):
    # A stand-in for `rails runner -`: a program that reads its script from stdin.
    runner = "sed -n 's/^puts //p'"
    result = run_cli(["--pipe", runner], gateway_env, stdin=SCRIPT)
    assert (result.code, result.stdout) == (0, b"1 + 1\n'two'\n")


def test_pipe_python_script_on_stdin(gateway_env):
    script = b"import sys\nprint(sum(range(10)))\nsys.stderr.write('e\\n')\nsys.exit(4)\n"
    result = run_cli(["--pipe", "python3"], gateway_env, stdin=script)
    assert (result.code, result.stdout, result.stderr) == (4, b"45\n", b"e\n")


def test_bash_script_on_stdin_without_pipe(gateway_env):
    script = b"x=41\necho $((x+1))\nexit 9\n"
    result = run_cli([], gateway_env, stdin=script)
    assert (result.code, result.stdout) == (9, b"42\n")


def test_quiet_suppresses_the_note(gateway_env):
    result = run_cli(["-q", "--interactive", "--pipe", "cat"], gateway_env, stdin=b"abc")
    assert (result.code, result.stdout, result.stderr) == (0, b"abc", b"")
