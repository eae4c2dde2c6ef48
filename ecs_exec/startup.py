"""Start-up cost of the entry points: the cyclic garbage collector waits until they are running.

Loading botocore, asyncio, websockets and the CLI allocates several hundred thousand objects,
and the collector scans them again and again while they load (about an eighth of the CPU
time of a one-off command's start, measured with scripts/bench.py). Almost none of it is
garbage. So an entry point pauses the collector first thing; a timer turns it back on shortly
after, with everything loaded by then frozen (never scanned again), so long sessions and
``ecs-exec sandbox`` collect as usual. A command that ends before the timer has made little
garbage, which the process exit frees with the rest.
"""

from __future__ import annotations

import gc
import threading

#: How long the collector stays off: longer than any start-up, shorter than a long transfer.
GC_PAUSE_SECONDS = 2.0


def pause_gc_during_startup(seconds: float = GC_PAUSE_SECONDS) -> threading.Timer | None:
    """Turn the cyclic collector off now and back on (after freezing) in ``seconds``.

    Returns the timer that turns it back on, or None when the collector was already off
    (then whoever turned it off is in charge of it).
    """
    if not gc.isenabled():
        return None
    gc.disable()
    timer = threading.Timer(seconds, _resume)
    timer.daemon = True
    timer.name = "ecs-exec-gc-resume"
    timer.start()
    return timer


def _resume() -> None:
    gc.freeze()  # what start-up loaded stays: keep later collections from rescanning it
    gc.enable()
