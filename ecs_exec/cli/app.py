"""The typer app: root options (the exec command) and the subcommands.

Root options and subcommands coexist so that a gateway's connection command
``ecs-exec --interactive --cluster=$CLUSTER_NAME --service-name=$SERVICE_NAME`` keeps working
with the user's arguments appended after it.
"""

from __future__ import annotations

import warnings
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
from ecs_exec.cli.settings import Invocation, build_settings
from ecs_exec.errors import UsageError


class Transport(StrEnum):
    native = "native"
    plugin = "plugin"
    auto = "auto"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


# Options that work before or after a subcommand (`ecs-exec ls --cluster C --endpoint-url U`
# as `aws ecs list-tasks` takes them): declared once, on the root and on each subcommand;
# a value given after the subcommand wins over one given before it.
ClusterOpt = Annotated[
    str | None, typer.Option("--cluster", help="Cluster name or ARN [env: CLUSTER_NAME].")
]
ServiceOpt = Annotated[
    str | None,
    typer.Option("--service-name", "--service", help="Service name [env: SERVICE_NAME]."),
]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Task id, ARN or unique id prefix.")]
ContainerOpt = Annotated[
    str | None, typer.Option("--container", help="Container name [env: CONTAINER].")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="AWS profile [env: AWS_PROFILE].")
]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region [env: AWS_REGION].")]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="One endpoint for ECS, SSM and KMS, e.g. the sandbox's [env: AWS_ENDPOINT_URL].",
    ),
]
SandboxOpt = Annotated[
    bool, typer.Option("--sandbox", help="Run this one command against a built-in sandbox.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No notes on stderr.")]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", help="Tracebacks and the data-channel log on stderr [env: ECS_EXEC_DEBUG=1]."
    ),
]


def _merged(ctx: typer.Context, **given: Any) -> dict[str, Any]:
    """The root's flags overlaid with a subcommand's (None or False: not given there)."""
    flags = dict(_invocation(ctx).root_flags)
    for name, value in given.items():
        if value is not None and value is not False:
            flags[name] = value
    return flags


def _invocation(ctx: typer.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    assert invocation is not None, "run() passes the Invocation as the context object"
    return invocation


HELP = """Open shells and run commands in Amazon ECS containers through ECS Exec.

Exec (the default command):

\b
  ecs-exec --cluster C --service-name S --interactive          # a shell
  ecs-exec --cluster C --service-name S -- rails db:migrate:status
  ecs-exec --cluster C --service-name S --pipe 'rails runner -' < job.rb

The remote exit status becomes ecs-exec's; ecs-exec's own failures exit 255, usage
errors 2 (--debug keeps these). --profile, --region, --endpoint-url, --sandbox, --debug,
--quiet go before or after a subcommand. Flags win over the environment: CLUSTER_NAME,
SERVICE_NAME, CONTAINER, the AWS_* variables, ECS_EXEC_PLUGIN, ECS_EXEC_DEBUG,
ECS_EXEC_TASK_POLL, ECS_EXEC_HEARTBEAT, ECS_EXEC_TIMINGS (see the README). An empty flag
value is an error; an empty environment variable counts as unset.
Try it with no AWS account: `ecs-exec --sandbox ls --cluster demo --service web`.
"""

app = typer.Typer(
    add_completion=False,
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
    pipe: Annotated[
        str | None,
        typer.Option("--pipe", help="Run this shell command line (sh -c) with stdin streamed."),
    ] = None,
    transport: Annotated[
        Transport,
        typer.Option(
            help="native (default): pure Python; plugin: session-manager-plugin; auto: native.",
            show_default=False,
        ),
    ] = Transport.native,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    invocation = _invocation(ctx)
    invocation.root_flags = {
        "cluster": cluster,
        "service": service,
        "task": task,
        "container": container,
        "profile": profile,
        "region": region,
        "endpoint_url": endpoint_url,
        "sandbox": sandbox,
        "quiet": quiet,
        "debug": debug,
    }
    if ctx.invoked_subcommand is not None:
        if interactive or pipe is not None or invocation.remote_argv is not None:
            raise UsageError(
                f"--interactive, --pipe and a remote command go with exec, "
                f"not with `{ctx.invoked_subcommand}`"
            )
        return
    from ecs_exec.cli.exec_cmd import run_exec_command

    settings = build_settings(invocation.root_flags, invocation.console.environ)
    invocation.exit_status = run_exec_command(
        invocation, settings, interactive=interactive, pipe=pipe, transport=transport.value
    )


@app.command("ls")
def ls(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    container: Annotated[
        str | None,
        typer.Option("--container", help="Judge readiness on this container [env: CONTAINER]."),
    ] = None,
    output: Annotated[
        OutputFormat,
        typer.Option(
            "--output", "-o", help="table (default), or json (stable).", show_default=False
        ),
    ] = OutputFormat.table,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List clusters; a cluster's services; a service's tasks with exec readiness."""
    from ecs_exec.cli.ls_cmd import run_ls

    invocation = _invocation(ctx)
    flags = _merged(
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
    settings = build_settings(flags, invocation.console.environ)
    invocation.exit_status = run_ls(invocation, settings, output=output.value)


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
    )


def build_command() -> click.Command:
    return typer.main.get_command(app)
