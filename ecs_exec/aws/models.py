"""A trimmed copy of botocore's ECS service model, cached on disk to cut start-up time.

botocore's ECS model is ~1.3 MB of JSON once decompressed; building an ECS client parses and
copies all of it (~60 ms on every ecs-exec run), although ecs-exec calls eight operations.
After the first run this module keeps a copy with just those operations and the shapes
they reach (documentation stripped) under the cache directory, keyed by the botocore version,
and puts that directory first on botocore's data search path. Same wire behaviour: the
operations and shapes are botocore's own, byte for byte apart from documentation.
Any problem (unwritable cache, corrupt file) silently falls back to the full model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

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


def install_trimmed_ecs_model(session: Any) -> None:
    """Put the cached trimmed model first on ``session``'s data path; create it if absent."""
    try:
        loader = session.get_component("data_loader")
        root = cache_root()
        version = loader.determine_latest_version("ecs", "service-2")
        path = root / "ecs" / version / "service-2.json"
        if not path.is_file():
            model = loader.load_service_model("ecs", "service-2", version)
            data = trimmed_model(model, ECS_OPERATIONS)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            tmp.replace(path)
        loader.search_paths.insert(0, str(root))
    except Exception:  # the full model is always there to fall back on
        return
