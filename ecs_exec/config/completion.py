"""Dynamic shell completion: cluster, service, task and container names from AWS.

A completion runs in a fresh ecs-exec process on every Tab, so it must be quick and must
never hang the shell: one attempt per call with short timeouts, the whole lookup bounded by
:data:`DEADLINE_SECONDS` (after that it offers nothing), and answers kept on disk for
:data:`CACHE_SECONDS` so that a second Tab does not call AWS again. The settings are those
the command line typed so far would use (flags, then environment, then the context in
effect). Any failure offers nothing: completion never prints an error.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from ecs_exec.aws.cache import cache_dir
from ecs_exec.config import contexts_path

# The heavier modules (hashlib, tempfile, threading) are imported where a Tab press needs
# them: this module is imported on every run, to declare the completers.

#: How long an answer is reused (a few seconds: long enough for repeated Tabs).
CACHE_SECONDS = 5.0
#: The bound on a whole lookup, credentials included (``ECS_EXEC_COMPLETION_TIMEOUT``
#: changes it, for a slow link or a slow machine).
DEADLINE_SECONDS = 3.0
DEADLINE_VAR = "ECS_EXEC_COMPLETION_TIMEOUT"
#: At most this many pages of a list call (100 names each).
MAX_PAGES = 5
KINDS = ("cluster", "service", "task", "container")


@dataclass(frozen=True)
class Scope:
    """Where to look: the AWS settings and the target typed so far."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    cluster: str | None = None
    service: str | None = None
    task: str | None = None

    def cache_key(self, kind: str) -> str:
        import hashlib

        # The access key id stands for the account when no profile names it.
        identity = os.environ.get("AWS_ACCESS_KEY_ID", "")
        raw = json.dumps([kind, asdict(self), identity], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()


def scope_from(params: Mapping[str, Any], env: Mapping[str, str]) -> Scope:
    """The scope for the flags typed so far (click's parsed params, resiliently parsed),
    applying the same precedence as a command: flag, environment, context, default."""
    from ecs_exec.config import contexts

    context = None
    try:
        store = contexts.load(contexts_path(env))
        name, _ = contexts.selected_name(store, params.get("context"), env)
        context = store.find(name) if name else None
    except Exception:  # a broken contexts file: complete without a context
        context = None
    flags = {
        key: params.get(key)
        for key in ("profile", "region", "endpoint_url", "cluster", "service", "container")
    }
    values = contexts.effective_settings(flags, context, env)
    return Scope(
        profile=values["profile"],
        region=values["region"],
        endpoint_url=values["endpoint_url"],
        cluster=values["cluster"],
        service=values["service"],
        task=params.get("task") or None,
    )


def context_names(env: Mapping[str, str], incomplete: str = "") -> list[str]:
    from ecs_exec.config import contexts

    try:
        store = contexts.load(contexts_path(env))
    except Exception:
        return []
    return [n for n in store.names if n.startswith(incomplete)]


def complete(
    kind: str,
    scope: Scope,
    incomplete: str = "",
    *,
    fetch: Callable[[str, Scope], list[str]] | None = None,
    now: Callable[[], float] = time.time,
    cache: Path | None = None,
) -> list[str]:
    """Names of ``kind`` that start with ``incomplete``, cached, never raising.

    Args:
        kind: one of :data:`KINDS`.
        scope: where to look.
        fetch: the lookup (default: ECS through botocore); injected by tests.
        now: the clock the cache uses.
        cache: the cache directory (default: ``<cache dir>/completion``).
    """
    directory = cache if cache is not None else cache_dir() / "completion"
    path = directory / f"{scope.cache_key(kind)}.json"
    names = _read(path, now())
    if names is None:
        names = _bounded(fetch or fetch_names, kind, scope)
        if names is None:
            return []
        _write(path, names, now())
    return [n for n in names if n.startswith(incomplete)]


def _read(path: Path, at: float) -> list[str] | None:
    try:
        data = json.loads(path.read_text())
        written = float(data["at"])
        if 0 <= at - written < CACHE_SECONDS:
            return [str(n) for n in data["names"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write(path: Path, names: list[str], at: float) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump({"at": at, "names": names}, handle)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs the next Tab a call


def _bounded(fetch: Callable[[str, Scope], list[str]], kind: str, scope: Scope) -> list[str] | None:
    """Run the lookup in a daemon thread and give up at the deadline (None)."""
    import threading

    result: list[list[str]] = []

    def run() -> None:
        try:
            result.append(fetch(kind, scope))
        except Exception:
            pass

    worker = threading.Thread(target=run, name="ecs-exec-complete", daemon=True)
    worker.start()
    worker.join(deadline_seconds())
    return result[0] if result else None


def deadline_seconds() -> float:
    """The lookup's bound: ``ECS_EXEC_COMPLETION_TIMEOUT`` when it is a positive number.

    A bad value falls back to the default silently: completion never prints an error.
    """
    try:
        value = float(os.environ.get(DEADLINE_VAR, ""))
    except ValueError:
        return DEADLINE_SECONDS
    return value if 0 < value < 3600 else DEADLINE_SECONDS


def fetch_names(kind: str, scope: Scope) -> list[str]:
    """Ask ECS: list calls only (DescribeTasks for containers), one attempt, short timeouts."""
    if kind != "cluster" and not scope.cluster:
        return []
    client = _ecs_client(scope)
    if kind == "cluster":
        return _names(_pages(client, "list_clusters", {}, "clusterArns"))
    if kind == "service":
        return _names(_pages(client, "list_services", {"cluster": scope.cluster}, "serviceArns"))
    kwargs: dict[str, Any] = {"cluster": scope.cluster, "desiredStatus": "RUNNING"}
    if scope.service:
        kwargs["serviceName"] = scope.service
    arns = [scope.task] if kind == "container" and scope.task else []
    if not arns:
        arns = _pages(client, "list_tasks", kwargs, "taskArns")
    if kind == "task":
        return _names(arns)
    response = client.describe_tasks(cluster=scope.cluster, tasks=arns[:100]) if arns else {}
    containers = {c["name"] for t in response.get("tasks", []) for c in t.get("containers", [])}
    return sorted(containers)


def _names(arns: list[str]) -> list[str]:
    return sorted({arn.rsplit("/", 1)[-1] for arn in arns})


def _pages(client: Any, operation: str, kwargs: dict[str, Any], key: str) -> list[str]:
    found: list[str] = []
    for number, page in enumerate(client.get_paginator(operation).paginate(**kwargs)):
        found.extend(page.get(key, []))
        if number + 1 >= MAX_PAGES:
            break
    return found


def _ecs_client(scope: Scope) -> Any:
    import botocore.session
    from botocore.config import Config

    session = botocore.session.Session(profile=scope.profile)
    region = scope.region or os.environ.get("AWS_REGION")
    if region:
        session.set_config_variable("region", region)
    deadline = deadline_seconds()
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 2},  # one retry, within the bound
        connect_timeout=min(1.0, deadline),
        read_timeout=deadline,
    )
    return session.create_client("ecs", endpoint_url=scope.endpoint_url, config=config)


def _typed_so_far(ctx: click.Context) -> dict[str, Any]:
    """The values typed so far, the subcommand's over the root's (as the commands merge them)."""
    chain: list[click.Context] = []
    current: click.Context | None = ctx
    while current is not None:
        chain.append(current)
        current = current.parent
    params: dict[str, Any] = {}
    for each in reversed(chain):
        params.update({k: v for k, v in each.params.items() if v is not None and v is not False})
    if "context_name" in params:
        params["context"] = params.pop("context_name")
    return params


def _completer(kind: str) -> Callable[[click.Context, str], list[str]]:
    def complete_names(ctx: click.Context, incomplete: str) -> list[str]:
        params = _typed_so_far(ctx)
        if params.get("sandbox"):
            return []  # the sandbox only exists while the command runs
        return complete(kind, scope_from(params, os.environ), incomplete)

    complete_names.__name__ = f"complete_{kind}s"
    return complete_names


complete_clusters = _completer("cluster")
complete_services = _completer("service")
complete_tasks = _completer("task")
complete_containers = _completer("container")


def complete_contexts(incomplete: str) -> list[str]:
    return context_names(os.environ, incomplete)
