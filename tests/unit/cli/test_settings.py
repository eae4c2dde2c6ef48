"""Settings from flags and environment; the empty-value rule; endpoint URL checks (import
cycles: tests/unit/test_import_graph.py)."""

from __future__ import annotations

import pytest

from ecs_exec.cli.settings import (
    Settings,
    build_settings,
    check_endpoint_url,
    drop_empty_aws_variables,
)
from ecs_exec.errors import ConfigurationError, UsageError


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
