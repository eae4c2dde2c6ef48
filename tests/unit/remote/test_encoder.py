"""StdinEncoder framing."""

from __future__ import annotations

import base64

import pytest

from ecs_exec.errors import InvalidStateError
from ecs_exec.remote import StdinEncoder


def test_raw_frames() -> None:
    encoder = StdinEncoder("raw", max_body=4)
    assert encoder.encode(b"abcdefg\n\x00") == [b"       4abcd", b"       4efg\n", b"       1\x00"]
    assert encoder.encode(b"") == []
    assert encoder.eof() == b"       0"


def test_base64_frames_never_contain_lf() -> None:
    encoder = StdinEncoder("base64", max_body=8)
    frames = encoder.encode(b"\n" * 20)
    assert all(b"\n" not in f for f in frames)
    assert all(len(f) <= 8 + 8 for f in frames)
    assert b"".join(base64.b64decode(f[8:]) for f in frames) == b"\n" * 20
    assert encoder.eof() == b"       0"


def test_default_body_limit() -> None:
    frames = StdinEncoder("raw").encode(b"x" * 70_000)
    assert [len(f) - 8 for f in frames] == [65536, 70_000 - 65536]
    frames = StdinEncoder("base64").encode(b"x" * 70_000)
    assert max(len(f) - 8 for f in frames) <= 65536


def test_closed_encoder_refuses_input() -> None:
    encoder = StdinEncoder("raw")
    encoder.eof()
    with pytest.raises(InvalidStateError):
        encoder.encode(b"x")
    with pytest.raises(InvalidStateError):
        encoder.eof()


def test_body_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="max_body"):
        StdinEncoder("raw", max_body=100_000)


def test_control_frames_are_headers_without_lf_valid_after_eof() -> None:
    encoder = StdinEncoder("base64")
    encoder.eof()
    frames = [encoder.heartbeat(), encoder.interrupt(), encoder.confirm_exit()]
    assert [len(frame) for frame in frames] == [8, 8, 8]
    assert len(set(frames)) == 3
    for frame in frames:
        assert b"\n" not in frame
        assert not frame.strip().isdigit()  # never mistaken for a length
