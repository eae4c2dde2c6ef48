"""Turning root options into library objects: AWS settings, the target, the sandbox."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.resolve import TargetSpec
from ecs_exec.errors import ConfigurationError

if TYPE_CHECKING:
    from ecs_exec.cli.app import CliState

SANDBOX_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
}


def target_spec(options: dict[str, Any], **overrides: str | None) -> TargetSpec:
    values = {k: options.get(k) for k in ("cluster", "service", "task", "container")}
    values.update({k: v for k, v in overrides.items() if v})
    return TargetSpec(**{k: (v or None) for k, v in values.items()})


def aws_settings(options: dict[str, Any]) -> AwsSettings:
    endpoint = options.get("endpoint_url")
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"--endpoint-url '{endpoint}' is not an http(s) URL",
            hint="use e.g. --endpoint-url http://127.0.0.1:4566",
        )
    return AwsSettings(
        profile=options.get("profile") or None,
        # botocore reads AWS_DEFAULT_REGION and profiles; AWS_REGION (what Lambda, ECS task
        # environments and most SDKs set) it does not, so honour it here.
        region=options.get("region") or os.environ.get("AWS_REGION") or None,
        endpoint_url=endpoint or None,
    )


@contextlib.contextmanager
def aws_clients(state: CliState) -> Iterator[AwsClients]:
    """AWS clients for this invocation, against an in-process sandbox with --sandbox."""
    options = state.options
    if not options.get("sandbox"):
        yield AwsClients(aws_settings(options))
        return
    from ecs_exec.sandbox.server import running_sandbox

    with running_sandbox() as sandbox:
        # The sandbox accepts any credentials; dummy ones keep a real profile out of it, and
        # child processes (the plugin transport) inherit them.
        os.environ.update(SANDBOX_CREDENTIALS)
        os.environ.pop("AWS_PROFILE", None)
        os.environ.setdefault("AWS_REGION", "us-east-1")
        settings = AwsSettings(
            region=options.get("region") or "us-east-1", endpoint_url=sandbox.endpoint_url
        )
        yield AwsClients(settings)
