"""A container that lacks a tool the one-off framing needs: a clear error, never corruption."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.sandbox.state import SandboxState
from tests.clihelpers import clean_env, run_cli

NEEDED = ("sh", "stty", "mktemp", "mkfifo", "dd", "rm", "wc", "cat", "printf", "head")


@pytest.fixture(scope="module")
def bare_bin(tmp_path_factory) -> Path:
    """A PATH directory with the framing's tools except base64."""
    path = tmp_path_factory.mktemp("bare-bin")
    for tool in NEEDED:
        found = shutil.which(tool)
        if found:
            os.symlink(found, path / tool)
    return path


@pytest.fixture(scope="module")
def sandbox(bare_bin) -> Iterator[Sandbox]:
    data = demo.demo_state_dict()
    for definition in data["taskDefinitions"]:
        for container in definition["containerDefinitions"]:
            if container["name"] == "app":
                container.setdefault("environment", []).append(
                    {"name": "PATH", "value": str(bare_bin)}
                )
    with running_sandbox(state=SandboxState.from_dict(data), fast=True) as sb:
        yield sb


def test_missing_base64_is_named(sandbox, tmp_path):
    env = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url)
    args = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app", "--", "true"]
    result = run_cli(args, env)
    assert result.code == 255, result.err
    assert result.err.startswith("ecs-exec: error: the container has no 'base64'")
    assert "hint:" in result.err
    assert result.stdout == b""


def test_interactive_needs_only_sh(sandbox, tmp_path):
    """The same image still gives an interactive session, with its exit status."""
    import sys

    import pexpect

    from tests.clihelpers import ROOT

    env = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url)
    args = [
        "-m",
        "ecs_exec",
        "--cluster",
        "demo",
        "--task",
        demo.WEB_READY_1,
        "--container",
        "app",
        "--interactive",
        "--",
        "sh",
        "-c",
        "echo hi-there; exit 6",
    ]
    child = pexpect.spawn(sys.executable, args, env=env, cwd=str(ROOT), timeout=20)
    try:
        child.expect_exact("hi-there")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 6
