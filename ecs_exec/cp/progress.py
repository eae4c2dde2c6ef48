"""Progress of a copy on a terminal's stderr: bytes, rate, ETA, and the file being copied."""

from __future__ import annotations

import threading
import time

from ecs_exec.cp.local import Progress
from ecs_exec.local.terminal import Console

#: Seconds between redraws.
INTERVAL = 0.25


def human_size(size: float) -> str:
    """Bytes in the units ls -h uses, e.g. ``20.0 MB``."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def render(progress: Progress, now: float, width: int) -> str:
    """One progress line (without CR), at most ``width`` characters."""
    if not progress.done:
        return "starting the session..."[:width]
    elapsed = max(now - progress.started, 1e-6)
    rate = progress.done / elapsed
    parts = [human_size(progress.done)]
    if progress.total:
        percent = min(100.0, 100.0 * progress.done / progress.total)
        parts[0] += f" / {human_size(progress.total)} ({percent:.0f}%)"
    parts.append(f"{human_size(rate)}/s")
    if progress.total and rate > 0 and progress.done < progress.total:
        left = int((progress.total - progress.done) / rate)
        parts.append(f"ETA {left // 60}:{left % 60:02d}")
    if progress.files > 1:
        parts.append(f"{progress.files} files")
    line = "  ".join(parts)
    name = progress.current
    room = width - len(line) - 2
    if name and room > 8:
        shown = name.encode("utf-8", "replace").decode("utf-8", "replace").replace("\n", "?")
        if len(shown) > room:
            shown = "…" + shown[-(room - 1) :]
        line = f"{shown}  {line}"
    return line[:width]


class ProgressDisplay:
    """Redraws the progress line every :data:`INTERVAL` in a thread until :meth:`stop`."""

    def __init__(self, console: Console, progress: Progress) -> None:
        self.console, self.progress = console, progress
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-exec-cp-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._draw()

    def _draw(self) -> None:
        width = self.console.get_size()[0] - 1
        self.console.write_err("\r\x1b[K" + render(self.progress, time.monotonic(), width))

    def stop(self) -> None:
        """Stop redrawing and clear the line."""
        self._stop.set()
        self._thread.join()
        self.console.write_err("\r\x1b[K")
