"""Before click parses anything: the context in effect and the scope lock.

``prepare`` runs ahead of the typer app, so a refused argument stops ecs-exec before any
command runs and before any AWS call. It reads the contexts file only when something needs
it (a ``--context`` flag, ECS_EXEC_CONTEXT, or an existing file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ecs_exec.config import contexts_path
from ecs_exec.errors import ConfigurationError

if TYPE_CHECKING:
    from ecs_exec.config.contexts import Context
    from ecs_exec.config.lock import ScopeLock

_OFF = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Scope:
    """The context in effect (and where it was chosen), and the lock, if any."""

    context: Context | None = None
    source: str | None = None
    lock: ScopeLock | None = None


def option_table(command: click.Command) -> dict[str, bool]:
    """Every option name of the command tree -> whether it takes a value."""
    table: dict[str, bool] = {}
    stack = [command]
    while stack:
        current = stack.pop()
        for param in current.params:
            if isinstance(param, click.Option):
                takes = not param.is_flag and not param.count
                for name in [*param.opts, *param.secondary_opts]:
                    table[name] = takes
        if isinstance(current, click.Group):
            stack.extend(current.commands.values())
    return table


def env_may_lock(environ: Mapping[str, str]) -> bool:
    """Whether the environment alone locks (or may lock) this run: known before anything
    is parsed, so that --debug shows no traceback even for an early error under the lock.
    An ECS_EXEC_LOCK value other than 0/1 counts as locking (``prepare`` refuses it)."""
    switch = environ.get("ECS_EXEC_LOCK", "").strip().lower()
    if switch:
        return switch not in _OFF
    return bool(environ.get("CLUSTER_NAME") and environ.get("SERVICE_NAME"))


def _mentions_context(options: Sequence[str]) -> bool:
    return any(o == "--context" or o.startswith("--context=") for o in options)


def prepare(command: click.Command, options: Sequence[str], environ: Mapping[str, str]) -> Scope:
    """Select the context and enforce the lock on ``options`` (argv before ``--``).

    Raises:
        ScopeLockedError: an argument the lock refuses.
        UsageError: an unknown context name, a bad ECS_EXEC_LOCK value.
        ConfigurationError: an unreadable contexts file.
    """
    if not (
        env_may_lock(environ)
        or environ.get("ECS_EXEC_CONTEXT")
        or _mentions_context(options)
        or contexts_path(environ).exists()
    ):
        return Scope()  # no context, no lock: nothing more to read (most runs)
    from ecs_exec.config import contexts
    from ecs_exec.config.contexts import ContextStore
    from ecs_exec.config.lock import check_arguments, scan, scope_lock

    table = option_table(command)
    scanned = scan(options, table)
    flagged = [v for v in scanned.values("--context") if v is not None]
    # `sandbox --context NAME` names the context to write, not one to use.
    writing = scanned.words[:1] == ("sandbox",)
    flag = flagged[-1] if flagged and not writing else None
    # Managing contexts (`context create dev` while ECS_EXEC_CONTEXT=dev) or asking for help
    # must work whatever the context in effect is; --help works with a broken file too.
    lenient = scanned.words[:1] == ("context",)
    informational = any(name in ("-h", "--help", "--version") for name, _ in scanned.options)
    path = contexts_path(environ)
    store = ContextStore(path=path)
    if flag or environ.get("ECS_EXEC_CONTEXT") or path.exists():
        try:
            store = contexts.load(path)
        except ConfigurationError:
            if not informational:
                raise
    find = store.find if lenient or informational else store.get
    baseline_name, baseline_source = contexts.selected_name(store, None, environ)
    baseline = find(baseline_name) if baseline_name else None
    lock = scope_lock(environ, baseline)
    if lock is not None:  # first: a refused --context is not even looked up
        check_arguments(lock, options, table)
    requested = find(flag) if flag else None
    if lock is None and requested is not None:
        lock = scope_lock(environ, baseline, requested=requested)
        if lock is not None:
            check_arguments(lock, options, table)
    if requested is not None:
        return Scope(context=requested, source="--context", lock=lock)
    return Scope(context=baseline, source=baseline_source if baseline else None, lock=lock)
