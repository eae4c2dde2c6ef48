"""Local configuration: named contexts, the scope lock for access gateways, completion.

Only what every run needs lives here (where the contexts file is): the submodules are
imported when a run has a context or a lock to deal with, which keeps start-up short.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "contexts.toml"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/ecs-exec``, or ``~/.config/ecs-exec``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return Path(base) / "ecs-exec"


def contexts_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / FILE_NAME
