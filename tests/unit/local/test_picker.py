"""The picker's pure state: filtering, cursor movement, choice and cancel."""

from __future__ import annotations

from ecs_exec.local.picker import PickerState, _split_keys


def test_filter_move_and_choose():
    state = PickerState(["alpha web:3", "beta web:3", "gamma web:2"])
    assert state.key(b"\x1b[B") is None
    assert state.selected == 1
    for ch in b"web:2":
        state.key(bytes([ch]))
    assert state.matches == [2] and state.selected == 2
    assert state.key(b"\r") == "chosen"


def test_backspace_cancel_and_no_match():
    state = PickerState(["one", "two"])
    state.key(b"z")
    assert state.selected is None and state.key(b"\r") is None
    state.key(b"\x7f")
    assert state.matches == [0, 1]
    assert state.key(b"\x1b") == "cancelled"


def test_key_splitting():
    assert _split_keys(b"a\x1b[Bb") == [b"a", b"\x1b[B", b"b"]
