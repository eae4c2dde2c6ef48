"""`run`'s request parsing: durations, -e/--env-file, and the 8192-character overrides."""

from __future__ import annotations

import pytest

from ecs_exec.errors import UsageError
from ecs_exec.run.request import (
    OVERRIDES_LIMIT,
    EnvVar,
    RunRequest,
    build_overrides,
    overrides_size,
    parse_duration,
    parse_environment,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("0.5s", 0.5)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "--max-lifetime") == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "soon", "1x", "-5", "h", "1h 30m"])
def test_bad_durations_name_the_flag(text):
    with pytest.raises(UsageError, match=f"--wait-timeout '{text}' is not a duration"):
        parse_duration(text, "--wait-timeout")


def test_env_file_then_flags_later_wins(tmp_path):
    env_file = tmp_path / "a.env"
    env_file.write_text('# comment\n\nA=1\n  B="quoted" kept\nC\nA=2\n')
    got = parse_environment(["B=flag", "D=x=y"], [env_file], {"C": "local"})
    # The last assignment of a name wins and takes its place in the order.
    assert [(v.name, v.value) for v in got] == [
        ("C", "local"),
        ("A", "2"),
        ("B", "flag"),
        ("D", "x=y"),
    ]


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["=value"], "-e: '' is not a variable name"),
        (["1A=x"], "-e: '1A' is not a variable name"),
        (["MISSING"], "-e: MISSING has no value here"),
    ],
)
def test_env_errors_name_the_variable_never_a_value(assignments, message):
    with pytest.raises(UsageError) as exc:
        parse_environment(assignments, [], {})
    assert str(exc.value) == message


def test_env_file_errors_name_file_and_line(tmp_path):
    env_file = tmp_path / "b.env"
    env_file.write_text("OK=1\nnot a name=secret-value\n")
    with pytest.raises(UsageError) as exc:
        parse_environment([], [env_file], {})
    assert str(exc.value) == f"--env-file {env_file} line 2: 'not a name' is not a variable name"
    with pytest.raises(UsageError, match="No such file"):
        parse_environment([], [tmp_path / "absent"], {})


def test_env_values_stay_out_of_reprs():
    assert "secret" not in repr(EnvVar("TOKEN", "secret"))


def test_overrides_carry_command_env_and_size():
    overrides = build_overrides(
        container="app", command=["sh"], environment=[EnvVar("A", "1")], cpu=512, memory=1024
    )
    assert overrides == {
        "containerOverrides": [
            {"name": "app", "command": ["sh"], "environment": [{"name": "A", "value": "1"}]}
        ],
        "cpu": "512",
        "memory": "1024",
    }


def test_the_limit_names_the_variables_that_push_it_over():
    env = [EnvVar("SMALL", "s" * 100), EnvVar("BIG", "b" * 6000), EnvVar("MID", "m" * 2500)]
    with pytest.raises(UsageError) as exc:
        build_overrides(container="app", command=["sh"], environment=env, cpu=None, memory=None)
    message = str(exc.value)
    assert "over its limit of 8192" in message
    assert "BIG (" in message and "MID (" not in message and "SMALL" not in message
    assert "bbbb" not in message
    fits = build_overrides(
        container="app", command=["sh"], environment=env[:2], cpu=None, memory=None
    )
    assert overrides_size(fits) <= OVERRIDES_LIMIT


def test_a_run_needs_a_service_or_task_definition():
    with pytest.raises(UsageError, match="--service-name or --task-definition"):
        RunRequest(cluster="c")
    with pytest.raises(UsageError, match="--launch-type 'EXTERNAL'"):
        RunRequest(service="s", launch_type="EXTERNAL")
