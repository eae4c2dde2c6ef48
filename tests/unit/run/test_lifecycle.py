"""`run`'s cleanup and signal rules, against a fake launcher (no AWS, no real signals)."""

from __future__ import annotations

import signal

import pytest

from ecs_exec.aws.runtask import TaskState
from ecs_exec.errors import AccessDeniedError
from ecs_exec.run.lifecycle import Interrupted, _Cleanup, _Signals

TASK = TaskState(
    arn="arn:aws:ecs:us-east-1:1:task/prod/abc",
    last_status="RUNNING",
    desired_status="RUNNING",
    containers=(),
    tags={"ecs-exec:expires-at": "2026-01-01T01:00:00Z"},
)
TD = "arn:aws:ecs:us-east-1:1:task-definition/web-ecs-exec:4"


class Err:
    def __init__(self) -> None:
        self.text = ""

    def write_err(self, text: str) -> None:
        self.text += text


class Launcher:
    def __init__(self, stop_fails: BaseException | None = None) -> None:
        self.calls: list[str] = []
        self.stop_fails = stop_fails

    def stop(self, cluster: str, arn: str, reason: str) -> None:
        self.calls.append(f"stop {arn} {reason}")
        if self.stop_fails is not None:
            raise self.stop_fails

    def deregister(self, arn: str) -> None:
        self.calls.append(f"deregister {arn}")


def cleanup(launcher: Launcher, err: Err) -> _Cleanup:
    done = _Cleanup(launcher, "prod", err, quiet=False, task=TASK, registered=[TD])  # type: ignore[arg-type]
    done.reason = "ecs-exec run: the session ended (exit status 0)"
    return done


def test_stop_then_deregister():
    launcher, err = Launcher(), Err()
    cleanup(launcher, err).run(keep=False, container="app")
    assert launcher.calls == [
        f"stop {TASK.arn} ecs-exec run: the session ended (exit status 0)",
        f"deregister {TD}",
    ]
    assert err.text == "ecs-exec: task abc stopped\n"


def test_a_failed_stop_prints_the_command_and_goes_on():
    launcher = Launcher(AccessDeniedError("access denied", action="ecs:StopTask"))
    err = Err()
    cleanup(launcher, err).run(keep=False, container="app")
    assert launcher.calls[-1] == f"deregister {TD}"
    assert err.text == (
        "ecs-exec: warning: cleanup failed: access denied\n"
        "hint: finish it with: aws ecs stop-task --cluster prod --task abc\n"
    )


def test_an_abandoned_cleanup_lists_what_is_left():
    launcher, err = Launcher(Interrupted(signal.SIGTERM)), Err()
    with pytest.raises(Interrupted):
        cleanup(launcher, err).run(keep=False, container="app")
    assert "cleanup abandoned (SIGTERM)" in err.text
    assert (
        "aws ecs stop-task --cluster prod --task abc; "
        "aws ecs deregister-task-definition --task-definition web-ecs-exec:4" in err.text
    )


def test_keep_leaves_everything_and_says_how_to_get_back():
    launcher, err = Launcher(), Err()
    cleanup(launcher, err).run(keep=True, container="app")
    assert launcher.calls == []
    assert "task abc keeps running (--keep) until 2026-01-01T01:00:00Z" in err.text
    assert "ecs-exec --cluster prod --task abc --container app --interactive" in err.text


def test_signals_raise_hold_or_defer():
    signals = _Signals()
    with pytest.raises(Interrupted):
        signals.handler(signal.SIGTERM, None)
    signals = _Signals()
    with pytest.raises(Interrupted) as held:  # noqa: PT012
        with signals.held():
            signals.handler(signal.SIGINT, None)  # not raised here...
        pytest.fail("the hold did not raise")  # pragma: no cover
    assert held.value.signum == signal.SIGINT  # ...but when the hold ends
    noted: list[int] = []
    signals = _Signals(deferred=True, on_deferred=noted.append)
    signals.handler(signal.SIGHUP, None)
    assert noted == [signal.SIGHUP]
    with pytest.raises(Interrupted):
        signals.handler(signal.SIGHUP, None)


def test_cleanup_older_than_leaves_young_tasks():
    from datetime import UTC, datetime, timedelta

    from ecs_exec.run.orphans import CLEANUP_REASON, stop_orphans

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def task(task_id: str, age_hours: float, service: str, revision: str) -> TaskState:
        return TaskState(
            arn=f"arn:aws:ecs:us-east-1:1:task/prod/{task_id}",
            last_status="RUNNING",
            desired_status="RUNNING",
            containers=(),
            created_at=now - timedelta(hours=age_hours),
            tags={"ecs-exec:service": service},
            task_definition_arn=f"arn:aws:ecs:us-east-1:1:task-definition/{revision}",
        )

    class Found(Launcher):
        def started_by(self, cluster: str, started_by: str) -> list[TaskState]:
            assert started_by == "ecs-exec"
            return [
                task("old", 3, "web", "web-ecs-exec:2"),
                task("plain", 4, "web", "web:5"),
                task("young", 0.5, "web", "web-ecs-exec:3"),
                task("other", 5, "api", "api-ecs-exec:1"),
            ]

    launcher = Found()
    result = stop_orphans(launcher, "prod", older_than=7200, service="web", now=lambda: now)  # type: ignore[arg-type]
    assert (result.stopped, result.skipped, result.failed) == (("plain", "old"), 1, ())
    # The derived revision the stopped task ran goes too; the service's own does not.
    assert result.deregistered == ("web-ecs-exec:2",)
    assert launcher.calls == [
        f"stop arn:aws:ecs:us-east-1:1:task/prod/plain {CLEANUP_REASON}",
        f"stop arn:aws:ecs:us-east-1:1:task/prod/old {CLEANUP_REASON}",
        "deregister arn:aws:ecs:us-east-1:1:task-definition/web-ecs-exec:2",
    ]
