"""Each task's outcome, the JSON document (stable), the summary and the exit status.

The JSON lines format (``-o json``), one object per targeted task, documented as stable::

    {"taskId": "...", "taskArn": "...", "container": "app",
     "status": "exited" | "timed-out" | "error" | "not-ready" | "cancelled",
     "exitStatus": 3 | null, "error": null | "one line",
     "startedAt": "2026-11-30T01:02:03.456Z" | null, "durationSeconds": 1.234 | null,
     "stdout": "...", "stdoutEncoding": "utf-8" | "base64",
     "stderr": "...", "stderrEncoding": "utf-8" | "base64"}

The exit status of a fan-out (:func:`exit_status`), in this order:

* 128+N when a signal (Ctrl-C: 130) stopped it;
* 141 when local stdout was closed under it;
* 255 when ecs-exec could not reach at least one targeted task (not ready, ExecuteCommand
  failed, the session failed or was lost);
* 1 when every task was reached and at least one remote command failed (a non-zero exit,
  a timeout, or tasks cancelled by --fail-fast after such a failure);
* 0 when every targeted task ran and exited 0.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ecs_exec.errors import ExitStatus

#: The exit status when some remote commands failed and every task was reached.
SOME_FAILED = 1
#: The exit status when local stdout was closed (as for one task).
STDOUT_CLOSED = 141


class Status(StrEnum):
    """What became of one task (the JSON ``status``)."""

    EXITED = "exited"  #: the command ran to an exit status
    TIMED_OUT = "timed-out"  #: --timeout: the session was terminated
    ERROR = "error"  #: could not start, or the session failed: ecs-exec did not reach it
    NOT_READY = "not-ready"  #: skipped: the task cannot take a session now
    CANCELLED = "cancelled"  #: --fail-fast or a signal: never started, or terminated


@dataclass
class TaskResult:
    """One targeted task's outcome."""

    task_id: str
    task_arn: str
    container: str | None
    status: Status
    exit_status: int | None = None
    error: str | None = None
    started_at: datetime | None = None
    duration: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is Status.EXITED and self.exit_status == 0

    @property
    def failed(self) -> bool:
        """The remote command failed (a non-zero exit or a timeout)."""
        return self.status is Status.TIMED_OUT or (
            self.status is Status.EXITED and self.exit_status != 0
        )

    @property
    def unreached(self) -> bool:
        return self.status in (Status.ERROR, Status.NOT_READY)

    def to_json(self, stdout: bytes = b"", stderr: bytes = b"") -> str:
        """The task's JSON line (without the newline)."""
        document: dict[str, Any] = {
            "taskId": self.task_id,
            "taskArn": self.task_arn,
            "container": self.container,
            "status": self.status.value,
            "exitStatus": self.exit_status,
            "error": self.error,
            "startedAt": _iso(self.started_at),
            "durationSeconds": None if self.duration is None else round(self.duration, 3),
        }
        for name, data in (("stdout", stdout), ("stderr", stderr)):
            text, encoding = _text(data)
            document[name] = text
            document[f"{name}Encoding"] = encoding
        return json.dumps(document, ensure_ascii=False)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def exit_status(results: list[TaskResult], *, signal: int | None, stdout_closed: bool) -> int:
    """The fan-out's exit status (the rule in the module docstring)."""
    if signal is not None:
        return 128 + signal
    if stdout_closed:
        return STDOUT_CLOSED
    if any(r.unreached for r in results):
        return ExitStatus.TOOL_FAILURE
    if any(not r.succeeded for r in results):
        return SOME_FAILED
    return ExitStatus.SUCCESS


def summary_lines(
    results: list[TaskResult], short: dict[str, str], *, elapsed: float, signal: int | None
) -> list[str]:
    """The summary for stderr: the counts, then one line per task that did not succeed."""
    succeeded = [r for r in results if r.succeeded]
    failed = [r for r in results if r.failed]
    errors = [r for r in results if r.status is Status.ERROR]
    skipped = [r for r in results if r.status is Status.NOT_READY]
    cancelled = [r for r in results if r.status is Status.CANCELLED]
    counts = [
        f"{len(succeeded)} succeeded",
        f"{len(failed)} failed",
        f"{len(errors)} could not start or were lost",
        f"{len(skipped)} skipped as not ready",
    ]
    if cancelled:
        counts.append(f"{len(cancelled)} cancelled")
    head = "interrupted: " if signal is not None else ""
    tasks = f"{len(results)} task{'' if len(results) == 1 else 's'}"
    lines = [f"ecs-exec: {head}{tasks} in {elapsed:.1f} s: " + ", ".join(counts)]
    for result in failed:
        what = f"exit {result.exit_status}" if result.status is Status.EXITED else str(result.error)
        lines.append(f"  failed      {_name(result, short)}: {what}")
    for result in errors:
        lines.append(f"  not reached {_name(result, short)}: {result.error}")
    for result in skipped:
        lines.append(f"  not ready   {_name(result, short)}: {result.error}")
    return lines


def _name(result: TaskResult, short: dict[str, str]) -> str:
    return short.get(result.task_id, result.task_id)
