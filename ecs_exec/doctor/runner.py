"""Run checks in order: skip those whose prerequisites did not pass, turn errors into
findings, and build the report.

An AWS denial of a call doctor itself makes is not a finding about ECS Exec: the check is
skipped and says which permission doctor lacked (the README lists them). Any other
``EcsExecError`` from a check's look-ups fails that check, with the error's hint as the fix.
Anything else is a bug and propagates (the CLI exits 255).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from ecs_exec.aws.clients import AwsClients
from ecs_exec.doctor.facts import DoctorRequest, Facts
from ecs_exec.doctor.model import Check, CheckResult, Finding, Report, Status, Target, skipped
from ecs_exec.errors import AccessDeniedError, EcsExecError

logger = logging.getLogger("ecs_exec.doctor")

_PASSED = {Status.OK, Status.WARNING}


def diagnose(
    request: DoctorRequest, clients: AwsClients, *, clock: Callable[[], float] = time.time
) -> Report:
    """Run every check of the catalog against the target of ``request``."""
    from ecs_exec.doctor.catalog import CHECKS

    return run_checks(CHECKS, Facts(request, clients, clock=clock))


def run_checks(checks: Sequence[Check], facts: Facts) -> Report:
    """Every check, in the order given (a check may only need ones listed before it)."""
    results: dict[str, CheckResult] = {}
    for check in checks:
        finding = _blocked(check, results) or _run_one(check, facts)
        logger.debug("%s: %s %s", check.id, finding.status.value, finding.reason or "")
        results[check.id] = CheckResult(
            id=check.id,
            group=check.group,
            title=check.title,
            status=finding.status,
            summary=finding.summary,
            reason=finding.reason,
            fix=finding.fix,
            details=finding.details,
        )
    return Report(target=_target(facts), results=tuple(results.values()))


def _blocked(check: Check, results: dict[str, CheckResult]) -> Finding | None:
    for need in check.needs:
        before = results.get(need)
        assert before is not None, f"{check.id} needs {need}, which must run before it"
        if before.status not in _PASSED:
            return skipped(f"needs {need}, which {_past(before.status)}")
    return None


def _past(status: Status) -> str:
    return "failed" if status is Status.FAILED else "was skipped"


def _run_one(check: Check, facts: Facts) -> Finding:
    try:
        return check.run(facts)
    except AccessDeniedError as exc:
        return skipped(
            f"doctor may not call {exc.action} with these credentials; grant it to run "
            "this check (see the README's list of doctor's permissions)",
            deniedAction=exc.action,
        )
    except EcsExecError as exc:
        return Finding(
            Status.FAILED,
            str(exc),
            reason=str(exc),
            fix=exc.hint,
            details={"error": type(exc).__name__},
        )


def _target(facts: Facts) -> Target:
    """What was checked, as far as the checks' look-ups got (no new AWS call here)."""
    region = facts.peek("region")
    cluster = facts.peek("cluster")
    target = facts.peek("target")
    task, container = target if isinstance(target, tuple) else (None, None)
    service = facts.request.service or (task.service_name if task is not None else None)
    return Target(
        region=str(region) if region else facts.request.region,
        cluster=str(cluster) if cluster else facts.request.cluster,
        service=service,
        task=task.id if task is not None else facts.request.task,
        container=container.name if container is not None else facts.request.container,
    )
