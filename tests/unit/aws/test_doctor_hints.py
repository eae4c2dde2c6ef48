"""Exec failures that doctor explains name the `ecs-exec doctor` line for the task: exec not
enabled, an agent not running (both found before ExecuteCommand, or said by ECS), and
TargetNotConnectedException."""

from __future__ import annotations

import pytest

from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import Resolver, TargetSpec
from ecs_exec.errors import ExecNotReadyError, TargetNotConnectedError
from tests.unit.aws.test_resolve import ARN, task

TID = "a" * 32


LINE = f"`ecs-exec doctor --cluster demo --task {TID}` checks every prerequisite"


@pytest.mark.parametrize(
    ("kwargs", "doctor"),
    [
        ({"exec_on": False}, True),
        ({"agent": "STOPPED"}, True),
        ({"desired": "STOPPED"}, False),  # a stopping task: pick another, nothing to diagnose
    ],
)
def test_not_ready_hint_names_doctor(ecs, kwargs, doctor):
    client, stub = ecs
    stub.add_response(
        "describe_tasks",
        {"tasks": [task(TID, containers=("app",), **kwargs)]},
        {"cluster": "demo", "tasks": [TID]},
    )
    with pytest.raises(ExecNotReadyError) as info:
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task=TID))
    assert (LINE in (info.value.hint or "")) is doctor


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (
            "TargetNotConnectedException",
            "The execute command failed due to an internal error.",
            TargetNotConnectedError,
        ),
        (
            "InvalidParameterException",
            "The execute command failed because execute command was "
            "not enabled when the task was run or the execute command agent isn't running.",
            ExecNotReadyError,
        ),
    ],
)
def test_execute_command_errors_name_doctor(ecs, code, message, error):
    client, stub = ecs
    stub.add_client_error("execute_command", code, message, expected_params=None)
    with pytest.raises(error) as info:
        EcsApi(client).execute_command(
            cluster="demo", task_arn=f"{ARN}:task/demo/{TID}", container="app", command="sh"
        )
    hint = info.value.hint or ""
    assert hint.endswith(LINE)
    assert "ssmmessages" in hint or "enable-execute-command" in hint  # the old hint stays


def test_an_unparsable_answer_is_an_aws_error():
    """Doctor calls services an emulator or a proxy may answer with anything: a parse error
    becomes an AwsServiceError (a failed check), not a crash."""
    from botocore.parsers import ResponseParserError

    from ecs_exec.aws._errors import map_aws_errors
    from ecs_exec.errors import AwsServiceError

    with pytest.raises(AwsServiceError) as info, map_aws_errors(action="sts:GetCallerIdentity"):
        raise ResponseParserError("Unable to parse response (not well-formed)\nb'<html>'")
    assert info.value.code == "ResponseParserError"
    assert "could not be parsed (Unable to parse response (not well-formed))" in str(info.value)
