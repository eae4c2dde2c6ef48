"""What the CLI says on stderr: error lines, hints, tracebacks under --debug, the debug log."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator

from ecs_exec.errors import EcsExecError
from ecs_exec.local.terminal import Console

PROG = "ecs-exec"
#: At most this many candidates or reasons are listed under an error.
MAX_LISTED = 20


def print_error(console: Console, message: str, hint: str | None = None) -> None:
    """``ecs-exec: error: MESSAGE`` and an optional ``hint: HINT`` line on stderr."""
    text = f"{PROG}: error: {message}\n"
    if hint:
        text += f"hint: {hint}\n"
    with contextlib.suppress(OSError):  # stderr itself unusable: the exit status must do
        console.write_err(text)


def print_warning(console: Console, warning: EcsExecError) -> None:
    """``ecs-exec: warning: MESSAGE`` and an optional hint: something the user must know
    that did not change the outcome (a session that could not be terminated)."""
    text = f"{PROG}: warning: {warning}\n"
    if warning.hint:
        text += f"hint: {warning.hint}\n"
    with contextlib.suppress(OSError):
        console.write_err(text)


def print_ecs_exec_error(console: Console, exc: EcsExecError) -> None:
    print_error(console, str(exc), exc.hint)
    listed = [*getattr(exc, "reasons", ()), *getattr(exc, "candidates", ())][:MAX_LISTED]
    with contextlib.suppress(OSError):
        console.write_err("".join(f"  - {line}\n" for line in listed))


def print_traceback(console: Console, exc: BaseException) -> None:
    with contextlib.suppress(OSError):
        console.write_err("".join(traceback.format_exception(exc)))


class _ConsoleHandler(logging.Handler):
    def __init__(self, console: Console) -> None:
        super().__init__(logging.DEBUG)
        self.console = console
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.write_err(self.format(record) + "\n")
        except Exception:  # logging must never break a session
            self.handleError(record)


@contextlib.contextmanager
def debug_log(console: Console, enabled: bool) -> Iterator[None]:
    """ecs-exec's own DEBUG log (the data channel's frames included) on the console's stderr.

    botocore's log stays off: its DEBUG output includes response bodies, and
    ExecuteCommand's carries the session token.
    """
    if not enabled:
        yield
        return
    logger = logging.getLogger("ecs_exec")
    handler = _ConsoleHandler(console)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
