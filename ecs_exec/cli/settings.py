"""One invocation's settings, typed and frozen: flags > environment > defaults.

The empty-value rule (documented in the README): an empty *flag* value (``--cluster ''``) is a
usage error, because nobody means it, and an empty ``--endpoint-url`` must never fall back to
real AWS. An empty *environment variable* counts as unset: a gateway sets ``SERVICE_NAME=``
for a variable its connection leaves empty. The same goes for the AWS_* variables botocore
reads (``drop_empty_aws_variables``). One exception for the gateway's connection command
``--cluster=$CLUSTER_NAME --service-name=$SERVICE_NAME``: the target flags written with ``=``
and nothing after it, which is what that command becomes when a variable is empty, count as
not given (``drop_expanded_empty_flags``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ecs_exec.aws.clients import AwsSettings
from ecs_exec.aws.resolve import TargetSpec
from ecs_exec.errors import ConfigurationError, ExitStatus, UsageError
from ecs_exec.local.terminal import Console

#: Flags that take a value, the attribute they set, and what leaving them out means.
VALUE_FLAGS: dict[str, tuple[str, str]] = {
    "cluster": ("--cluster", "CLUSTER_NAME, or the only cluster in the region"),
    "service": ("--service-name", "SERVICE_NAME, or any task of the cluster"),
    "task": ("--task", "the service's (or cluster's) running tasks"),
    "container": ("--container", "CONTAINER, or the task's default container"),
    "profile": ("--profile", "AWS_PROFILE, or the default credential chain"),
    "region": ("--region", "AWS_REGION, AWS_DEFAULT_REGION, or the profile's region"),
    "endpoint_url": ("--endpoint-url", "AWS_ENDPOINT_URL, or the real AWS endpoints"),
}
#: Settings that fall back to an environment variable when their flag is not given.
ENVIRONMENT: dict[str, str] = {
    "cluster": "CLUSTER_NAME",
    "service": "SERVICE_NAME",
    "container": "CONTAINER",
    # botocore reads AWS_DEFAULT_REGION and profiles; AWS_REGION (what Lambda, ECS task
    # environments and most SDKs set) it does not, so it is read here.
    "region": "AWS_REGION",
}
#: [user@]host[:port], where host is a name, an IPv4 address or a bracketed IPv6 address.
_HOST_PORT = re.compile(
    r"^(?:[^@/]*@)?(?:\[[0-9A-Fa-f:.]+(?:%[\w.~-]+)?\]|[A-Za-z0-9._~-]+)(?::[0-9]{1,5})?$"
)
#: botocore's rule for a region name (``botocore.utils.validate_region_name``).
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Settings:
    """What one invocation was asked to do, whichever way it was asked."""

    cluster: str | None = None
    service: str | None = None
    task: str | None = None
    container: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    debug: bool = False
    quiet: bool = False

    @property
    def target(self) -> TargetSpec:
        return TargetSpec(
            cluster=self.cluster, service=self.service, task=self.task, container=self.container
        )

    @property
    def aws(self) -> AwsSettings:
        return AwsSettings(profile=self.profile, region=self.region, endpoint_url=self.endpoint_url)


@dataclass
class Invocation:
    """What run() hands the typer commands (click's context object), and what they hand
    back: the console, the remote argv split off at ``--``, the root's flags for the
    subcommands to merge, and the exit status."""

    console: Console
    remote_argv: list[str] | None = None
    root_flags: dict[str, Any] = field(default_factory=dict)
    exit_status: int = ExitStatus.SUCCESS


def env_flag(environ: Mapping[str, str], name: str) -> bool:
    """A yes/no environment variable (1, true, yes, on)."""
    return environ.get(name, "").strip().lower() in TRUE_WORDS


def debug_requested(options: Sequence[str], environ: Mapping[str, str]) -> bool:
    """--debug anywhere among the options, or ECS_EXEC_DEBUG=1: known before parsing, so
    that a parse error can show its traceback too."""
    return "--debug" in options or env_flag(environ, "ECS_EXEC_DEBUG")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_utf8(argv: Sequence[str]) -> None:
    """Refuse arguments that are not UTF-8.

    Python hands undecodable bytes over as lone surrogates. ECS carries the command to the
    agent as JSON text, which must be UTF-8, so they cannot be passed through exactly.

    Raises:
        UsageError: names the argument, with its bad bytes escaped.
    """
    for index, arg in enumerate(argv, start=1):
        if not _is_utf8(arg):
            shown = arg.encode("utf-8", errors="surrogateescape").decode(
                "ascii", "backslashreplace"
            )
            raise UsageError(
                f"argument {index} ('{shown}') is not valid UTF-8",
                hint="ECS passes the command as JSON text, which must be UTF-8; convert it "
                "(e.g. with iconv -t UTF-8)",
            ) from None


def check_endpoint_url(url: str, source: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host and a valid port.

    Raises:
        UsageError: for a flag (``source`` starts with ``--``).
        ConfigurationError: for an environment variable.
    """
    error = UsageError if source.startswith("--") else ConfigurationError
    example = "e.g. http://127.0.0.1:4566"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise error(f"{source} '{url}' is not a valid URL ({exc})", hint=example) from None
    if "://" not in url:
        raise error(f"{source} '{url}' has no scheme", hint=f"write it with one, e.g. http://{url}")
    if parts.scheme not in ("http", "https"):
        raise error(f"{source} '{url}' is not an http(s) URL", hint=example)
    if not parts.hostname:
        raise error(f"{source} '{url}' has no host", hint=example)
    if not _HOST_PORT.match(parts.netloc):
        raise error(f"{source} '{url}' has a malformed host or port", hint=example)
    return url


def build_settings(flags: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
    """Settings from parsed flags (None: not given) and the environment.

    Raises:
        UsageError: an empty or malformed flag value.
        ConfigurationError: a malformed environment value.
    """
    values: dict[str, Any] = {}
    for name, (flag, default) in VALUE_FLAGS.items():
        value = flags.get(name)
        if value is not None and not value.strip():
            raise UsageError(
                f"{flag} is empty",
                hint=f"give it a value, or leave it out to use {default}",
            )
        if value is None and name in ENVIRONMENT:
            value = environ.get(ENVIRONMENT[name], "").strip() or None
            if value is not None and not _is_utf8(value):
                raise ConfigurationError(
                    f"{ENVIRONMENT[name]} is not valid UTF-8", hint="set it to a UTF-8 name"
                )
        values[name] = value
    if values["region"] is not None and not _REGION.match(values["region"]):
        source = "--region" if flags.get("region") is not None else "AWS_REGION"
        error = UsageError if source == "--region" else ConfigurationError
        raise error(
            f"{source} '{values['region']}' is not a valid AWS region name",
            hint="use a region such as us-east-1",
        )
    if values["endpoint_url"] is not None:
        check_endpoint_url(values["endpoint_url"], "--endpoint-url")
    elif environ.get("AWS_ENDPOINT_URL", "").strip():
        check_endpoint_url(environ["AWS_ENDPOINT_URL"], "AWS_ENDPOINT_URL")
    return Settings(
        **values,
        sandbox=bool(flags.get("sandbox")),
        debug=bool(flags.get("debug")) or env_flag(environ, "ECS_EXEC_DEBUG"),
        quiet=bool(flags.get("quiet")),
    )


#: `--flag=` tokens that a gateway's `--flag=$VARIABLE` produces from an empty variable.
EXPANDED_EMPTY = frozenset({"--cluster=", "--service-name=", "--service=", "--container="})


def drop_expanded_empty_flags(options: Sequence[str]) -> list[str]:
    """The options without ``--cluster=``-style tokens (see the module docstring)."""
    return [option for option in options if option not in EXPANDED_EMPTY]


def drop_empty_aws_variables(environ: MutableMapping[str, str]) -> None:
    """Remove AWS_* variables that are set but empty, so that botocore (which reads the
    process environment itself) treats them as unset too: an empty AWS_PROFILE would be a
    profile named '', an empty AWS_DEFAULT_REGION a malformed endpoint host."""
    for name in [k for k, v in environ.items() if k.startswith("AWS_") and not v.strip()]:
        del environ[name]
