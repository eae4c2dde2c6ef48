"""Remote framing for ECS Exec: exact argv, separate byte-exact stdout/stderr, streamed stdin
and the remote exit status, carried through the agent's PTY by a small POSIX sh script.

* :mod:`.command` builds the ExecuteCommand ``command`` strings (one-off and interactive).
* :mod:`.decoder` turns the terminal stream of a one-off command into :mod:`.events`.
* :mod:`.encoder` frames local stdin for it.
* :mod:`.marker` strips the exit marker from an interactive session's output.
"""

from __future__ import annotations

from ecs_exec.remote.command import (
    OPTIONAL_TOOLS,
    REQUIRED_TOOLS,
    StdinMode,
    build_interactive_command,
    build_oneoff_command,
    new_nonce,
    setup_error,
)
from ecs_exec.remote.decoder import StreamDecoder
from ecs_exec.remote.encoder import StdinEncoder
from ecs_exec.remote.events import Event, Exited, Noise, Ready, SetupFailed, Stderr, Stdout
from ecs_exec.remote.marker import ExitMarkerFilter

__all__ = [
    "OPTIONAL_TOOLS",
    "REQUIRED_TOOLS",
    "Event",
    "ExitMarkerFilter",
    "Exited",
    "Noise",
    "Ready",
    "SetupFailed",
    "Stderr",
    "StdinEncoder",
    "StdinMode",
    "Stdout",
    "StreamDecoder",
    "build_interactive_command",
    "build_oneoff_command",
    "new_nonce",
    "setup_error",
]
