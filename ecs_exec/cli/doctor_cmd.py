"""`ecs-exec doctor`: settings -> DoctorRequest -> diagnose -> text or JSON, exit status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.settings import Invocation, Settings


def run_doctor(
    invocation: Invocation, settings: Settings, flags: Mapping[str, Any], *, output: str
) -> int:
    from ecs_exec.doctor.facts import DoctorRequest
    from ecs_exec.doctor.render import render_json, render_text
    from ecs_exec.doctor.runner import diagnose

    console = invocation.console
    with aws_clients(settings) as clients:
        request = DoctorRequest(
            cluster=settings.cluster,
            service=settings.service,
            task=settings.task,
            container=settings.container,
            transport="native" if settings.transport == "auto" else settings.transport,
            profile=settings.profile,
            region=clients.settings.region,
            endpoint_url=clients.settings.endpoint_url,
            region_source=region_source(settings, flags, console.environ),
            sandbox=settings.sandbox or settings.sandbox_context,
            environ=dict(console.environ),
        )
        report = diagnose(request, clients)
    if output == "json":
        console.write_out(render_json(report))
    else:
        styled = console.stdout_isatty and not console.environ.get("NO_COLOR")
        styled = styled and console.environ.get("TERM") != "dumb"
        console.write_out(render_text(report, styled=styled))
    return report.exit_status


def region_source(settings: Settings, flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """Where the region in effect came from, in words, for the local.region check."""
    if settings.sandbox:
        return "the sandbox" if not settings.region else "--region"
    if flags.get("region"):
        return "--region"
    if environ.get("AWS_REGION"):
        return "AWS_REGION"
    if settings.context and settings.region:
        return f"context '{settings.context}'"
    if environ.get("AWS_DEFAULT_REGION"):
        return "AWS_DEFAULT_REGION"
    return f"profile '{settings.profile}'" if settings.profile else "the default profile"
