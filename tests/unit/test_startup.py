"""The entry points' start-up pause of the cyclic garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ecs_exec.startup import pause_gc_during_startup


@pytest.fixture
def collector() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def test_the_collector_is_paused_then_resumed_with_start_up_objects_frozen(collector):
    # A pause far longer than the test, ended by hand: with a short one, a loaded machine
    # could let the timer fire before the first assertion.
    timer = pause_gc_during_startup(3600)
    assert timer is not None and timer.daemon
    assert not gc.isenabled()
    timer.cancel()
    timer.function(*timer.args, **timer.kwargs)  # what the timer would run
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_a_collector_turned_off_by_someone_else_is_left_alone(collector):
    gc.disable()
    assert pause_gc_during_startup(0.01) is None
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0
