"""`ecs-exec cp`: settings and the two paths -> CopyRequest -> ecs_exec.cp."""

from __future__ import annotations

import functools

from ecs_exec.cli.common import aws_clients
from ecs_exec.cli.report import print_warning
from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.cp.paths import CpPath, RemotePath, check_pair, parse_path
from ecs_exec.cp.progress import human_size
from ecs_exec.cp.transfer import CopyRequest, run_copy


def run_cp_command(
    invocation: Invocation,
    settings: Settings,
    *,
    src: str,
    dst: str,
    recursive: bool,
    preserve: bool,
) -> int:
    console = invocation.console
    source, destination = parse_path(src), parse_path(dst)
    check_pair(source, destination, recursive=recursive)
    _check_lock(invocation, source, destination)
    show = console.stderr_isatty and not settings.quiet
    request = CopyRequest(
        src=source,
        dst=destination,
        recursive=recursive,
        preserve=preserve,
        progress=show,
        quiet=settings.quiet,
        transport=settings.transport,
    )
    picker = None
    if console.stdin_isatty and console.stderr_isatty and src != "-":
        from ecs_exec.local.picker import pick_task

        picker = pick_task
    with aws_clients(settings) as clients:
        result = run_copy(
            clients,
            settings.target,
            request,
            console,
            warn=functools.partial(print_warning, console),
            picker=picker,
        )
    for warning in result.warnings:
        if not settings.quiet:
            console.write_err(f"ecs-exec: warning: {warning}\n")
    if result.checker == "none" and not settings.quiet:
        console.write_err(
            "ecs-exec: warning: the container has no sha256sum, sha1sum, md5sum or tee: "
            "the copy was not verified\n"
        )
    elif result.checker == "wc" and not settings.quiet:
        console.write_err(
            "ecs-exec: note: the container has no sha256sum, sha1sum or md5sum: "
            "only the size was compared\n"
        )
    elif show:
        files = f"{result.files} files, " if result.files > 1 else ""
        console.write_err(
            f"ecs-exec: copied {files}{human_size(result.size)} to {result.destination} "
            f"(verified with {result.checker})\n"
        )
    return 0


def _check_lock(invocation: Invocation, *paths: CpPath) -> None:
    """Under the scope lock (when ECS_EXEC_LOCK_ALLOW lets cp run at all), a container named
    in a path obeys the same rule as --container; a task is checked by the resolver.

    Raises:
        ScopeLockedError: the container is not one the lock allows.
    """
    from ecs_exec.config.lock import scope_lock

    lock = scope_lock(invocation.console.environ, invocation.context)
    if lock is None:
        return
    for path in paths:
        container = path.container if isinstance(path, RemotePath) else None
        if container is not None and not lock.container_allowed(container):
            raise lock.refuse("container", f"the container '{container}' in the path")
