"""``python -m ecs_exec.plugin``: the session-manager-plugin drop-in (see ``main``)."""

from __future__ import annotations

import sys

from ecs_exec.plugin.main import main

if __name__ == "__main__":
    sys.exit(main())
