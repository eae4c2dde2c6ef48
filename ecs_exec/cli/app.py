"""The typer app: root options (the exec command) and the subcommands.

Root options and subcommands coexist so that a gateway's connection command
``ecs-exec --interactive --cluster=$CLUSTER_NAME --service-name=$SERVICE_NAME`` keeps working
with the user's arguments appended after it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import click
from click import exceptions as click_exceptions

# typer < 0.20 on click: later releases vendor click and pull in pydantic, which costs
# ~0.1 s of start-up on every exec (see the pin in pyproject.toml).
with warnings.catch_warnings():
    # typer 0.19 re-exports click.utils names that newer click deprecates on access.
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer

__all__ = ["app", "build_command", "click_exceptions"]

from ecs_exec import __version__
from ecs_exec.cli.fanout_cmd import FanoutFlags
from ecs_exec.cli.options import (
    ClusterOpt,
    ContainerOpt,
    ContextOpt,
    DebugOpt,
    EndpointOpt,
    PipeOpt,
    ProfileOpt,
    QuietOpt,
    RegionOpt,
    SandboxOpt,
    ServiceOpt,
    TaskOpt,
    Transport,
    invocation_of as _invocation,
    merged_flags as _merged,
    subcommand_settings,
)
from ecs_exec.cli.settings import build_settings
from ecs_exec.config.completion import complete_containers, complete_contexts
from ecs_exec.errors import UsageError


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class FanoutOutput(StrEnum):
    text = "text"
    json = "json"


HELP = """Open shells and run commands in Amazon ECS containers through ECS Exec.

Exec (the default command):

\b
  ecs-exec --cluster C --service-name S --interactive          # a shell
  ecs-exec --cluster C --service-name S -- rails db:migrate:status
  ecs-exec --cluster C --service-name S --pipe 'rails runner -' < job.rb
  ecs-exec --cluster C --service-name S --all -- cat /app/REVISION   # every task

The remote exit status becomes ecs-exec's; ecs-exec's own failures exit 255, usage
errors 2 (--debug keeps these). --profile, --region, --endpoint-url, --sandbox, --debug,
--quiet go before or after a subcommand. Flags win over the environment: CLUSTER_NAME,
SERVICE_NAME, CONTAINER, the AWS_* variables, ECS_EXEC_PLUGIN, ECS_EXEC_DEBUG,
ECS_EXEC_TASK_POLL, ECS_EXEC_HEARTBEAT, ECS_EXEC_TIMINGS (see the README). An empty flag
value is an error; an empty environment variable counts as unset.

CLUSTER_NAME and SERVICE_NAME together lock the connection, as an access gateway needs:
flags that change the target, region, profile or endpoint are refused, and so is
--sandbox. ECS_EXEC_LOCK=0 turns the lock off (README: "For gateway administrators");
under it ECS_EXEC_ALLOWED_CONTAINERS lists the containers --container may name, and
ECS_EXEC_LOCK_ALLOW the commands allowed all the same (such as context).
ECS_EXEC_CONTEXT or --context choose a named context (`ecs-exec context`), below the
environment. ECS_EXEC_TRANSPORT sets the transport. CONNECTION_DEBUG=1 is --debug.

Try it with no AWS account: `ecs-exec --sandbox ls --cluster demo --service web`.
When exec fails, `ecs-exec doctor --cluster C --task T` checks every prerequisite.
"""

app = typer.Typer(
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help=HELP,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecs-exec {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    task: TaskOpt = None,
    container: ContainerOpt = None,
    interactive: Annotated[
        bool,
        typer.Option("--interactive", "-i", help="Interactive session in a remote terminal."),
    ] = False,
    pipe: PipeOpt = None,
    transport: Annotated[
        Transport | None,
        typer.Option(
            help="native (default): pure Python; plugin: session-manager-plugin; auto: native "
            "[env: ECS_EXEC_TRANSPORT].",
            show_default=False,
        ),
    ] = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    context_name: ContextOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
    all_tasks: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Run the command on every ready task of the service, concurrently. Exit 1: "
            "some commands failed; 255: some tasks not reached (README).",
        ),
    ] = False,
    tasks: Annotated[
        str | None,
        typer.Option("--tasks", help="Run the command on these tasks: ids, ARNs or prefixes."),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            help="Sessions at a time with --all/--tasks (default 32; 0: all at once).",
            show_default=False,
        ),
    ] = None,
    fail_fast: Annotated[
        bool,
        typer.Option("--fail-fast", help="On the first failure, stop every other task's session."),
    ] = False,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Per task with --all/--tasks: 90, 30s, 5m, 1h."),
    ] = None,
    group: Annotated[
        bool | None,
        typer.Option(
            "--group/--prefix",
            help="Each task's output as one block when it ends, or (default) lines tagged "
            "with the task as they come.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        FanoutOutput | None,
        typer.Option(
            "--output",
            "-o",
            help="text (default) or json (a JSON line per task; stable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    invocation = _invocation(ctx)
    fanout = FanoutFlags(
        all_tasks, tasks, parallel, fail_fast, timeout, group, output.value if output else None
    )
    invocation.root_flags = {
        "cluster": cluster,
        "service": service,
        "task": task,
        "container": container,
        "profile": profile,
        "region": region,
        "endpoint_url": endpoint_url,
        "transport": transport.value if transport is not None else None,
        "sandbox": sandbox,
        "quiet": quiet,
        "debug": debug,
    }
    if ctx.invoked_subcommand is not None:
        if fanout.fanout:
            raise UsageError(f"--all and --tasks go with exec, not with `{ctx.invoked_subcommand}`")
        takes_command = ctx.invoked_subcommand == "run"  # `ecs-exec run ... -- CMD`
        if (
            interactive
            or pipe is not None
            or (invocation.remote_argv is not None and not takes_command)
        ):
            raise UsageError(
                f"--interactive, --pipe and a remote command go with exec, "
                f"not with `{ctx.invoked_subcommand}`"
            )
        return
    from ecs_exec.cli.exec_cmd import run_exec_command

    # --context was read before parsing (cli.scope), with the lock; it is declared here
    # so that click accepts it and completes it.
    settings = build_settings(invocation.root_flags, invocation.console.environ, invocation.context)
    if fanout.fanout:
        from ecs_exec.cli.fanout_cmd import run_fanout_command

        invocation.exit_status = run_fanout_command(
            invocation, settings, fanout, interactive=interactive, pipe=pipe
        )
        return
    fanout.check_single()
    invocation.exit_status = run_exec_command(
        invocation, settings, interactive=interactive, pipe=pipe
    )


@app.command("ls")
def ls(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            help="Judge readiness on this container [env: CONTAINER].",
            autocompletion=complete_containers,
        ),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output", "-o", help="table (default), or json (stable).", show_default=False
        ),
    ] = OutputFormat.table,
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans", help="Tasks ecs-exec run started that still run (needs --cluster)."
        ),
    ] = False,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    context_name: ContextOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List clusters; a cluster's services; a service's tasks with exec readiness."""
    from ecs_exec.cli.ls_cmd import run_ls

    invocation, _, settings = subcommand_settings(
        ctx,
        cluster=cluster,
        service=service,
        container=container,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        quiet=quiet,
        debug=debug,
    )
    if orphans:
        from ecs_exec.cli.run_cmd import run_ls_orphans

        invocation.exit_status = run_ls_orphans(invocation, settings, output=output.value)
        return
    invocation.exit_status = run_ls(invocation, settings, output=output.value)


class _DoctorCommand(typer.core.TyperCommand):
    """Lists the check ids at the end of `doctor --help`, loading them only then."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from ecs_exec.doctor.catalog import CHECKS

        with formatter.section("Checks (ids are stable; README: ecs-exec doctor)"):
            formatter.write_dl([(c.id, c.title) for c in CHECKS])
        super().format_epilog(ctx, formatter)


class DoctorOutput(StrEnum):
    text = "text"
    json = "json"


@app.command("doctor", cls=_DoctorCommand)
def doctor(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    task: TaskOpt = None,
    container: ContainerOpt = None,
    transport: Annotated[
        Transport | None,
        typer.Option(
            help="Check for this transport (plugin: also the session-manager-plugin binary) "
            "[env: ECS_EXEC_TRANSPORT].",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        DoctorOutput,
        typer.Option(
            "--output", "-o", help="text (default), or json (stable).", show_default=False
        ),
    ] = DoctorOutput.text,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    context_name: ContextOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check every ECS Exec prerequisite for a task and say how to fix what fails.

    Exit status: 0 when no check failed (warnings alone do not fail), 1 when at least one
    failed, 255 when doctor itself could not run, 2 for a usage error.
    """
    from ecs_exec.cli.doctor_cmd import run_doctor

    invocation, flags, settings = subcommand_settings(
        ctx,
        cluster=cluster,
        service=service,
        task=task,
        container=container,
        transport=transport,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        quiet=quiet,
        debug=debug,
    )
    invocation.exit_status = run_doctor(invocation, settings, flags, output=output.value)


@app.command("cp")
def cp(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(help="What to copy: a local path, -, or a remote path.")],
    dst: Annotated[str, typer.Argument(help="Where to: the same forms.")],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Copy directories (tar in the container).")
    ] = False,
    no_preserve: Annotated[
        bool, typer.Option("--no-preserve", help="Do not keep modes and modification times.")
    ] = False,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    task: TaskOpt = None,
    container: ContainerOpt = None,
    transport: Annotated[
        Transport | None,
        typer.Option(
            help="native (default), plugin or auto [env: ECS_EXEC_TRANSPORT].", show_default=False
        ),
    ] = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    context_name: ContextOpt = None,
    sandbox: SandboxOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress and no notes.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Copy files and directories between this machine and a container.

    \b
    SRC and DST: a local path, or a remote one, :PATH (the container the flags
    choose), TASK:PATH or TASK/CONTAINER:PATH (task id, ARN or unique id prefix);
    - is stdin or stdout.
    Examples:
      ecs-exec cp --cluster C --service S :/var/log/app.log .
      ecs-exec cp --cluster C --service S -r ./config 1a2b3c:/srv/app/
    \b
    The copy is verified (sha256sum, else sha1sum or md5sum, else the size) and appears
    only when complete. Progress shows on a terminal. Failures exit 255 (interrupted:
    130); see the README, "Copying files".
    """
    from ecs_exec.cli.cp_cmd import run_cp_command

    invocation, _, settings = subcommand_settings(
        ctx,
        cluster=cluster,
        service=service,
        task=task,
        container=container,
        transport=transport,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        quiet=quiet,
        debug=debug,
    )
    invocation.exit_status = run_cp_command(
        invocation, settings, src=src, dst=dst, recursive=recursive, preserve=not no_preserve
    )


@app.command("sandbox")
def sandbox_cmd(
    ctx: typer.Context,
    state_file: Annotated[
        Path | None,
        typer.Option("--state", help="JSON state file (default: the built-in demo)."),
    ] = None,
    port: Annotated[
        int,
        typer.Option(help="API port on 127.0.0.1 (default 0: any free port).", show_default=False),
    ] = 0,
    fast: Annotated[
        bool,
        typer.Option(help="Switch off the agent's faithful pacing and delays.", show_default=False),
    ] = False,
    frame_log: Annotated[
        Path | None,
        typer.Option("--frame-log", help="Write every data-channel frame as JSON lines."),
    ] = None,
    context_name: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Create or update this context to point at the sandbox while it runs.",
            autocompletion=complete_contexts,
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Serve the local emulator of ECS, SSM, KMS and the Session Manager data channel."""
    from ecs_exec.cli.sandbox_cmd import run_sandbox

    invocation = _invocation(ctx)
    settings = build_settings(_merged(ctx, debug=debug), invocation.console.environ)
    invocation.exit_status = run_sandbox(
        invocation,
        settings,
        state_file=state_file,
        port=port,
        fast=fast,
        frame_log=frame_log,
        context_name=context_name,
    )


class _LazyCommand(click.Command):
    """A command built on first use: `run` has some twenty options, and building them costs
    every invocation ~5-10 ms although only `run` needs them. Parsing (``make_context``) and
    the option list (``params``, read by the scope lock) come from the real command."""

    def __init__(self, name: str, load: Callable[[], click.Command], *, help: str) -> None:
        self._load: Callable[[], click.Command] | None = None  # click sets params first
        super().__init__(name=name, help=help)
        self._load = load
        self._command: click.Command | None = None

    def _real(self) -> click.Command:
        if self._command is None:
            assert self._load is not None
            self._command = self._load()
        return self._command

    @property
    def params(self) -> list[click.Parameter]:
        return [] if self._load is None else self._real().params

    @params.setter
    def params(self, value: list[click.Parameter]) -> None:
        pass  # click.Command.__init__ sets an empty list; the real command's are used

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        return self._real().make_context(info_name, args, parent=parent, **extra)


def _run_command() -> click.Command:
    from ecs_exec.cli.run_app import run_command

    return run_command()


class _LazyGroup(click.Group):
    """A subcommand group built on first use: typer spends ~10 ms building `context`'s
    six commands, which an exec never needs."""

    def __init__(self, name: str, load: Callable[[], click.Group], **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._load = load
        self._group: click.Group | None = None

    def _real(self) -> click.Group:
        if self._group is None:
            self._group = self._load()
        return self._group

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real().get_command(ctx, cmd_name)


def _context_group() -> click.Group:
    from ecs_exec.cli.context_cmd import context_app

    group = typer.main.get_command(context_app)
    assert isinstance(group, click.Group)
    return group


def build_command() -> click.Command:
    command = typer.main.get_command(app)
    assert isinstance(command, click.Group)
    command.add_command(
        _LazyCommand(
            "run",
            _run_command,
            help="Start a task from a service or a task definition, exec into it, stop it "
            "afterwards.",
        )
    )
    command.add_command(
        _LazyGroup(
            "context",
            _context_group,
            help="Named contexts: create, ls, use, show, update, rm (see the README).",
            no_args_is_help=True,
        )
    )
    return command
