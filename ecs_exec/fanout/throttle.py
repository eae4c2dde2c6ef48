"""Spreading ExecuteCommand calls: a client-side token bucket and jittered retries.

ECS rate-limits its API per account and region with token buckets and answers a call over
the limit with ``ThrottlingException`` (docs/fanout.md#7-throttling). Starting hundreds of
sessions at once would hit it, so every ExecuteCommand first takes a token from a local
bucket. The
bucket starts generous (:data:`START_BURST` tokens, :data:`START_RATE` a second) so that
an account with room starts everything at once; each throttled call halves its rate
(never below :data:`MIN_RATE`) and each success raises it by :data:`RATE_STEP`, as TCP's
congestion control does. A throttled start is retried after a random wait up to an
exponentially growing bound ("full jitter"), until :data:`START_DEADLINE` has passed for
that task; the fan-out's ``ExecuteCommand`` client makes one attempt per call (botocore's
own retries would hide the throttling from the bucket).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

#: Tokens in a full bucket, and the refill rate (calls a second) before any throttling.
START_BURST = 100.0
START_RATE = 100.0
#: The slowest the bucket goes, and what each success adds back.
MIN_RATE = 1.0
RATE_STEP = 1.0
#: The rate is halved at most once in this many seconds: the calls in flight when the limit
#: is hit all come back throttled, and each must not halve it again.
HALVING_INTERVAL = 1.0
#: Full-jitter backoff: a random wait in [0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)].
BACKOFF_BASE = 0.1
BACKOFF_CAP = 5.0
#: How long one task's start may keep being throttled before it counts as not started.
START_DEADLINE = 300.0


class StartThrottle:
    """The token bucket in front of ExecuteCommand, shared by every session of a fan-out.

    Args:
        burst, rate: the bucket's size and refill rate (calls a second).
        clock: a monotonic clock (the event loop's time).
        rand: uniform in [0, 1) for the jitter.
    """

    def __init__(
        self,
        *,
        burst: float = START_BURST,
        rate: float = START_RATE,
        clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.capacity = burst
        self.max_rate = rate
        self.rate = rate
        self.tokens = burst
        self._clock = clock
        self._rand = rand
        self._last: float | None = None
        self._halved: float | None = None
        self._lock = asyncio.Lock()
        #: Throttled calls so far (for the progress notes).
        self.throttled_calls = 0

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        now: float = asyncio.get_running_loop().time()
        return now

    def _refill(self) -> None:
        now = self._now()
        if self._last is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
        self._last = now

    async def acquire(self) -> None:
        """Wait for a token (waiters are served in order)."""
        async with self._lock:
            while True:
                self._refill()
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self.tokens) / self.rate)

    def throttled(self) -> None:
        """A call was throttled: halve the rate (once a :data:`HALVING_INTERVAL`) and empty
        the bucket."""
        self.throttled_calls += 1
        self._refill()
        now = self._now()
        if self._halved is None or now - self._halved >= HALVING_INTERVAL:
            self._halved = now
            self.rate = max(MIN_RATE, self.rate / 2)
        self.tokens = min(self.tokens, 0.0)

    def succeeded(self) -> None:
        self.rate = min(self.max_rate, self.rate + RATE_STEP)

    def backoff(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based) of one start."""
        bound: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)
        return self._rand() * bound
