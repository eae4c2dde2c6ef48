"""The check model, the runner's ordering and skipping, and the text/JSON rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecs_exec.doctor.catalog import CHECKS
from ecs_exec.doctor.model import (
    EXIT_CHECKS_FAILED,
    Check,
    CheckResult,
    Group,
    Report,
    Status,
    Target,
    failed,
    ok,
    warning,
)
from ecs_exec.doctor.render import render_json, render_text
from ecs_exec.doctor.runner import run_checks
from ecs_exec.errors import AccessDeniedError, ClusterNotFoundError


def result(check_id: str, status: Status, group: Group = Group.LOCAL) -> CheckResult:
    reason = None if status is Status.OK else f"why {check_id}"
    fix = "do this" if status in {Status.FAILED, Status.WARNING} else None
    return CheckResult(check_id, group, check_id.title(), status, f"{check_id} found", reason, fix)


def report(*statuses: Status) -> Report:
    return Report(
        Target(region="us-east-1", cluster="demo", task="t1", container="app"),
        tuple(result(f"c{i}", s) for i, s in enumerate(statuses)),
    )


@pytest.mark.parametrize(
    ("statuses", "verdict", "code"),
    [
        ((Status.OK, Status.SKIPPED), Status.OK, 0),
        ((Status.OK, Status.WARNING, Status.SKIPPED), Status.WARNING, 0),
        ((Status.WARNING, Status.FAILED), Status.FAILED, EXIT_CHECKS_FAILED),
    ],
)
def test_verdict_and_exit_status(statuses, verdict, code):
    r = report(*statuses)
    assert r.verdict is verdict
    assert r.exit_status == code
    doc = json.loads(render_json(r))
    assert doc["verdict"] == verdict.value
    assert sum(doc["summary"].values()) == len(statuses)


def test_json_document_shape():
    doc = json.loads(render_json(report(Status.OK, Status.FAILED)))
    assert list(doc) == ["schemaVersion", "target", "verdict", "summary", "checks"]
    assert doc["schemaVersion"] == 1
    assert doc["target"] == {
        "region": "us-east-1",
        "cluster": "demo",
        "service": None,
        "task": "t1",
        "container": "app",
    }
    assert list(doc["summary"]) == ["ok", "warning", "failed", "skipped"]
    keys = ["id", "group", "title", "status", "summary", "reason", "fix", "details"]
    assert [list(c) for c in doc["checks"]] == [keys, keys]
    assert doc["checks"][0]["reason"] is None and doc["checks"][1]["fix"] == "do this"


def test_plain_text_has_no_escapes_and_says_the_status_in_words():
    text = render_text(
        report(Status.OK, Status.WARNING, Status.FAILED, Status.SKIPPED), styled=False
    )
    assert "\x1b" not in text
    assert text.isascii()
    lines = text.splitlines()
    assert lines[0] == "ecs-exec doctor: task t1 (container app), cluster demo, us-east-1"
    assert any(line.startswith("  [ok]") and "c0 found" in line for line in lines)
    assert any(line.startswith("  [FAILED]") and "c2" in line for line in lines)
    assert any(line.startswith("  [skipped]") and "why c3" in line for line in lines)
    assert "why: why c2" in text and "fix: do this" in text
    assert lines[-1].startswith("verdict: FAILED (1 failed, 1 warning, 1 ok, 1 skipped)")


def test_styled_text_has_symbols_and_colour():
    text = render_text(report(Status.OK, Status.FAILED), styled=True)
    assert "\x1b[32m\u2714\x1b[0m" in text and "\x1b[31m\u2716\x1b[0m" in text
    assert "verdict: FAILED" in text


class FakeFacts:
    """The runner only hands facts to the check functions."""


def test_runner_skips_dependants_and_maps_errors():
    def denied(_):
        raise AccessDeniedError("denied", action="ecs:DescribeClusters")

    def missing(_):
        raise ClusterNotFoundError("cluster 'x' not found", cluster="x", hint="run ls")

    checks = [
        Check("a.ok", Group.LOCAL, "A", lambda _: ok("fine")),
        Check("a.warn", Group.LOCAL, "W", lambda _: warning("meh", "because"), needs=("a.ok",)),
        Check("a.denied", Group.CLUSTER, "D", denied, needs=("a.warn",)),
        Check("a.after-denied", Group.CLUSTER, "AD", lambda _: ok("x"), needs=("a.denied",)),
        Check("a.missing", Group.CLUSTER, "M", missing),
        Check("a.after", Group.TASK, "AF", lambda _: ok("x"), needs=("a.ok", "a.missing")),
        Check("a.failed", Group.TASK, "F", lambda _: failed("bad", "why", "fix")),
    ]

    class Request:
        region = cluster = service = task = container = None

    class Facts:
        request = Request()

        def peek(self, key):
            return None

    r = run_checks(checks, Facts())  # type: ignore[arg-type]
    by_id = {c.id: c for c in r.results}
    assert [c.id for c in r.results] == [c.id for c in checks]
    assert by_id["a.warn"].status is Status.WARNING
    assert by_id["a.denied"].status is Status.SKIPPED
    assert "ecs:DescribeClusters" in (by_id["a.denied"].reason or "")
    assert by_id["a.after-denied"].reason == "needs a.denied, which was skipped"
    assert by_id["a.missing"].status is Status.FAILED
    assert (by_id["a.missing"].reason, by_id["a.missing"].fix) == (
        "cluster 'x' not found",
        "run ls",
    )
    assert by_id["a.after"].reason == "needs a.missing, which failed"
    assert r.exit_status == EXIT_CHECKS_FAILED


def test_check_ids_are_stable():
    """Scripts key on these ids (README, -o json): renaming one is a breaking change."""
    assert [c.id for c in CHECKS] == [
        *("local.region", "local.credentials", "local.identity", "local.clock-skew"),
        *("local.proxy", "local.ssmmessages", "local.plugin"),
        *("cluster.found", "cluster.kms-key", "cluster.logging", "cluster.log-group"),
        "cluster.s3-bucket",
        *("service.exec-enabled", "service.tasks-current"),
        *("task.found", "task.running", "task.platform", "task.exec-enabled", "task.exec-agent"),
        *("task.readonly-root", "task.pid-mode", "task.init-process", "task.env-credentials"),
        *("permissions.execute-command", "permissions.describe-tasks", "permissions.kms"),
        *("permissions.ssm-sessions", "permissions.start-session"),
        *("task-role.present", "task-role.ssmmessages", "task-role.kms", "task-role.logging"),
        "network.path",
    ]


def test_readme_documents_every_check():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for check in CHECKS:
        assert f"`{check.id}`" in readme, check.id


def test_catalog_ids_are_unique_and_needs_come_first():
    seen: set[str] = set()
    for check in CHECKS:
        assert check.id not in seen
        assert check.id.split(".")[0] == check.group.value
        assert set(check.needs) <= seen, check.id
        seen.add(check.id)
    groups = [c.group for c in CHECKS]
    assert groups == sorted(groups, key=list(Group).index)  # groups print contiguously
