"""The scope-lock policy: when it applies, what it pins, which arguments it refuses."""

from __future__ import annotations

import pytest

from ecs_exec.config.contexts import Context
from ecs_exec.config.lock import ScopeLock, check_arguments, scan, scope_lock
from ecs_exec.errors import ExitStatus, ScopeLockedError, UsageError

TAKES_VALUE = {
    "--cluster": True,
    "--service-name": True,
    "--service": True,
    "--task": True,
    "--container": True,
    "--pipe": True,
    "--transport": True,
    "--profile": True,
    "--region": True,
    "--endpoint-url": True,
    "--context": True,
    "-o": True,
    "--output": True,
    "--interactive": False,
    "-i": False,
    "--quiet": False,
    "-q": False,
    "--debug": False,
    "--sandbox": False,
}
GATEWAY = {"CLUSTER_NAME": "demo", "SERVICE_NAME": "web", "AWS_REGION": "us-east-1"}
CONNECTION = ["--interactive", "--cluster=demo", "--service-name=web"]


def gateway_lock(**extra: str) -> ScopeLock:
    lock = scope_lock({**GATEWAY, **extra}, None)
    assert lock is not None
    return lock


@pytest.mark.parametrize(
    ("env", "context", "locked"),
    [
        ({}, None, False),
        ({"CLUSTER_NAME": "demo"}, None, False),
        (GATEWAY, None, True),
        ({**GATEWAY, "ECS_EXEC_LOCK": "0"}, None, False),
        ({**GATEWAY, "ECS_EXEC_LOCK": "off"}, None, False),
        ({"ECS_EXEC_LOCK": "1"}, None, True),
        ({}, Context(name="c", locked=True), True),
        ({"ECS_EXEC_LOCK": "0"}, Context(name="c", locked=True), False),
        ({}, Context(name="c"), False),
    ],
)
def test_when_it_applies(env, context, locked):
    assert (scope_lock(env, context) is not None) == locked


def test_a_locked_context_named_by_flag_locks_too():
    lock = scope_lock({}, None, requested=Context(name="prod", cluster="main", locked=True))
    assert lock is not None
    assert lock.pinned["cluster"] == "main"
    assert lock.pinned["context"] == "prod"


def test_an_unknown_switch_value_is_refused():
    with pytest.raises(UsageError, match="ECS_EXEC_LOCK='maybe' is neither 1 nor 0"):
        scope_lock({"ECS_EXEC_LOCK": "maybe"}, None)


def test_pinned_values_environment_over_context():
    context = Context(name="c", cluster="cc", region="cr", profile="cp", transport="plugin")
    lock = scope_lock({**GATEWAY, "ECS_EXEC_LOCK": "1"}, context)
    assert lock is not None
    assert dict(lock.pinned) == {
        "cluster": "demo",
        "service": "web",
        "container": None,
        "region": "us-east-1",
        "profile": "cp",
        "endpoint_url": None,
        "transport": "plugin",
        "context": "c",
    }


@pytest.mark.parametrize(
    "user",
    [
        [],
        ["--", "rails", "c"],
        ["-q", "--pipe", "rails runner -"],
        ["--pipe", "--cluster other"],  # a value, not a flag
        ["--cluster", "demo"],  # repeating the pinned value
        ["--service", "web", "--region", "us-east-1", "--transport", "native"],
        ["--task", "abc123"],
        ["--container", "anything"],  # CONTAINER and the allow list unset
        ["--debug", "-iq"],
        ["ls", "-o", "json"],
        ["ls", "--cluster=demo", "-ojson"],
    ],
)
def test_allowed_arguments(user):
    check_arguments(gateway_lock(), CONNECTION + user, TAKES_VALUE)


@pytest.mark.parametrize(
    ("user", "setting", "needle"),
    [
        (["--cluster", "other"], "cluster", "--cluster 'other' refused: the cluster is locked"),
        (["--cluster=arn:aws:ecs:us-east-1:1:cluster/demo"], "cluster", "locked to 'demo'"),
        (["--service-name", "api"], "service", "the service is locked to 'web'"),
        (["--service", "api"], "service", "refused"),
        (["--region", "eu-west-1"], "region", "region is locked to 'us-east-1'"),
        (["--profile", "admin"], "profile", "locked to the gateway's default"),
        (["--endpoint-url", "https://evil"], "endpoint_url", "--endpoint-url 'https://evil'"),
        (["--transport", "plugin"], "transport", "locked to 'native'"),
        (["--context", "prod"], "context", "context is locked"),
        (["--sandbox", "--", "sh"], "sandbox", "gateway host"),
        (["--install-completion"], "install-completion", "shell files"),
        (["sandbox"], "sandbox", "`sandbox` refused"),
        (["context", "ls"], "context", "ECS_EXEC_LOCK_ALLOW does not allow it"),
        (["run"], "run", "ECS_EXEC_LOCK_ALLOW"),
        (["ls", "--cluster", "other"], "cluster", "refused"),
        (["ls", "--service", "api"], "service", "refused"),
    ],
)
def test_refused_arguments(user, setting, needle):
    with pytest.raises(ScopeLockedError) as info:
        check_arguments(gateway_lock(), CONNECTION + user, TAKES_VALUE)
    error = info.value
    assert error.setting == setting
    assert needle in str(error)
    assert "ECS_EXEC_LOCK=0 turns the lock off" in str(error)
    assert "CLUSTER_NAME and SERVICE_NAME are set" in str(error)
    assert error.exit_status == ExitStatus.USAGE
    assert "\n" not in str(error)


def test_profile_and_endpoint_values_are_not_shown():
    lock = gateway_lock(AWS_PROFILE="gateway-admin", AWS_ENDPOINT_URL="https://internal")
    for flag in ("--profile", "--endpoint-url"):
        with pytest.raises(ScopeLockedError) as info:
            check_arguments(lock, [flag, "x"], TAKES_VALUE)
        assert "gateway-admin" not in str(info.value)
        assert "internal" not in str(info.value)


def test_a_flag_twice_with_different_values_is_refused_even_when_unpinned():
    lock = scope_lock({"ECS_EXEC_LOCK": "1"}, None)
    assert lock is not None
    check_arguments(lock, ["--container", "a", "--container", "a"], TAKES_VALUE)
    with pytest.raises(ScopeLockedError, match="given twice with different values"):
        check_arguments(lock, ["--container", "a", "--container=b"], TAKES_VALUE)


def test_container_pinned_and_allow_list():
    pinned = gateway_lock(CONTAINER="app")
    check_arguments(pinned, ["--container", "app"], TAKES_VALUE)
    with pytest.raises(ScopeLockedError, match="container is locked to 'app'"):
        check_arguments(pinned, ["--container", "log-router"], TAKES_VALUE)
    listed = gateway_lock(CONTAINER="app", ECS_EXEC_ALLOWED_CONTAINERS="app, worker")
    check_arguments(listed, ["--container", "worker"], TAKES_VALUE)
    with pytest.raises(ScopeLockedError, match="one of 'app', 'worker'"):
        check_arguments(listed, ["--container", "log-router"], TAKES_VALUE)


def test_ls_needs_a_pinned_service():
    lock = scope_lock({"ECS_EXEC_LOCK": "1", "CLUSTER_NAME": "demo"}, None)
    assert lock is not None
    with pytest.raises(ScopeLockedError, match="no service is pinned"):
        check_arguments(lock, ["ls"], TAKES_VALUE)


def test_commands_the_administrator_allows():
    lock = gateway_lock(ECS_EXEC_LOCK_ALLOW="run,context")
    check_arguments(lock, ["run"], TAKES_VALUE)
    check_arguments(lock, ["context", "ls"], TAKES_VALUE)
    with pytest.raises(ScopeLockedError, match="`sandbox` refused"):
        check_arguments(gateway_lock(ECS_EXEC_LOCK_ALLOW="sandbox"), ["sandbox"], TAKES_VALUE)


def test_scan_agrees_with_click_on_values():
    scanned = scan(
        ["-iqo", "json", "--pipe", "--cluster", "--x=1", "ls", "--region", "r", "--", "--cluster"],
        TAKES_VALUE,
    )
    assert scanned.options == (
        ("-i", None),
        ("-q", None),
        ("-o", "json"),
        ("--pipe", "--cluster"),
        ("--x", "1"),
        ("--region", "r"),
    )
    assert scanned.words == ("ls",)


def test_the_transport_is_pinned_by_ecs_exec_transport():
    lock = gateway_lock(ECS_EXEC_TRANSPORT="plugin")
    check_arguments(lock, ["--transport", "plugin"], TAKES_VALUE)
    with pytest.raises(ScopeLockedError, match="transport is locked to 'plugin'"):
        check_arguments(lock, ["--transport", "native"], TAKES_VALUE)
