"""Phase timestamps for the benchmark: set ECS_EXEC_TIMINGS=FILE to get them as JSON.

Costs one dict insert per phase when on, and one environment lookup when off. The marks are
seconds since this module was imported; ``origin`` is that instant on ``time.perf_counter``'s
clock (CLOCK_MONOTONIC on Linux, shared by every process), so a parent that noted the clock
when it started ecs-exec can tell how long the interpreter and the first imports took.
"""

from __future__ import annotations

import json
import os
import time

_ORIGIN = time.perf_counter()
_marks: dict[str, float] = {}
_enabled = bool(os.environ.get("ECS_EXEC_TIMINGS"))


def mark(name: str) -> None:
    """Record the first time a phase is reached, in seconds since ecs-exec was imported."""
    if _enabled and name not in _marks:
        _marks[name] = time.perf_counter() - _ORIGIN


def dump() -> None:
    """Append the marks as one JSON line to $ECS_EXEC_TIMINGS."""
    path = os.environ.get("ECS_EXEC_TIMINGS")
    if not path or not _marks:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**_marks, "origin": _ORIGIN}) + "\n")
