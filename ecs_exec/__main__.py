from __future__ import annotations

from ecs_exec.cli import main

if __name__ == "__main__":
    main()
