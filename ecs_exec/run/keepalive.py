"""What the target container of a `run` task runs instead of its own command.

The container must stay up for the session (its normal command may be a server that binds
ports, or may exit at once) and must not stay up forever if ecs-exec dies without cleaning
up (``kill -9``, a lost laptop). So it runs a POSIX ``sh`` script that sleeps for the
maximum lifetime in the background and waits for it: ``wait`` returns when the sleep ends
(the container exits 0 and ECS stops the task) or when StopTask's SIGTERM arrives (the trap
exits at once instead of waiting out the stop timeout, as PID 1 ignores signals it has no
handler for). It needs ``sh`` and ``sleep`` in the image: BusyBox has both, and so do
Alpine, Debian and distroless ``:debug`` images (docs/run.md#keep-alive).

The script goes in RunTask's ``command`` override. RunTask cannot override ``entryPoint``,
which would receive the command as arguments: when the task definition sets one, `run`
registers a derived revision whose entry point (``ENTRY_POINT``) runs its arguments.
"""

from __future__ import annotations

import math

#: The script; $1 is the lifetime in whole seconds.
SCRIPT = "trap 'exit 0' TERM INT HUP; sleep \"$1\" & wait $!"
#: An entry point that runs its arguments (for task definitions that set their own).
ENTRY_POINT = ("sh", "-c", 'exec "$@"', "ecs-exec")
#: $0 of the script, so `ps` in the container says what it is.
NAME = "ecs-exec-keepalive"


def command(max_lifetime: float) -> list[str]:
    """The container command for a keep-alive of ``max_lifetime`` seconds (rounded up)."""
    return ["sh", "-c", SCRIPT, NAME, str(max(1, math.ceil(max_lifetime)))]
