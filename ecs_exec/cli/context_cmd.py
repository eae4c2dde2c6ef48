"""`ecs-exec context create|ls|use|show|update|rm`: the named contexts (config/contexts.py)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from ecs_exec.cli.options import invocation_of
from ecs_exec.cli.settings import Invocation
from ecs_exec.config import contexts
from ecs_exec.config.completion import complete_contexts
from ecs_exec.config.contexts import Context, ContextStore
from ecs_exec.errors import UsageError

context_app = typer.Typer(
    help="Named sets of connection settings (profile, region, endpoint, target).",
    no_args_is_help=True,
    rich_markup_mode=None,
)


class Format(StrEnum):
    table = "table"
    json = "json"


class Field(StrEnum):
    description = "description"
    profile = "profile"
    region = "region"
    endpoint_url = "endpoint_url"
    cluster = "cluster"
    service = "service"
    container = "container"
    transport = "transport"


NameArg = Annotated[str, typer.Argument(help="The context.", autocompletion=complete_contexts)]
OutputOpt = Annotated[
    Format, typer.Option("--output", "-o", help="table (default) or json.", show_default=False)
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region.")]
EndpointOpt = Annotated[
    str | None, typer.Option("--endpoint-url", help="One endpoint for ECS, SSM and KMS.")
]
ClusterOpt = Annotated[str | None, typer.Option("--cluster", help="Cluster name or ARN.")]
ServiceOpt = Annotated[
    str | None, typer.Option("--service-name", "--service", help="Service name.")
]
ContainerOpt = Annotated[str | None, typer.Option("--container", help="Container name.")]
TransportOpt = Annotated[
    str | None, typer.Option("--transport", help="native, plugin or auto.", show_default=False)
]
DescriptionOpt = Annotated[str | None, typer.Option("--description", help="A note for humans.")]


def _store(invocation: Invocation) -> ContextStore:
    return contexts.load(contexts.contexts_path(invocation.console.environ))


def _changes(**given: str | None) -> dict[str, str]:
    changes: dict[str, str] = {}
    for key, value in given.items():
        if value is None:
            continue
        if not value.strip():
            flag = "--service-name" if key == "service" else "--" + key.replace("_", "-")
            raise UsageError(
                f"{flag} is empty", hint=f"leave it out, or clear it with --unset {key}"
            )
        changes[key] = value
    return changes


@context_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new context's name.")],
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    container: ContainerOpt = None,
    transport: TransportOpt = None,
    description: DescriptionOpt = None,
    locked: Annotated[
        bool, typer.Option("--locked", help="Lock the connection (see the README).")
    ] = False,
) -> None:
    """Create a context (it does not become current: see `context use`)."""
    invocation = invocation_of(ctx)
    changes: dict[str, Any] = _changes(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        cluster=cluster,
        service=service,
        container=container,
        transport=transport,
        description=description,
    )
    store = _store(invocation)
    contexts.check_name(name)
    if store.find(name) is not None:
        store.create(Context(name=name))  # raises "already exists"
    changes["locked"] = locked
    contexts.save(store.update(name, changes, create=True))
    invocation.console.write_err(f"ecs-exec: context '{name}' created in {store.path}\n")


@context_app.command("update")
def update(
    ctx: typer.Context,
    name: NameArg,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    endpoint_url: EndpointOpt = None,
    cluster: ClusterOpt = None,
    service: ServiceOpt = None,
    container: ContainerOpt = None,
    transport: TransportOpt = None,
    description: DescriptionOpt = None,
    locked: Annotated[
        bool | None,
        typer.Option(
            "--locked/--unlocked", help="Lock or unlock the connection.", show_default=False
        ),
    ] = None,
    unset: Annotated[
        list[Field] | None, typer.Option("--unset", help="Clear this setting (repeatable).")
    ] = None,
) -> None:
    """Change settings of a context."""
    invocation = invocation_of(ctx)
    changes: dict[str, Any] = _changes(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        cluster=cluster,
        service=service,
        container=container,
        transport=transport,
        description=description,
    )
    for field in unset or []:
        if field.value in changes:
            raise UsageError(f"--unset {field.value} and a new {field.value} together")
        changes[field.value] = None
    if locked is not None:
        changes["locked"] = locked
    if not changes:
        raise UsageError("nothing to change", hint="give settings, e.g. --region eu-west-1")
    store = _store(invocation)
    contexts.save(store.update(name, changes))
    invocation.console.write_err(f"ecs-exec: context '{name}' updated\n")


@context_app.command("ls")
def ls(ctx: typer.Context, output: OutputOpt = Format.table) -> None:
    """List the contexts; the current one is marked with '*'."""
    invocation = invocation_of(ctx)
    store = _store(invocation)
    if output == Format.json:
        records = [
            {**record, "current": record["name"] == store.current}
            for record in contexts.describe(store.contexts)
        ]
        document = {"current": store.current, "contexts": records}
        invocation.console.write_out(json.dumps(document, indent=2) + "\n")
        return
    headers = [
        "CURRENT",
        "NAME",
        "PROFILE",
        "REGION",
        "CLUSTER",
        "SERVICE",
        "LOCKED",
        "DESCRIPTION",
    ]
    rows = [
        [
            "*" if c.name == store.current else "",
            c.name,
            c.profile or "-",
            c.region or "-",
            c.cluster or "-",
            c.service or "-",
            "yes" if c.locked else "no",
            c.description or "",
        ]
        for c in store.contexts
    ]
    invocation.console.write_out(_table(headers, rows))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines) + "\n"


@context_app.command("use")
def use(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(help="The context, or '-' for none.", autocompletion=complete_contexts),
    ],
) -> None:
    """Make a context current ('-' goes back to no context)."""
    invocation = invocation_of(ctx)
    store = _store(invocation)
    chosen = None if name == "-" else name
    contexts.save(store.use(chosen))
    invocation.console.write_err(
        f"ecs-exec: current context: {chosen}\n" if chosen else "ecs-exec: no current context\n"
    )


@context_app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="The context (default: the one in effect).", autocompletion=complete_contexts
        ),
    ] = None,
    output: OutputOpt = Format.table,
) -> None:
    """Show one context's settings (default: the context in effect)."""
    invocation = invocation_of(ctx)
    store = _store(invocation)
    if name is None:
        if invocation.context is None:
            raise UsageError(
                "no context is in effect",
                hint="name one (`ecs-exec context show NAME`) or choose one with "
                "`ecs-exec context use NAME`",
            )
        name = invocation.context.name
    context = store.get(name)
    record = {**contexts.describe([context])[0], "current": name == store.current}
    if output == Format.json:
        invocation.console.write_out(json.dumps(record, indent=2) + "\n")
        return
    lines = [
        f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
        for key, value in record.items()
    ]
    invocation.console.write_out("\n".join(lines) + "\n")


@context_app.command("rm")
def rm(ctx: typer.Context, name: NameArg) -> None:
    """Remove a context (if it was current, no context is current any more)."""
    invocation = invocation_of(ctx)
    store = _store(invocation)
    contexts.save(store.remove(name))
    invocation.console.write_err(f"ecs-exec: context '{name}' removed\n")
