"""Running the real ecs-exec CLI, in this process or as a subprocess, with a clean AWS
environment."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
ECS_EXEC = [sys.executable, "-m", "ecs_exec"]
#: The built-in sandbox's clusters (ecs_exec/sandbox/demo.py), sorted as ls and completion
#: list them: one place to update when the demo world gains a cluster.
DEMO_CLUSTERS = [
    *("broken", "broken-kms", "broken-logs", "broken-s3", "broken-s3-encryption"),
    *("demo", "secure", "staging"),
]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """A process environment with no AWS configuration but dummy keys and a region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in (
        *("CLUSTER_NAME", "SERVICE_NAME", "CONTAINER", "ECS_EXEC_DEBUG", "ECS_EXEC_PLUGIN"),
        *("ECS_EXEC_CONTEXT", "ECS_EXEC_LOCK", "ECS_EXEC_LOCK_ALLOW", "CONNECTION_DEBUG"),
        "ECS_EXEC_ALLOWED_CONTAINERS",
    ):
        env.pop(name, None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "sandbox",
            "AWS_SECRET_ACCESS_KEY": "sandbox",
            "AWS_REGION": "us-east-1",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: bytes

    @property
    def err(self) -> str:
        return self.stderr.decode(errors="replace")

    @property
    def out(self) -> str:
        return self.stdout.decode(errors="replace")


def run_cli(
    args: list[str],
    env: Mapping[str, str],
    *,
    stdin: bytes | None = b"",
    timeout: float = 60,
) -> Result:
    proc = subprocess.run(
        [*ECS_EXEC, *args],
        input=stdin,
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        cwd=ROOT,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def run_in_process(
    args: list[str],
    env: Mapping[str, str],
    *,
    stdin: bytes = b"",
) -> Result:
    """The CLI in this process (``ecs_exec.cli.run``) with an injected console: stdio on
    temporary files, ``env`` as both the console's and the process's environment (botocore
    reads the latter itself) for the duration of the call."""
    from ecs_exec.cli import run
    from ecs_exec.local.terminal import Console

    with (
        tempfile.TemporaryFile() as fin,
        tempfile.TemporaryFile() as fout,
        tempfile.TemporaryFile() as ferr,
        mock.patch.dict(os.environ, env, clear=True),
    ):
        fin.write(stdin)
        fin.seek(0)
        console = Console(fin.fileno(), fout.fileno(), ferr.fileno(), environ=dict(env))
        code = run(args, console=console)
        fout.seek(0)
        ferr.seek(0)
        return Result(code, fout.read(), ferr.read())
