"""The paths of ``ecs-exec cp``: which side is remote, and where.

Syntax (README, "Copying files"):

* ``:PATH`` is PATH in the container the target flags (or the environment) choose;
* ``TASK:PATH`` names the task: a task id, a unique prefix of one, or a task ARN;
  ``TASK/CONTAINER:PATH`` also names the container;
* ``-`` is local stdin (as the source) or stdout (as the destination);
* anything else is a local path. A local path whose text before its first ``:`` looks like a
  task id (hex digits) must be written ``./NAME``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecs_exec.errors import UsageError

_TASK_PREFIX = re.compile(r"[0-9a-f]+")
_TASK_ID = re.compile(r"[0-9a-f]{32}")
_CONTAINER = re.compile(r"[A-Za-z0-9_-]{1,255}")
#: A task ARN: ``arn:PARTITION:ecs:REGION:ACCOUNT:task/[CLUSTER/]ID``.
_ARN_FIELDS = 6


@dataclass(frozen=True)
class LocalPath:
    """A local file or directory; ``path == "-"`` is stdin or stdout."""

    path: str

    @property
    def stdio(self) -> bool:
        return self.path == "-"


@dataclass(frozen=True)
class RemotePath:
    """A path in a container; ``task``/``container`` None means the target flags decide."""

    path: str
    task: str | None = None
    container: str | None = None


CpPath = LocalPath | RemotePath


def parse_path(text: str) -> CpPath:
    """One SRC or DST argument.

    Raises:
        UsageError: an empty path, or a remote path with no PATH or a malformed container.
    """
    if not text:
        raise UsageError("an empty path was given to cp", hint="e.g. ecs-exec cp :/etc/hosts .")
    if text == "-" or text.startswith(("/", "./", "../")) or ":" not in text:
        return LocalPath(text)
    if text.startswith("arn:"):
        return _parse_arn(text)
    where, _, path = text.partition(":")
    task, slash, container = where.partition("/")
    if task and not _TASK_PREFIX.fullmatch(task):
        return LocalPath(text)
    return _remote(text, path, task or None, container if slash else None)


def _parse_arn(text: str) -> RemotePath:
    fields = text.split(":", _ARN_FIELDS)
    if len(fields) <= _ARN_FIELDS or not fields[5].startswith("task/"):
        raise UsageError(
            f"'{text}' is not TASK_ARN:PATH",
            hint="write arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID:PATH (or the task id: ID:PATH)",
        )
    resource, path = fields[5], fields[6]
    parts = resource.split("/")
    container = None
    # task/ID, task/CLUSTER/ID, and either followed by /CONTAINER: a task id is 32 hex
    # digits, so a last part that is not one names the container.
    if len(parts) >= 3 and not _TASK_ID.fullmatch(parts[-1]):
        container = parts.pop()
    arn = ":".join([*fields[:5], "/".join(parts)])
    return _remote(text, path, arn, container)


def _remote(text: str, path: str, task: str | None, container: str | None) -> RemotePath:
    if not path:
        raise UsageError(
            f"the remote path '{text}' names no file",
            hint="write the path after the colon, e.g. :/var/log/app.log",
        )
    if container is not None and not _CONTAINER.fullmatch(container):
        raise UsageError(
            f"'{container}' in '{text}' is not a container name",
            hint="write TASK/CONTAINER:PATH, e.g. 1a2b/app:/tmp/x",
        )
    return RemotePath(path, task, container)


def check_pair(src: CpPath, dst: CpPath, *, recursive: bool) -> None:
    """One side local, the other remote; ``-`` only where it makes sense.

    Raises:
        UsageError: two local or two remote paths, or ``-`` with ``-r``.
    """
    if isinstance(src, LocalPath) and isinstance(dst, LocalPath):
        raise UsageError(
            "both paths are local",
            hint="write the container's side as :PATH or TASK:PATH (a local name with a "
            "colon as ./NAME)",
        )
    if isinstance(src, RemotePath) and isinstance(dst, RemotePath):
        raise UsageError(
            "both paths are remote: cp copies between this machine and one container",
            hint="copy to a local file first, then from it",
        )
    local = src if isinstance(src, LocalPath) else dst
    assert isinstance(local, LocalPath)
    if local.stdio and recursive:
        raise UsageError(
            "-r cannot read a directory from stdin or write one to stdout",
            hint="name a local directory instead of -",
        )


def remote_basename(path: str) -> str:
    """The last component of a remote path, as ``cp`` names a copy inside a directory."""
    stripped = path.rstrip("/")
    return stripped.rsplit("/", 1)[-1] if stripped else ""
