"""`ecs-exec doctor`: every ECS Exec prerequisite checked, with the fix.

Library code (no typer): ``diagnose(request, clients)`` runs the checks of ``catalog.CHECKS``
in order and returns a ``model.Report``; ``render`` turns it into text or the JSON document.
One module per check group: ``local``, ``permissions``, ``cluster``, ``service``, ``task``,
``taskrole``, ``network``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ecs_exec.aws.clients import AwsClients
from ecs_exec.doctor.facts import DoctorRequest, Facts
from ecs_exec.doctor.model import Report


def diagnose(
    request: DoctorRequest, clients: AwsClients, *, clock: Callable[[], float] = time.time
) -> Report:
    """Run every check against the target of ``request``."""
    from ecs_exec.doctor.catalog import CHECKS
    from ecs_exec.doctor.runner import run_checks

    return run_checks(CHECKS, Facts(request, clients, clock=clock))


__all__ = ["DoctorRequest", "Report", "diagnose"]
