"""The command line: the only place that parses flags, prints errors and chooses exit codes.

``main()`` splits argv at the first ``--`` (everything after it is the remote command, so a
remote ``ls`` is never taken for the ``ls`` subcommand), runs the typer app without click's
standalone mode, and maps every error to one ``ecs-exec: error: ...`` line (plus an optional
``hint:`` line) and a documented exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ecs_exec.errors import EcsExecError, ExitStatus

PROG = "ecs-exec"


def _print_error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


def split_remote_argv(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """Split ``ecs-exec [options] -- CMD ARGS`` into options and the remote argv."""
    args = list(argv)
    if "--" in args:
        index = args.index("--")
        return args[:index], args[index + 1 :]
    return args, None


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; never returns."""
    from ecs_exec.startup import pause_gc_during_startup

    pause_gc_during_startup()
    code = run(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # Skip interpreter finalisation: with botocore, asyncio and the I/O threads loaded it
    # takes ~0.1 s, a sixth of a one-off command's own overhead. Everything ecs-exec writes is
    # flushed above, terminals are restored and sessions closed before run() returns.
    os._exit(code)


def run(argv: Sequence[str]) -> int:
    """Run the CLI and return the exit status (remote status, or ours)."""
    from ecs_exec.cli.app import CliState, build_command, click_exceptions

    options, remote = split_remote_argv(argv)
    debug = "--debug" in options or os.environ.get("ECS_EXEC_DEBUG") == "1"
    state = CliState(remote_argv=remote)
    try:
        command = build_command()
        result = command.main(args=options, prog_name=PROG, standalone_mode=False, obj=state)
        if isinstance(result, int):
            return result
        return state.exit_status
    except click_exceptions.NoSuchOption as exc:
        _print_error(exc.format_message(), f"see `{PROG} --help`")
        return ExitStatus.USAGE
    except click_exceptions.UsageError as exc:
        message = exc.format_message()
        hint = f"see `{PROG} --help`"
        if "No such command" in message:
            hint = f"put the remote command after `--`, e.g. `{PROG} --cluster C -- ls -l`"
        _print_error(message[0].lower() + message[1:] if message else message, hint)
        return ExitStatus.USAGE
    except click_exceptions.Exit as exc:
        return int(exc.exit_code)
    except click_exceptions.Abort:
        return ExitStatus.INTERRUPTED
    except click_exceptions.ClickException as exc:
        _print_error(exc.format_message())
        return ExitStatus.USAGE
    except EcsExecError as exc:
        if debug:
            raise
        _print_error(str(exc), exc.hint)
        for reason in getattr(exc, "reasons", ()):
            sys.stderr.write(f"  - {reason}\n")
        for candidate in getattr(exc, "candidates", ())[:20]:
            sys.stderr.write(f"  - {candidate}\n")
        return exc.exit_status
    except KeyboardInterrupt:
        if debug:
            raise
        sys.stderr.write("\n")
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (`ecs-exec ... | head`): not an error of ours.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return ExitStatus.SUCCESS
    except Exception as exc:  # the last line of defence: one line, no traceback
        if debug:
            raise
        _print_error(f"unexpected {type(exc).__name__}: {exc}", "rerun with --debug and report it")
        return ExitStatus.TOOL_FAILURE
