"""The pre-parse that the scope lock relies on agrees with click on every option's value."""

from __future__ import annotations

import click
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from ecs_exec.cli.app import build_command
from ecs_exec.cli.scope import env_may_lock, option_table
from ecs_exec.config.lock import PINNED_FLAGS, scan

COMMAND = build_command()
TABLE = option_table(COMMAND)
#: click's parameter name for each option the lock pins
PARAM = {
    "--cluster": "cluster",
    "--service-name": "service",
    "--service": "service",
    "--container": "container",
    "--region": "region",
    "--profile": "profile",
    "--endpoint-url": "endpoint_url",
    "--transport": "transport",
    "--context": "context_name",
}
TOKENS = st.sampled_from(
    [
        "--cluster", "--service", "--service-name", "--container", "--region", "--pipe",
        "--task", "--context", "--profile", "--endpoint-url", "--transport", "-i", "-q",
        "-iq", "--debug", "--interactive", "--cluster=a", "--pipe=--cluster", "a", "b",
        "native", "plugin", "--cluster=", "-qi",
    ]
)  # fmt: skip


def test_the_table_covers_every_pinned_flag_and_subcommand_options():
    assert set(PINNED_FLAGS) <= set(TABLE)
    assert TABLE["--pipe"] and TABLE["-o"] and not TABLE["-i"] and not TABLE["--sandbox"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(TOKENS, max_size=8))
def test_scan_agrees_with_click(args):
    try:
        ctx = COMMAND.make_context("ecs-exec", list(args), resilient_parsing=False)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        assume(False)
        return
    assume(not getattr(ctx, "_protected_args", None) and not ctx.args)  # no subcommand
    scanned = scan(args, TABLE)
    for flag, param in PARAM.items():
        names = [f for f, p in PARAM.items() if p == param]
        values = [v for v in scanned.values(*names) if v is not None]
        parsed = ctx.params[param]
        parsed = getattr(parsed, "value", parsed)
        assert (values[-1] if values else None) == parsed, (flag, args)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"CLUSTER_NAME": "a"}, False),
        ({"CLUSTER_NAME": "a", "SERVICE_NAME": "b"}, True),
        ({"CLUSTER_NAME": "a", "SERVICE_NAME": "b", "ECS_EXEC_LOCK": "0"}, False),
        ({"ECS_EXEC_LOCK": "1"}, True),
        ({"ECS_EXEC_LOCK": "typo"}, True),
    ],
)
def test_env_may_lock(env, expected):
    assert env_may_lock(env) is expected
