"""The typer options several commands share, declared once so that their help cannot drift.

``cli.app`` (the root and its subcommands) and ``cli.run_app`` (built only when `run` is
used) both take them from here: run_app cannot import app, which loads it lazily.
"""

from __future__ import annotations

import warnings
from enum import StrEnum
from typing import Annotated, Any

with warnings.catch_warnings():
    # typer 0.19 re-exports click.utils names that newer click deprecates on access.
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer

from ecs_exec.cli.settings import Invocation, Settings, build_settings
from ecs_exec.config.completion import (
    complete_clusters,
    complete_containers,
    complete_contexts,
    complete_services,
    complete_tasks,
)


class Transport(StrEnum):
    native = "native"
    plugin = "plugin"
    auto = "auto"


# Options that work before or after a subcommand (`ecs-exec ls --cluster C --endpoint-url U`
# as `aws ecs list-tasks` takes them): declared on the root and on each subcommand;
# a value given after the subcommand wins over one given before it (``merged_flags``).
ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        help="Cluster name or ARN [env: CLUSTER_NAME].",
        autocompletion=complete_clusters,
    ),
]
ServiceOpt = Annotated[
    str | None,
    typer.Option(
        "--service-name",
        "--service",
        help="Service name [env: SERVICE_NAME].",
        autocompletion=complete_services,
    ),
]
TaskOpt = Annotated[
    str | None,
    typer.Option("--task", help="Task id, ARN or unique id prefix.", autocompletion=complete_tasks),
]
ContainerOpt = Annotated[
    str | None,
    typer.Option(
        "--container",
        help="Container name [env: CONTAINER].",
        autocompletion=complete_containers,
    ),
]
ContextOpt = Annotated[
    str | None,
    typer.Option(
        "--context",
        help="Use this named context (`ecs-exec context`) [env: ECS_EXEC_CONTEXT].",
        autocompletion=complete_contexts,
    ),
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
PipeOpt = Annotated[
    str | None,
    typer.Option("--pipe", help="Run this shell command line (sh -c) with stdin streamed."),
]


def invocation_of(ctx: typer.Context) -> Invocation:
    """The invocation ``cli.run`` passes to click as the context object."""
    invocation = ctx.find_object(Invocation)
    assert invocation is not None, "run() passes the Invocation as the context object"
    return invocation


def merged_flags(ctx: typer.Context, **given: Any) -> dict[str, Any]:
    """The root's flags overlaid with a subcommand's (None or False: not given there)."""
    flags = dict(invocation_of(ctx).root_flags)
    for name, value in given.items():
        if value is not None and value is not False:
            flags[name] = value
    return flags


def subcommand_settings(
    ctx: typer.Context, **given: Any
) -> tuple[Invocation, dict[str, Any], Settings]:
    """A subcommand's invocation, its flags over the root's, and the settings they make
    with the environment and the context in effect (a ``Transport`` given as its value)."""
    invocation = invocation_of(ctx)
    transport = given.get("transport")
    if isinstance(transport, Transport):
        given["transport"] = transport.value
    flags = merged_flags(ctx, **given)
    return invocation, flags, build_settings(flags, invocation.console.environ, invocation.context)
