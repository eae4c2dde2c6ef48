"""Every check, in the order doctor runs and prints them (a check's ``needs`` come first)."""

from __future__ import annotations

from ecs_exec.doctor import local
from ecs_exec.doctor.model import Check

CHECKS: tuple[Check, ...] = (*local.CHECKS,)
