"""Settings from flags and environment; the empty-value rule; endpoint URL checks; the cli
package imports without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ecs_exec.cli.settings import (
    Settings,
    build_settings,
    check_endpoint_url,
    drop_empty_aws_variables,
)
from ecs_exec.errors import ConfigurationError, UsageError

CLI = Path(__file__).resolve().parents[3] / "ecs_exec" / "cli"


def test_flags_beat_environment_beats_defaults():
    env = {"CLUSTER_NAME": "env-c", "SERVICE_NAME": "env-s", "AWS_REGION": "eu-west-1"}
    settings = build_settings({"cluster": "flag-c"}, env)
    assert settings == Settings(cluster="flag-c", service="env-s", region="eu-west-1")
    assert build_settings({}, {}) == Settings()


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        build_settings({}, {}).cluster = "x"  # type: ignore[misc]


def test_empty_environment_counts_as_unset():
    env = {"CLUSTER_NAME": "", "SERVICE_NAME": " ", "CONTAINER": "", "AWS_REGION": ""}
    assert build_settings({}, env) == Settings()


@pytest.mark.parametrize("name", ["cluster", "service", "task", "container", "region"])
def test_an_empty_flag_is_a_usage_error(name):
    with pytest.raises(UsageError, match="is empty"):
        build_settings({name: ""}, {"CLUSTER_NAME": "demo"})


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False)])
def test_debug_from_environment(value, expected):
    assert build_settings({}, {"ECS_EXEC_DEBUG": value}).debug is expected


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:4566", "https://ecs.us-east-1.amazonaws.com", "http://[::1]:80/x"],
)
def test_valid_endpoint_urls(url):
    assert check_endpoint_url(url, "--endpoint-url") == url


def test_endpoint_errors_by_source():
    with pytest.raises(UsageError):
        check_endpoint_url("http://[::1", "--endpoint-url")
    with pytest.raises(ConfigurationError, match="AWS_ENDPOINT_URL"):
        build_settings({}, {"AWS_ENDPOINT_URL": "localhost:4566"})


def test_drop_empty_aws_variables():
    env = {"AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": " ", "HOME": ""}
    drop_empty_aws_variables(env)
    assert env == {"AWS_REGION": "us-east-1", "HOME": ""}


def _imports(path: Path) -> set[str]:
    """ecs_exec.cli modules a module imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found.update(n for n in names if n.startswith("ecs_exec.cli"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ecs_exec.cli"))
    return found


def test_no_import_cycles_in_cli():
    modules = {
        ("ecs_exec.cli" if p.stem == "__init__" else f"ecs_exec.cli.{p.stem}"): p
        for p in CLI.glob("*.py")
    }
    graph = {name: _imports(path) & set(modules) - {name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    # `ecs_exec.cli` (the package) is every submodule's parent; only explicit imports count.
    cycles = [m for m in graph if reaches(m, m, {m})]
    assert not cycles, {m: sorted(graph[m]) for m in cycles}
