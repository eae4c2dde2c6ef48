"""A per-operation request rate limit for the sandbox's API faults, as ECS throttles.

ECS limits its API per account and region with token buckets: each call takes a token, the
bucket refills at a steady rate up to its size, and a call that finds it empty is refused
with ``ThrottlingException`` ("Rate exceeded"). A fault entry with ``ratePerSecond`` plays
that instead of firing on every call::

    {"faults": {"api": {"ExecuteCommand": {"error": "ThrottlingException",
                                           "ratePerSecond": 5, "burst": 5}}}}

``burst`` (the bucket size) defaults to ``ratePerSecond``; the bucket starts full. ``times``
does not apply to a rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any


def rate_allows(
    buckets: MutableMapping[str, list[float]], key: str, fault: Mapping[str, Any], now: float
) -> bool:
    """Take a token from the bucket ``key`` (created full); False when it is empty.

    Args:
        buckets: key -> [tokens, last refill time]; the caller holds the state's lock.
        key: the operation (or ``*``) the fault entry is for.
        fault: the entry, with ``ratePerSecond`` and optionally ``burst``.
        now: a monotonic time in seconds.
    """
    rate = float(fault["ratePerSecond"])
    size = float(fault.get("burst", rate))
    tokens, last = buckets.get(key, [size, now])
    tokens = min(size, tokens + (now - last) * rate)
    allowed = tokens >= 1.0
    if allowed:
        tokens -= 1.0
    buckets[key] = [tokens, now]
    return allowed
