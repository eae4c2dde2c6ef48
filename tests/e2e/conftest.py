"""Fixtures for driving the real CLI against a sandbox on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox.server import Sandbox, running_sandbox
from tests.clihelpers import clean_env


@pytest.fixture(scope="module")
def fast_sandbox() -> Iterator[Sandbox]:
    """Agent pacing and delays off: for size and correctness tests."""
    with running_sandbox(fast=True) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def faithful_sandbox() -> Iterator[Sandbox]:
    """The agent's real pacing (1 s initial wait, 1024-byte chunks, 1 ms pauses)."""
    with running_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def env_for(tmp_path: Path):
    def make(sandbox: Sandbox, **extra: str) -> dict[str, str]:
        return clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url, **extra)

    return make
