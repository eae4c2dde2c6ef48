"""``python -m ecs_exec.dropin``: the session-manager-plugin drop-in (see ``main``)."""

from __future__ import annotations

from ecs_exec.dropin.main import main

if __name__ == "__main__":
    main()
