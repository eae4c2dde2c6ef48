"""The error tree: messages, hints and exit statuses, table-driven."""

from __future__ import annotations

import pytest

from ecs_exec import errors
from ecs_exec.errors import ExitStatus


@pytest.mark.parametrize(
    ("error", "text", "status"),
    [
        (errors.UsageError("bad flag"), "bad flag", ExitStatus.USAGE),
        (errors.ScopeLockedError("locked", setting="cluster"), "locked", ExitStatus.USAGE),
        (errors.TargetNotFoundError("cluster not found", hint="h"), "cluster not found", 255),
        (errors.AccessDeniedError("denied", action="ecs:ListTasks"), "denied", 255),
        (errors.AmbiguousTargetError("two", candidates=["a", "b"]), "two", 255),
        (errors.ConnectionLostError("lost"), "lost", 255),
        (errors.RemoteSetupError("no base64"), "no base64", 255),
    ],
)
def test_str_and_status(error, text, status):
    assert str(error) == text
    assert error.exit_status == status
    assert isinstance(error, errors.EcsExecError)


def test_every_exported_error_is_in_the_tree():
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.EcsExecError), name


def test_invalid_state_is_an_assertion():
    assert issubclass(errors.InvalidStateError, AssertionError)
