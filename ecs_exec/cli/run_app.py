"""The `run` command's options (typer), built only when `run` is used (``app._LazyCommand``).

The options it shares with the other commands come from ``cli.options``, as app.py's do.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import click

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # as in cli.app
    import typer

from ecs_exec.cli.options import (
    ClusterOpt,
    ContextOpt,
    DebugOpt,
    EndpointOpt,
    PipeOpt,
    ProfileOpt,
    QuietOpt,
    RegionOpt,
    SandboxOpt,
    ServiceOpt,
    Transport,
    subcommand_settings,
)

DURATION_HELP = "90s, 15m, 1h, 1h30m"


RUN_EPILOG = (
    "Exit status: the remote command's; 255 when the task could not start or another "
    "failure of ecs-exec; 2 for usage errors; 128+N after signal N. IAM: ecs:RunTask, "
    "ecs:StopTask, ecs:DescribeTasks, ecs:DescribeServices, ecs:DescribeTaskDefinition, "
    "ecs:TagResource, iam:PassRole (task and execution roles); with --image also "
    "ecs:RegisterTaskDefinition, ecs:DeregisterTaskDefinition, ecs:ListTaskDefinitions."
)
RUN_HELP = "Start a task from a service or a task definition, exec into it, stop it afterwards."
RUN_EXAMPLES = """

\b
  ecs-exec run --cluster C --service-name web -- rails db:migrate
  ecs-exec run --cluster C --service-name web -e DEBUG=1 --interactive
  ecs-exec run --cluster C --task-definition job:7 --subnet subnet-1 --pipe 'sh -s' < job.sh
  ecs-exec run --cluster C --cleanup --older-than 2h
"""


def run_cmd(
    ctx: typer.Context,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    task_definition: Annotated[
        str | None,
        typer.Option(
            "--task-definition", help="FAMILY[:REVISION] or ARN (default: the service's)."
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            help="The container to exec into, kept alive for the session [env: CONTAINER].",
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="NAME=VALUE for the container (NAME alone: ecs-exec's own value). Repeatable.",
        ),
    ] = None,
    env_file: Annotated[
        list[Path] | None,
        typer.Option("--env-file", help="NAME=VALUE lines (# comments). Repeatable."),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", help="Run the container with this image (derived revision)."),
    ] = None,
    cpu: Annotated[int | None, typer.Option("--cpu", help="Task CPU units.")] = None,
    memory: Annotated[int | None, typer.Option("--memory", help="Task memory, MiB.")] = None,
    launch_type: Annotated[
        str | None, typer.Option("--launch-type", help="FARGATE or EC2.", show_default=False)
    ] = None,
    subnet: Annotated[
        list[str] | None, typer.Option("--subnet", help="awsvpc subnet id. Repeatable.")
    ] = None,
    security_group: Annotated[
        list[str] | None,
        typer.Option("--security-group", help="awsvpc security group id. Repeatable."),
    ] = None,
    public_ip: Annotated[
        bool | None,
        typer.Option("--public-ip/--no-public-ip", help="Assign a public IP (Fargate)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the task running at the end; print its id.")
    ] = False,
    max_lifetime: Annotated[
        str,
        typer.Option(
            "--max-lifetime",
            help=f"The keep-alive ends by itself after this (default 1h; {DURATION_HELP}).",
            show_default=False,
        ),
    ] = "1h",
    wait_timeout: Annotated[
        str,
        typer.Option(
            "--wait-timeout",
            help=f"Longest wait for the task to be ready (default 10m; {DURATION_HELP}).",
            show_default=False,
        ),
    ] = "10m",
    interactive: Annotated[
        bool, typer.Option("--interactive", "-i", help="Interactive session.")
    ] = False,
    pipe: PipeOpt = None,
    transport: Annotated[
        Transport | None,
        typer.Option(help="native, plugin or auto [env: ECS_EXEC_TRANSPORT].", show_default=False),
    ] = None,
    cleanup: Annotated[
        bool,
        typer.Option("--cleanup", help="Stop the tasks ecs-exec run left running, and exit."),
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than", help=f"With --cleanup: only tasks older than this ({DURATION_HELP})."
        ),
    ] = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    context_name: ContextOpt = None,
    sandbox: SandboxOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """`ecs-exec run` (built by ``_run_command``; RUN_HELP and RUN_EXAMPLES are its help)."""
    from ecs_exec.cli.run_cmd import RunFlags, run_run_command

    invocation, _, settings = subcommand_settings(
        ctx,
        cluster=cluster,
        service=service,
        container=container,
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        transport=transport,
        sandbox=sandbox,
        quiet=quiet,
        debug=debug,
    )
    invocation.exit_status = run_run_command(
        invocation,
        settings,
        RunFlags(
            task_definition=task_definition,
            env=tuple(env or ()),
            env_files=tuple(env_file or ()),
            image=image,
            cpu=cpu,
            memory=memory,
            launch_type=launch_type,
            subnets=tuple(subnet or ()),
            security_groups=tuple(security_group or ()),
            public_ip=public_ip,
            keep=keep,
            max_lifetime=max_lifetime,
            wait_timeout=wait_timeout,
            interactive=interactive,
            pipe=pipe,
            cleanup=cleanup,
            older_than=older_than,
        ),
    )


def run_command() -> click.Command:
    """The click command for `ecs-exec run`."""
    run_app = typer.Typer(
        pretty_exceptions_enable=False, rich_markup_mode=None, add_completion=False
    )
    run_app.command("run", help=RUN_HELP + RUN_EXAMPLES, epilog=RUN_EPILOG)(run_cmd)
    return typer.main.get_command(run_app)
