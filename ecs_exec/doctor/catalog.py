"""Every check, in the order doctor runs and prints them (a check's ``needs`` come first)."""

from __future__ import annotations

from ecs_exec.doctor import cluster, local, network, permissions, service, task, taskrole
from ecs_exec.doctor.model import Check

CHECKS: tuple[Check, ...] = (
    *local.CHECKS,
    *cluster.CHECKS,
    *service.CHECKS,
    *task.CHECKS,
    *permissions.CHECKS,
    *taskrole.CHECKS,
    *network.CHECKS,
)
