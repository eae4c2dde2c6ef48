"""``ecs-exec-plugin``: a drop-in for AWS's ``session-manager-plugin`` on the native transport.

The AWS CLI (``aws ecs execute-command``, ``aws ssm start-session``) runs a program named
``session-manager-plugin`` from PATH; this entry point honours that program's argv contract
(see :mod:`ecs_exec.dropin.args`) and runs the shell session in pure Python
(:mod:`ecs_exec.dropin.shell`). To put it on PATH under that name::

    ecs-exec-plugin --install-as-session-manager-plugin ~/.local/bin

writes an executable ``session-manager-plugin`` wrapper there (``python -m ecs_exec.dropin``
works too). Only shell sessions are supported (ECS Exec and ``ssm start-session`` without a
port-forwarding document).

Exit statuses: 0 for everything the official plugin exits 0 for (including the install
probe, ``--version``, "Unknown operation" and "Invalid Operation") and for a session the
agent closed; 255 for malformed arguments and for sessions that could not start or were
lost, reported as one ``Cannot perform start session: …`` line on stderr (the official
plugin prints that on stdout and exits 0, or panics with status 2); 128+N when SIGTERM or
SIGHUP (N) ended the session; 130 for a KeyboardInterrupt outside the session. Like the
ecs-exec CLI, this is an entry point, so it is allowed to print errors and choose the status.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.dropin.args import (
    INSTALL_MESSAGE,
    INSTALL_OPTION,
    ArgvError,
    InstallWrapper,
    PrintAndExit,
    StartSession,
    parse_argv,
    ssm_endpoint_for,
)
from ecs_exec.errors import EcsExecError, ExitStatus
from ecs_exec.local.terminal import Console, write_all
from ecs_exec.transports.urls import is_loopback_url

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_ssm import SSMClient

WRAPPER_NAME = "session-manager-plugin"


class PluginClients(AwsClients):
    """AWS clients with one endpoint per service, as the plugin's arguments decide.

    The SSM client goes to ``ssm_endpoint`` (None = the region's default, which botocore
    still lets ``AWS_ENDPOINT_URL_SSM`` override); KMS goes to ``kms_endpoint`` (a sandbox
    serves KMS on its one endpoint; real sessions use the default).
    """

    def __init__(
        self, settings: AwsSettings, *, ssm_endpoint: str | None, kms_endpoint: str | None
    ) -> None:
        super().__init__(settings)
        self._ssm_endpoint = ssm_endpoint
        self._kms_endpoint = kms_endpoint

    @cached_property
    def ssm(self) -> SSMClient:
        clients = AwsClients(replace(self.settings, endpoint_url=self._ssm_endpoint))
        clients.__dict__["session"] = self.session  # one credential resolution, not two
        return clients.ssm

    @cached_property
    def kms(self) -> KMSClient:
        clients = AwsClients(replace(self.settings, endpoint_url=self._kms_endpoint))
        clients.__dict__["session"] = self.session
        return clients.kms


def clients_for(start: StartSession) -> PluginClients:
    """The clients a session started from these arguments uses."""
    ssm_endpoint = ssm_endpoint_for(start.endpoint)
    kms_endpoint = start.endpoint if start.endpoint and is_loopback_url(start.endpoint) else None
    settings = AwsSettings(profile=start.profile, region=start.region or None)
    return PluginClients(settings, ssm_endpoint=ssm_endpoint, kms_endpoint=kms_endpoint)


def install_wrapper(directory: str | os.PathLike[str]) -> Path:
    """Write an executable ``session-manager-plugin`` into ``directory`` that runs this one.

    It runs the current interpreter with ``-P`` (no working directory on sys.path) and this
    package's parent directory on PYTHONPATH, so it works from an installed package and a
    source checkout alike. The AWS CLI runs the plugin once without arguments before every
    session to check that it is installed; the wrapper answers that itself, without
    starting Python. Replaced atomically if it exists.

    Raises:
        OSError: the directory is missing or not writable.
    """
    import tempfile

    target_dir = Path(directory).expanduser()
    if not target_dir.is_dir():
        raise FileNotFoundError(f"no such directory: {target_dir}")
    package_parent = Path(__file__).resolve().parent.parent.parent
    script = (
        "#!/bin/sh\n"
        f"# Written by `ecs-exec-plugin {INSTALL_OPTION}`: the ecs-exec drop-in for the\n"
        "# AWS Session Manager plugin. Delete this file to stop using it.\n"
        'if [ "$#" -eq 0 ]; then\n'
        f"  printf '%s' {shlex.quote(INSTALL_MESSAGE)}\n"
        "  exit 0\n"
        "fi\n"
        f"PYTHONPATH={shlex.quote(str(package_parent))}${{PYTHONPATH:+:$PYTHONPATH}} "
        f'exec {shlex.quote(sys.executable)} -P -m ecs_exec.dropin "$@"\n'
    )
    path = target_dir / WRAPPER_NAME
    fd, tmp = tempfile.mkstemp(prefix=f".{WRAPPER_NAME}.", dir=target_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(script)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def run_session(start: StartSession, console: Console) -> int:
    """Run the shell session of a StartSession invocation; returns the exit status.

    The session was started by whoever called ExecuteCommand or StartSession; every way out
    that does not see it end by itself ends it (TerminateSession), and says so on stderr
    when that fails.

    Raises:
        EcsExecError: the session could not start or was lost.
    """
    import asyncio

    from ecs_exec.aws import ssm as aws_ssm
    from ecs_exec.dropin.shell import LEGACY_KMS_REFUSAL, ShellSession
    from ecs_exec.session.loop import SessionEnd
    from ecs_exec.transports.native import NativeStream

    clients = clients_for(start)
    session_id = start.session.session_id
    end = SessionEnd(
        session_id,
        lambda: aws_ssm.terminate_session(clients.ssm, session_id, profile=start.profile),
        warn=lambda warning: _error(console, f"Warning: {warning} (hint: {warning.hint})"),
    )
    try:
        stream = NativeStream(
            start.session,
            clients=clients,
            target=start.target,
            show_customer_message=True,
            refuse_kms=LEGACY_KMS_REFUSAL if start.legacy else None,
        )
        return asyncio.run(ShellSession(stream, console, session_id, end=end).run())
    except BaseException:
        end.terminate_now()  # a failure before the session loop took charge
        raise


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``ecs-exec-plugin`` / ``session-manager-plugin``; never returns.

    Exits without the interpreter's finalisation, as the ecs-exec CLI does: with asyncio,
    websockets and the I/O threads loaded it costs about as much as the session itself on
    a short command. Everything is written through unbuffered descriptors, the terminal is
    restored and the session closed before :func:`run` returns.
    """
    from ecs_exec.startup import pause_gc_during_startup

    pause_gc_during_startup()
    code = run(sys.argv if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def run(argv: list[str]) -> int:
    """Do what ``argv`` (program name included) asks; returns the exit status."""
    if os.environ.get("ECS_EXEC_DEBUG") == "1":
        import logging

        # Not botocore's DEBUG: it logs response bodies, tokens included.
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        logging.getLogger("ecs_exec").setLevel(logging.DEBUG)
    console = Console.from_process()
    try:
        invocation = parse_argv(list(argv))
    except ArgvError as exc:
        _error(console, f"Cannot perform start session: {exc}")
        return ExitStatus.TOOL_FAILURE
    if isinstance(invocation, PrintAndExit):
        write_all(console.stdout_fd, invocation.text.encode())
        return ExitStatus.SUCCESS
    if isinstance(invocation, InstallWrapper):
        try:
            path = install_wrapper(invocation.directory)
        except OSError as exc:
            _error(console, f"cannot install {WRAPPER_NAME}: {exc}")
            return ExitStatus.TOOL_FAILURE
        write_all(console.stdout_fd, f"{path}\n".encode())
        return ExitStatus.SUCCESS
    try:
        return run_session(invocation, console)
    except EcsExecError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        _error(console, f"Cannot perform start session: {exc}{hint}")
        return ExitStatus.TOOL_FAILURE
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED


def _error(console: Console, line: str) -> None:
    # At the start of a line: the remote output before it may not have ended with one.
    with contextlib.suppress(OSError):
        write_all(console.stderr_fd, f"\n{line}\n".encode())
