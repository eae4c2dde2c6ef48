"""A trimmed copy of botocore's ECS service model, cached on disk to cut start-up time.

botocore's ECS model is ~1.3 MB of JSON once decompressed; building an ECS client parses and
copies all of it (~60 ms on every ecs-exec run), although ecs-exec calls eight operations.
After the first run this module keeps a copy with just those operations and the shapes
they reach (documentation stripped) under the cache directory, keyed by the botocore version,
and puts that directory first on botocore's data search path. Same wire behaviour: the
operations and shapes are botocore's own, byte for byte apart from documentation.
Any problem (unwritable cache, corrupt file) silently falls back to the full model.

Before loading any model, botocore checks that the service exists by listing every service
directory on its data path for that model type (``Loader.list_available_services``: ~450
directories, ~2,700 ``stat`` calls, about 20 ms per client type on every run). The loader
here answers that membership question by looking at the one service's directory instead;
the full list is still built, the same way, by anything that asks for it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from ecs_exec.aws.cache import cache_dir

#: Every ECS operation ecs-exec's client calls.
ECS_OPERATIONS = (
    "ListClusters",
    "DescribeClusters",
    "ListServices",
    "DescribeServices",
    "ListTasks",
    "DescribeTasks",
    "DescribeTaskDefinition",
    "ExecuteCommand",
    "DescribeContainerInstances",
    # `ecs-exec run`
    "RunTask",
    "StopTask",
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "ListTaskDefinitions",
)


def cache_root() -> Path:
    import botocore

    # The operation list is part of the key, so a release that calls more operations never
    # reads a copy trimmed for an older list.
    ops = hashlib.sha256(",".join(ECS_OPERATIONS).encode()).hexdigest()[:8]
    return cache_dir() / f"botocore-{botocore.__version__}-{ops}"


def trimmed_model(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """The model restricted to ``operations`` and the shapes they reach, without docs."""
    ops = {name: model["operations"][name] for name in operations}
    keep: set[str] = set()
    stack: list[str] = []
    for op in ops.values():
        for key in ("input", "output"):
            if key in op:
                stack.append(op[key]["shape"])
        stack.extend(error["shape"] for error in op.get("errors", []))
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        shape = model["shapes"][name]
        stack.extend(shape[k]["shape"] for k in ("member", "key", "value") if k in shape)
        stack.extend(member["shape"] for member in shape.get("members", {}).values())
    trimmed = {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": _without_docs(ops),
        "shapes": _without_docs({name: model["shapes"][name] for name in sorted(keep)}),
    }
    return trimmed


def _without_docs(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_docs(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_without_docs(v) for v in value]
    return value


class KnownServices(Sequence[str]):
    """What ``Loader.list_available_services(type_name)`` returns, with a cheap ``in``.

    ``name in services`` is true when some directory on the data path holds
    ``<name>/<api-version>/<type_name>.json[.gz]``: the test botocore applies to every
    directory it lists. Indexing, iteration and ``len`` build the full sorted list with
    botocore's own method, once.
    """

    def __init__(self, loader: Any, type_name: str, full: Callable[[str], list[str]]) -> None:
        self._loader = loader
        self._type_name = type_name
        self._full = full
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or name in (".", "..") or os.sep in name:
            return name in self._everything()
        for base in self._loader.search_paths:
            service_dir = os.path.join(base, name)
            try:
                versions = os.listdir(service_dir)
            except OSError:  # absent or not a directory: not a service here
                continue
            exists = self._loader.file_loader.exists
            if any(exists(os.path.join(service_dir, v, self._type_name)) for v in versions):
                return True
        return False

    def _everything(self) -> list[str]:
        if self._all is None:
            self._all = list(self._full(self._type_name))
        return self._all

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._everything()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def __eq__(self, other: object) -> bool:
        return self._everything() == other

    __hash__ = None  # type: ignore[assignment]  # a list's equality, a list's (absent) hash


def install_fast_service_lookup(loader: Any) -> None:
    """Make ``loader.list_available_services`` answer ``in`` without scanning the data path."""
    full = loader.list_available_services
    listings: dict[str, KnownServices] = {}

    def list_available_services(type_name: str) -> KnownServices:
        if type_name not in listings:
            listings[type_name] = KnownServices(loader, type_name, full)
        return listings[type_name]

    loader.list_available_services = list_available_services


def install_trimmed_ecs_model(session: Any) -> None:
    """Put the cached trimmed model first on ``session``'s data path; create it if absent.

    Also installs the fast service lookup (:func:`install_fast_service_lookup`).
    """
    try:
        loader = session.get_component("data_loader")
        install_fast_service_lookup(loader)
        root = cache_root()
        version = loader.determine_latest_version("ecs", "service-2")
        path = root / "ecs" / version / "service-2.json"
        if not path.is_file():
            # A loader of its own: the session's caches every file it loads by name, so
            # reading the full model through it would keep this run on the full model.
            from botocore.loaders import Loader

            reader = Loader(
                extra_search_paths=list(loader.search_paths), include_default_search_paths=False
            )
            model = reader.load_service_model("ecs", "service-2", version)
            data = trimmed_model(model, ECS_OPERATIONS)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            tmp.replace(path)
        loader.search_paths.insert(0, str(root))
    except Exception:  # the full model is always there to fall back on
        return
