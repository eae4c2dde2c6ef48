"""What stderr shows while a `run` task starts: one live status line on a terminal, plain
lines (one per change) otherwise, nothing with ``--quiet``."""

from __future__ import annotations

import time
from collections.abc import Callable

from ecs_exec.local.terminal import Console

#: What each ECS lastStatus means to someone waiting for a shell.
PHASES = {
    "PROVISIONING": "provisioning (ECS is finding capacity and attaching the network)",
    "PENDING": "pending (pulling the image, starting the containers)",
    "ACTIVATING": "activating",
    "RUNNING": "running, waiting for the exec agent",
}


class Progress:
    """Report a starting task's phases.

    Args:
        console: where to write (stderr).
        quiet: write nothing.
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self, console: Console, *, quiet: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.console = console
        self.quiet = quiet
        self.live = console.stderr_isatty and not quiet
        self.clock = clock
        self.started = clock()
        self.task_id: str | None = None
        self._last: str | None = None
        self._open_line = False

    def note(self, text: str) -> None:
        """A line of its own (a step such as registering a task definition)."""
        if self.quiet:
            return
        self._end_line()
        self.console.write_err(f"ecs-exec: {text}\n")

    def phase(self, status: str) -> None:
        """The task's current lastStatus (or another phase name)."""
        if self.quiet:
            return
        text = PHASES.get(status, status.lower())
        prefix = f"task {self.task_id}: " if self.task_id else ""
        if self.live:
            elapsed = int(self.clock() - self.started)
            self.console.write_err(f"\r\x1b[Kecs-exec: {prefix}{text} ({elapsed}s)")
            self._open_line = True
        elif text != self._last:
            self.console.write_err(f"ecs-exec: {prefix}{text}\n")
        self._last = text

    def done(self, text: str) -> None:
        """The last line before the session (or before an error line)."""
        if self.quiet:
            return
        elapsed = self.clock() - self.started
        prefix = f"task {self.task_id}: " if self.task_id else ""
        if self.live:
            self.console.write_err(f"\r\x1b[Kecs-exec: {prefix}{text} ({elapsed:.0f}s)\n")
            self._open_line = False
        else:
            self.console.write_err(f"ecs-exec: {prefix}{text} ({elapsed:.0f}s)\n")

    def close(self) -> None:
        """End a live line left open (before an error message)."""
        self._end_line()

    def _end_line(self) -> None:
        if self._open_line:
            self.console.write_err("\n")
            self._open_line = False
