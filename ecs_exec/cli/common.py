"""Turning settings into library objects: AWS clients, with or without the sandbox."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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
