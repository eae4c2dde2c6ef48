"""The command line: the only place that parses flags, prints errors and chooses exit codes.

``run(argv, console=...)`` is the whole CLI against an injected console (stdio descriptors,
terminal size, environment), as httpie's ``main(args, env=Environment())``: tests call it in
process. ``main()`` is the process entry point around it. ``run`` splits argv at the first
``--`` (everything after it is the remote command, so a remote ``ls`` is never taken for the
``ls`` subcommand), runs the typer app without click's standalone mode, and maps every error
to one ``ecs-exec: error: ...`` line (plus an optional ``hint:`` line) and a documented exit
status, the same with ``--debug`` (which adds the traceback).

Modules here import downwards only: ``__init__`` -> ``app`` -> ``exec_cmd``/``ls_cmd``/
``sandbox_cmd`` -> ``common`` -> ``settings``/``report``; none imports one above it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator, Sequence

from ecs_exec.cli.report import (
    PROG,
    debug_log,
    print_ecs_exec_error,
    print_error,
    print_traceback,
)
from ecs_exec.cli.settings import (
    Invocation,
    check_utf8,
    debug_requested,
    drop_empty_aws_variables,
    drop_expanded_empty_flags,
)
from ecs_exec.errors import EcsExecError, ExitStatus, LocalStreamError
from ecs_exec.local.terminal import Console

__all__ = ["PROG", "main", "run", "split_remote_argv"]

#: Local write failures that are the environment's, not a bug: one line, exit 255.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EBADF}
#: The descriptor Console uses for a standard stream that was closed when ecs-exec started.
CLOSED = -1


def split_remote_argv(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """Split ``ecs-exec [options] -- CMD ARGS`` into options and the remote argv."""
    args = list(argv)
    if "--" in args:
        index = args.index("--")
        return args[:index], args[index + 1 :]
    return args, None


def _open_closed_stdio() -> set[int]:
    """Put /dev/null on standard descriptors that are closed (``<&-``, ``>&-``, ``2>&-``).

    Otherwise the next file or socket opened would take the number, and ecs-exec would read
    "stdin" from an HTTPS connection. Returns the descriptors that were closed.
    """
    closed: set[int] = set()
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            closed.add(fd)
    for fd in sorted(closed):
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
    return closed


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; never returns.

    A closed stdin reads as empty (as ssh's does); a closed stdout is an error (the output
    would be lost: redirect it to /dev/null to mean that); a closed stderr is silent.
    Empty AWS_* variables count as unset (see ``cli.settings``).
    """
    from ecs_exec.startup import pause_gc_during_startup

    pause_gc_during_startup()
    closed = _open_closed_stdio()
    drop_empty_aws_variables(os.environ)
    console = Console.from_process()
    if 1 in closed:
        console = Console(console.stdin_fd, CLOSED, console.stderr_fd, console.environ)
    code = run(sys.argv[1:] if argv is None else argv, console=console)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    # Skip interpreter finalisation: with botocore, asyncio and the I/O threads loaded it
    # takes ~0.1 s, a sixth of a one-off command's own overhead. Everything ecs-exec writes is
    # flushed above, terminals are restored and sessions closed before run() returns.
    os._exit(code)


class _ConsoleStdout(io.TextIOBase):
    """sys.stdout for click and typer (--help, --version) during run(): the console's."""

    encoding = "utf-8"

    def __init__(self, console: Console) -> None:
        self.console = console

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.console.write_out(text)
        return len(text)

    def isatty(self) -> bool:
        return self.console.stdout_isatty

    def fileno(self) -> int:
        if self.console.stdout_fd < 0:
            raise io.UnsupportedOperation("stdout is closed")
        return self.console.stdout_fd


@contextlib.contextmanager
def _stdout_to(console: Console) -> Iterator[None]:
    saved = sys.stdout
    sys.stdout = _ConsoleStdout(console)
    try:
        yield
    finally:
        sys.stdout = saved


def run(argv: Sequence[str], *, console: Console | None = None) -> int:
    """Run the CLI and return the exit status (the remote command's, or ours).

    Args:
        argv: the arguments after the program name.
        console: stdio, terminal and environment to use; the process's by default.
    """
    console = console or Console.from_process()
    options, remote = split_remote_argv(argv)
    debug = debug_requested(options, console.environ)
    with debug_log(console, debug), _stdout_to(console):
        try:
            check_utf8(argv)  # numbered as the shell counts them, `--` included
            return _run(console, options, remote)
        except BaseException as exc:  # every exit path gets a status
            code = _report(console, exc, debug)
            if code is None:
                raise
            return code


def _run(console: Console, options: list[str], remote: list[str] | None) -> int:
    from ecs_exec.cli.app import build_command

    if console.stdout_fd == CLOSED:
        raise LocalStreamError(
            "stdout is closed", hint="redirect it to /dev/null (>/dev/null) to discard output"
        )
    invocation = Invocation(console=console, remote_argv=remote)
    command = build_command()
    options = drop_expanded_empty_flags(options)
    result = command.main(args=options, prog_name=PROG, standalone_mode=False, obj=invocation)
    if isinstance(result, int):
        return result
    return invocation.exit_status


def _report(console: Console, exc: BaseException, debug: bool) -> int | None:
    """Print what went wrong and return the exit status; None to let ``exc`` propagate."""
    from click import exceptions as click_exceptions

    if isinstance(exc, click_exceptions.Exit):
        return int(exc.exit_code)
    if isinstance(exc, SystemExit | GeneratorExit):
        return None
    if debug and not isinstance(exc, click_exceptions.ClickException):
        print_traceback(console, exc)
    if isinstance(exc, click_exceptions.UsageError):
        message = exc.format_message()
        hint = f"see `{PROG} --help`"
        if "No such command" in message:
            hint = f"put the remote command after `--`, e.g. `{PROG} --cluster C -- ls -l`"
        print_error(console, message[:1].lower() + message[1:], hint)
        return ExitStatus.USAGE
    if isinstance(exc, click_exceptions.Abort | KeyboardInterrupt):
        with contextlib.suppress(OSError):
            console.write_err("\n")
        return ExitStatus.INTERRUPTED
    if isinstance(exc, click_exceptions.ClickException):
        print_error(console, exc.format_message())
        return ExitStatus.USAGE
    if isinstance(exc, EcsExecError):
        print_ecs_exec_error(console, exc)
        return exc.exit_status
    if isinstance(exc, BrokenPipeError):
        # stdout closed early (`ecs-exec ls | head -1`): not an error of ours.
        return ExitStatus.SUCCESS
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        print_error(
            console,
            f"a local write failed: {exc.strerror or exc}",
            "check where stdout goes (a full disk, a closed descriptor)",
        )
        return ExitStatus.TOOL_FAILURE
    if isinstance(exc, Exception):
        print_error(
            console,
            f"unexpected {type(exc).__name__}: {exc}",
            "rerun with --debug and report it",
        )
        return ExitStatus.TOOL_FAILURE
    return None
