"""Where ecs-exec keeps what it caches between runs (XDG_CACHE_HOME, else ~/.cache)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ecs-exec``, or ``~/.cache/ecs-exec``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ecs-exec"
