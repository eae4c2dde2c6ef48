"""Shared fixtures: a clean AWS environment for every test, and a loopback sandbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox.server import Sandbox, running_sandbox


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS_* variable of the developer's shell leaks into a test (httpx ``clean_environ``),
    nor a gateway variable or context; caches and contexts go to a per-test directory."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name in ("CLUSTER_NAME", "SERVICE_NAME", "CONTAINER", "ECS_EXEC_CONTEXT", "ECS_EXEC_LOCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """The demo world on 127.0.0.1 with a fast agent (no 1 s wait, no pacing), dummy AWS
    credentials in the environment, and a check that no process it started survives it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with running_sandbox(fast=True) as sb:
        yield sb
    leaked = [pid for pid in sb.pids if pid_alive(pid)]
    assert not leaked, f"sandbox processes still running: {leaked}"
