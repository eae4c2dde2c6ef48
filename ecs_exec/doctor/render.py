"""The report as text (groups, one line per check, a verdict) or as the JSON document.

Text on a terminal gets symbols and colour; without one (a pipe, a file, a CI log) or with
NO_COLOR set it is plain ASCII with the status in words, so it greps and diffs well.
"""

from __future__ import annotations

import json
from itertools import groupby

from ecs_exec.doctor.model import GROUP_TITLES, Report, Status

_SYMBOLS = {
    Status.OK: "\u2714",  # heavy check mark
    Status.WARNING: "\u25b2",  # triangle
    Status.FAILED: "\u2716",  # heavy multiplication x
    Status.SKIPPED: "\u2013",  # en dash
}
_WORDS = {
    Status.OK: "ok",
    Status.WARNING: "warning",
    Status.FAILED: "FAILED",
    Status.SKIPPED: "skipped",
}
_COLOURS = {Status.OK: "32", Status.WARNING: "33", Status.FAILED: "31", Status.SKIPPED: "90"}
_VERDICTS = {
    Status.OK: "nothing failed: ECS Exec should work for this target",
    Status.WARNING: "nothing failed, but read the warnings",
    Status.FAILED: "ECS Exec will not work until the failed checks are fixed",
}


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def render_text(report: Report, *, styled: bool) -> str:
    """The report for people; ``styled``: symbols and ANSI colour (a terminal)."""

    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if styled else text

    def mark(status: Status) -> str:
        if styled:
            return paint(_SYMBOLS[status], _COLOURS[status])
        return f"[{_WORDS[status]}]".ljust(10)

    lines = [_heading(report), ""]
    width = max((len(r.id) for r in report.results), default=0)
    for group, results in groupby(report.results, key=lambda r: r.group):
        lines.append(paint(GROUP_TITLES[group], "1"))
        for r in results:
            text = r.summary
            if r.status is Status.SKIPPED:
                text = f"skipped: {r.reason}" if styled else str(r.reason)
            lines.append(f"  {mark(r.status)} {r.id.ljust(width)}  {text}")
            pad = " " * (4 + (1 if styled else 10))
            if r.status in {Status.WARNING, Status.FAILED}:
                if r.reason and r.reason != r.summary:
                    lines.append(f"{pad}why: {r.reason}")
                if r.fix:
                    lines.append(f"{pad}{paint('fix:', '1')} {r.fix}")
        lines.append("")
    counts = ", ".join(
        f"{report.count(s)} {_WORDS[s].lower()}"
        + ("s" if s is Status.WARNING and report.count(s) != 1 else "")
        for s in (Status.FAILED, Status.WARNING, Status.OK, Status.SKIPPED)
    )
    verdict = report.verdict
    lines.append(
        f"{paint('verdict: ' + _WORDS[verdict].upper(), '1;' + _COLOURS[verdict])} "
        f"({counts}): {_VERDICTS[verdict]}"
    )
    return "\n".join(lines) + "\n"


def _heading(report: Report) -> str:
    t = report.target
    parts = []
    if t.task:
        parts.append(f"task {t.task}" + (f" (container {t.container})" if t.container else ""))
    if t.service:
        parts.append(f"service {t.service}")
    if t.cluster:
        parts.append(f"cluster {t.cluster}")
    if t.region:
        parts.append(t.region)
    return "ecs-exec doctor: " + (", ".join(parts) or "no target resolved")
