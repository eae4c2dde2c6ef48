"""The terminal task picker: arrow keys to move, type to filter, Enter to choose.

Drawn on stderr, so stdout stays the remote command's; keys come from stdin in raw mode.
Esc or Ctrl-C cancels (exit 130). The logic (``PickerState``) is pure and tested apart from
the terminal.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from ecs_exec.aws.ecs import Task
from ecs_exec.local.terminal import raw_mode, write_all

MAX_ROWS = 12


def describe(task: Task) -> str:
    started = task.started_at.strftime("%Y-%m-%d %H:%M") if task.started_at else "-"
    containers = ",".join(c.name for c in task.containers)
    return f"{task.id}  {task.revision}  started {started}  [{containers}]"


@dataclass
class PickerState:
    """Filter text and cursor over a list of labels."""

    labels: Sequence[str]
    query: str = ""
    cursor: int = 0
    matches: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.refilter()

    def refilter(self) -> None:
        words = self.query.lower().split()
        self.matches = [
            i for i, label in enumerate(self.labels) if all(w in label.lower() for w in words)
        ]
        self.cursor = min(self.cursor, max(len(self.matches) - 1, 0))

    def key(self, key: bytes) -> str | None:
        """Apply one key; returns "chosen", "cancelled" or None to go on."""
        if key in (b"\r", b"\n"):
            return "chosen" if self.matches else None
        if key in (b"\x1b", b"\x03", b"\x04"):
            return "cancelled"
        if key in (b"\x1b[A", b"\x1bOA", b"\x10"):  # up, Ctrl-P
            self.cursor = max(self.cursor - 1, 0)
        elif key in (b"\x1b[B", b"\x1bOB", b"\x0e"):  # down, Ctrl-N
            self.cursor = min(self.cursor + 1, max(len(self.matches) - 1, 0))
        elif key in (b"\x7f", b"\x08"):
            self.query = self.query[:-1]
            self.refilter()
        elif len(key) == 1 and 32 <= key[0] < 127:
            self.query += key.decode()
            self.refilter()
        return None

    @property
    def selected(self) -> int | None:
        return self.matches[self.cursor] if self.matches else None

    def render(self, title: str) -> list[str]:
        lines = [f"{title}  filter: {self.query}"]
        start = max(0, self.cursor - MAX_ROWS + 1)
        for row, index in enumerate(self.matches[start : start + MAX_ROWS], start):
            mark = ">" if row == self.cursor else " "
            lines.append(f"{mark} {self.labels[index]}")
        if not self.matches:
            lines.append("  (no task matches the filter)")
        return lines


def _split_keys(data: bytes) -> list[bytes]:
    keys: list[bytes] = []
    i = 0
    while i < len(data):
        if data[i : i + 2] in (b"\x1b[", b"\x1bO") and i + 2 < len(data):
            keys.append(data[i : i + 3])
            i += 3
        else:
            keys.append(data[i : i + 1])
            i += 1
    return keys


def pick_task(tasks: Sequence[Task], *, stdin_fd: int = 0, stderr_fd: int = 2) -> Task:
    """Ask the user to choose a task on the terminal.

    Raises:
        KeyboardInterrupt: the user cancelled.
    """
    state = PickerState([describe(t) for t in tasks])
    title = f"{len(tasks)} tasks are ready; choose one (arrows, type to filter, Enter):"
    drawn = 0
    with raw_mode(stdin_fd):
        try:
            while True:
                lines = state.render(title)
                clear = "\x1b[1A\x1b[2K" * drawn
                write_all(stderr_fd, (clear + "\r\x1b[2K" + "\r\n".join(lines) + "\r\n").encode())
                drawn = len(lines)
                data = os.read(stdin_fd, 64)
                if not data:
                    raise KeyboardInterrupt
                outcome = None
                for key in _split_keys(data):
                    outcome = state.key(key)
                    if outcome:
                        break
                if outcome == "cancelled":
                    raise KeyboardInterrupt
                if outcome == "chosen" and state.selected is not None:
                    return tasks[state.selected]
        finally:
            write_all(stderr_fd, ("\x1b[1A\x1b[2K" * drawn).encode())
