"""Turning settings into library objects: AWS clients, with or without the sandbox."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.cli.settings import Settings

SANDBOX_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
}


@contextlib.contextmanager
def aws_clients(settings: Settings) -> Iterator[AwsClients]:
    """AWS clients for this invocation, against an in-process sandbox with --sandbox."""
    if not settings.sandbox:
        if settings.sandbox_context and not _has_credentials(os.environ, settings):
            # A sandbox on this machine (`ecs-exec sandbox --context NAME`) takes any
            # credentials; a loopback endpoint is never AWS, so nothing real is exposed.
            os.environ.update(SANDBOX_CREDENTIALS)
        yield AwsClients(settings.aws)
        return
    from ecs_exec.sandbox.server import running_sandbox

    with running_sandbox() as sandbox:
        # The sandbox accepts any credentials; dummy ones keep a real profile out of it, and
        # child processes (the plugin transport) inherit them.
        os.environ.update(SANDBOX_CREDENTIALS)
        os.environ.pop("AWS_PROFILE", None)
        os.environ.setdefault("AWS_REGION", "us-east-1")
        yield AwsClients(
            AwsSettings(region=settings.region or "us-east-1", endpoint_url=sandbox.endpoint_url)
        )


def _has_credentials(environ: Mapping[str, str], settings: Settings) -> bool:
    """Credentials or a profile chosen explicitly (the shared files are not searched)."""
    return bool(
        settings.profile
        or environ.get("AWS_ACCESS_KEY_ID")
        or environ.get("AWS_PROFILE")
        or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        or environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    )
