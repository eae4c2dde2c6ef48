"""The official session-manager-plugin's argv contract, parsed into what to do (no I/O but env).

Mirrors ``src/sessionmanagerplugin/session/session.go`` ``ValidateInputAndStartSession``
(see docs/protocol.md#2-how-the-aws-cli-runs-the-plugin):

==========================  ================================================================
argc 1                      the install message, exit 0 (the AWS CLI's "is it there?" probe)
argc 2, ``--version``       a version line, exit 0
argc 2-3 otherwise          the "Unknown operation" text, exit 0
argc 4 (legacy AWS CLI)     session JSON, region, operation; KMS encryption is refused later
argc >= 5 (normally 7)      + profile ("" = default chain), parameters JSON (``Target``),
                            endpoint (argv[6])
==========================  ================================================================

argv[1] starting with ``AWS_SSM_START_SESSION_RESPONSE`` names an environment variable that
holds the session JSON; it is read and then unset, as the plugin does (the token should not
leak into processes the session starts).

Where we deliberately differ: the official plugin panics (exit 2, a Go stack trace) on a
missing session field or a parameters JSON without a string ``Target``, and prints
``Cannot perform start session: <err>`` then exits **0** on invalid session JSON. A drop-in
that exits 0 after failing hides the failure from scripts, so every malformed input here
raises ``ArgvError``, which ``main`` reports as one line on stderr with exit status 255 (the
ecs-exec convention for the tool's own failures, see ``ecs_exec.errors``).

One extension: ``--install-as-session-manager-plugin DIR`` (argc 3), which the official
plugin would answer with "Unknown operation".
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ecs_exec.aws.ecs import ExecSession
from ecs_exec.transports.urls import is_loopback_url

#: Exact texts of the official plugin (``sessionmanagerplugin-main``/``session.go``).
INSTALL_MESSAGE = (
    "\nThe Session Manager plugin was installed successfully. "
    "Use the AWS CLI to start a session.\n\n"
)
UNKNOWN_OPERATION = (
    "\nUnknown operation {arg}. \nUse session-manager-plugin --version to check the version.\n\n"
)
INVALID_OPERATION = "Invalid Operation"
ENV_RESPONSE_NAME = "AWS_SSM_START_SESSION_RESPONSE"
INSTALL_OPTION = "--install-as-session-manager-plugin"

LEGACY_ARGC = 4


class ArgvError(Exception):
    """The arguments cannot be a StartSession call; the message says which and why."""


@dataclass(frozen=True)
class PrintAndExit:
    """Print ``text`` to stdout (no newline added) and exit 0."""

    text: str


@dataclass(frozen=True)
class InstallWrapper:
    """Write a ``session-manager-plugin`` wrapper into ``directory``."""

    directory: str


@dataclass(frozen=True)
class StartSession:
    """A shell session to run.

    Args:
        session: the session from StartSession/ExecuteCommand.
        region: the region for SSM and KMS calls ("" lets botocore decide).
        profile: a shared-config profile, or None for the default credential chain.
        target: the ``Target`` of the parameters JSON (KMS encryption context), or "".
        endpoint: argv[6] as given ("" when absent).
        legacy: the 4-argument form of old AWS CLIs, which cannot do KMS encryption.
    """

    session: ExecSession
    region: str
    profile: str | None
    target: str
    endpoint: str
    legacy: bool


Invocation = PrintAndExit | InstallWrapper | StartSession


def parse_argv(
    argv: list[str],
    *,
    version: str | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> Invocation:
    """Decide what an invocation asks for.

    Args:
        argv: the full argv, program name included.
        version: the text ``--version`` prints (default: the ClientVersion the data channel
            reports, imported only then: the AWS CLI's probe needs none of the channel).
        environ: the environment (``os.environ`` by default); the session-response variable
            is removed from it once read.

    Raises:
        ArgvError: malformed session JSON, parameters JSON or argument count.
    """
    env = os.environ if environ is None else environ
    argc = len(argv)
    if argc <= 1:
        return PrintAndExit(INSTALL_MESSAGE)
    if argc == 2 and argv[1] == "--version":
        if version is None:
            from ecs_exec.datachannel.client import CLIENT_VERSION

            version = CLIENT_VERSION
        return PrintAndExit(f"{version}\n")
    if argc == 3 and argv[1] == INSTALL_OPTION:
        return InstallWrapper(argv[2])
    if argc < LEGACY_ARGC:
        return PrintAndExit(UNKNOWN_OPERATION.format(arg=argv[1]))
    operation = argv[3]
    if operation != "StartSession":
        # The plugin checks the operation only after reading every argument, but reading
        # them has no effect worth keeping when the operation is unknown.
        return PrintAndExit(INVALID_OPERATION)
    raw = argv[1]
    if raw.startswith(ENV_RESPONSE_NAME):
        raw = env.pop(raw, "")
        if not raw:
            raise ArgvError(f"environment variable {argv[1]} (named by argv[1]) is empty or unset")
    session = parse_session_json(raw)
    region = argv[2]
    profile = argv[4] if argc > 4 else ""
    target = parse_target(argv[5]) if argc > 5 else ""
    endpoint = argv[6] if argc > 6 else ""
    return StartSession(
        session=session,
        region=region,
        profile=profile or None,
        target=target,
        endpoint=endpoint,
        legacy=argc == LEGACY_ARGC,
    )


def parse_session_json(raw: str) -> ExecSession:
    """The session from argv[1]; keys match case-insensitively, as Go's encoding/json does.

    Raises:
        ArgvError: not a JSON object, or a field missing or not a string.
    """
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise ArgvError(f"the session JSON in argv[1] is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ArgvError("the session JSON in argv[1] is not a JSON object")
    fields = _casefold_keys(obj)
    values = []
    for name in ("SessionId", "StreamUrl", "TokenValue"):
        value = fields.get(name.casefold())
        if not isinstance(value, str) or not value:
            raise ArgvError(f"the session JSON in argv[1] has no string '{name}'")
        values.append(value)
    return ExecSession(session_id=values[0], stream_url=values[1], token_value=values[2])


def parse_target(raw: str) -> str:
    """``Target`` of the parameters JSON in argv[5].

    Raises:
        ArgvError: not a JSON object, or no string ``Target``.
    """
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise ArgvError(f"the parameters JSON in argv[5] is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ArgvError("the parameters JSON in argv[5] is not a JSON object")
    # Go's map[string]interface{} lookup here is exact, unlike the struct decoding above.
    target = obj.get("Target")
    if not isinstance(target, str):
        raise ArgvError("the parameters JSON in argv[5] has no string 'Target'")
    return target


def _casefold_keys(obj: Mapping[str, Any]) -> dict[str, Any]:
    # encoding/json assigns each JSON key to the field it matches case-insensitively, in
    # document order, so when a field appears in two casings the last one wins.
    folded: dict[str, Any] = {}
    for key, value in obj.items():
        folded[key.casefold()] = value
    return folded


def ssm_endpoint_for(endpoint: str) -> str | None:
    """The SSM endpoint to use for ResumeSession/TerminateSession, or None for the default.

    ``aws ecs execute-command`` passes its *ECS* endpoint as argv[6], and the official
    plugin sends the SSM calls there, where they cannot work
    (docs/protocol.md#2-how-the-aws-cli-runs-the-plugin). So an ECS endpoint
    (``ecs.<region>.amazonaws.com``, ``ecs-fips.…``) means "the region's default SSM
    endpoint"; an SSM endpoint, a loopback sandbox, or anything else explicit is kept.
    """
    if not endpoint:
        return None
    if is_loopback_url(endpoint):
        return endpoint
    host = urlsplit(endpoint).hostname or ""
    first = host.split(".", 1)[0]
    if first in ("ecs", "ecs-fips"):
        return None
    return endpoint
