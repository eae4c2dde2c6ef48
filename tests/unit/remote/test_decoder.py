"""StreamDecoder on crafted streams, split at every and at random points."""

from __future__ import annotations

import base64
import bz2
import gzip
import os
import random

import pytest

from ecs_exec.errors import RemoteProtocolError
from ecs_exec.remote import (
    Event,
    Exited,
    Noise,
    Ready,
    SetupFailed,
    Stderr,
    Stdout,
    StreamDecoder,
)
from ecs_exec.remote.command import OUTPUT_FRAME

NONCE = "0123abcd4567ef89"
TAG = b"@" + NONCE.encode() + b":"


def frame(
    kind: bytes, data: bytes, *, gz: bool = False, bz: bool = False, crlf: bool = False
) -> bytes:
    """A data frame as the script writes it (base64 wrapped at 76 like base64(1))."""
    payload = gzip.compress(data, mtime=0) if gz else bz2.compress(data) if bz else data
    body = base64.encodebytes(payload)
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    codec = b"z" if gz else b"j" if bz else b"b"
    return b"\n" + TAG + kind + codec + b"\n" + body + b"."


def record(header: bytes) -> bytes:
    return b"\n" + TAG + header + b"\n"


def merge(events: list[Event]) -> list[Event]:
    """Join adjacent events of the same data type, so any split yields the same list."""
    merged: list[Event] = []
    for event in events:
        last = merged[-1] if merged else None
        if isinstance(event, Noise | Stdout | Stderr) and type(last) is type(event):
            merged[-1] = type(event)(last.data + event.data)
        else:
            merged.append(event)
    return merged


def decode(chunks: list[bytes]) -> list[Event]:
    decoder = StreamDecoder(NONCE)
    events: list[Event] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return merge(events + decoder.close())


SESSION = (
    b"Starting session with SessionId: abc\r\n"
    + record(b"R")
    + frame(b"O", b"hello\x00\xef\xbf\xbd\n")
    + frame(b"E", b"oops\n")
    + b"text written to /dev/tty\n"
    + frame(b"O", b"log line\n" * 500, gz=True)
    + frame(b"E", os.urandom(3000), crlf=True)
    + frame(b"O", b"bzip2 line\n" * 300, bz=True)
    + record(b"X42")
    + b"\r\nExiting session with sessionId: abc.\r\n"
)


def expected_session() -> list[Event]:
    return decode([SESSION])


def test_whole_session() -> None:
    events = expected_session()
    assert events[0] == Noise(b"Starting session with SessionId: abc\r\n")
    assert events[1] == Ready()
    assert events[2] == Stdout(b"hello\x00\xef\xbf\xbd\n")
    assert events[3] == Stderr(b"oops\n")
    assert events[4] == Noise(b"text written to /dev/tty\n")  # only the record's LF goes
    assert events[5] == Stdout(b"log line\n" * 500)
    assert isinstance(events[6], Stderr)
    assert len(events[6].data) == 3000
    assert events[7] == Stdout(b"bzip2 line\n" * 300)
    assert events[8] == Exited(42)
    assert events[9] == Noise(b"\r\nExiting session with sessionId: abc.\r\n")


def test_byte_by_byte() -> None:
    assert decode([SESSION[i : i + 1] for i in range(len(SESSION))]) == expected_session()


@pytest.mark.parametrize("seed", range(20))
def test_random_split_points(seed: int) -> None:
    rnd = random.Random(seed)
    cuts = sorted(rnd.sample(range(1, len(SESSION)), 30))
    chunks = [SESSION[a:b] for a, b in zip([0, *cuts], [*cuts, len(SESSION)], strict=True)]
    assert decode(chunks) == expected_session()


def test_setup_failure_record_with_onlcr() -> None:
    # Printed before `stty raw`, so the PTY turned each LF into CR LF.
    assert decode([b"\r\n" + TAG + b"Mbase64\r\n"]) == [SetupFailed("base64")]


def test_noise_is_passed_on_promptly() -> None:
    decoder = StreamDecoder(NONCE)
    assert decoder.feed(b"Password: ") == [Noise(b"Password: ")]
    # A possible record start is held back, but nothing more.
    assert decoder.feed(b"line\n@0123") == [Noise(b"line")]
    assert decoder.feed(b"xyz") == [Noise(b"\n@0123xyz")]


def test_other_nonce_is_noise() -> None:
    fake = b"\n@ffffffffffffffff:Ob\naGk=\n."
    assert decode([fake]) == [Noise(fake)]


def test_noise_memory_is_bounded() -> None:
    decoder = StreamDecoder(NONCE)
    for _ in range(100):
        decoder.feed(b"x" * 10_000 + b"\n@0123")
    assert len(decoder._buf) <= len(TAG) + 2


@pytest.mark.parametrize(
    "stream",
    [
        record(b"Q"),  # unknown record
        record(b"Xabc"),  # status not a number
        b"\n" + TAG + b"Ob\naGk@=\n.",  # not base64
        b"\n" + TAG + b"Ob\naGk\n.",  # bad padding
        b"\n" + TAG + b"Oz\naGVsbG8=\n.",  # not gzip
        b"\n" + TAG + b"Oj\naGVsbG8=\n.",  # not bzip2
        frame(b"O", b"x" * 100, gz=True)[:-10] + b".",  # truncated gzip
        b"\n" + TAG + b"X" + b"1" * 200,  # header never ends
        b"\n" + TAG + b"Ob\n" + b"QUFB" * 70_000,  # frame never ends
        frame(b"O", os.urandom(OUTPUT_FRAME + 1), bz=True),  # one byte more than a frame
        frame(b"E", b"\0" * (OUTPUT_FRAME + 1), gz=True),
    ],
    # Named ids: ids made from the bytes would differ between xdist workers (random data).
    ids=[
        "unknown-record",
        "status-not-a-number",
        "not-base64",
        "bad-padding",
        "not-gzip",
        "not-bzip2",
        "truncated-gzip",
        "header-never-ends",
        "frame-never-ends",
        "bzip2-one-byte-over",
        "gzip-one-byte-over",
    ],
)
def test_malformed_records(stream: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode([stream])


@pytest.mark.parametrize("codec", ["gz", "bz"])
def test_decompression_bomb_is_refused(codec: str) -> None:
    with pytest.raises(RemoteProtocolError):
        decode([frame(b"O", b"\0" * 10_000_000, **{codec: True})])


@pytest.mark.parametrize("codec", ["plain", "gz", "bz"])
def test_largest_frame_is_accepted(codec: str) -> None:
    data = os.urandom(OUTPUT_FRAME // 2) + b"x" * (OUTPUT_FRAME // 2)
    kwargs = {} if codec == "plain" else {codec: True}
    assert decode([frame(b"O", data, **kwargs)]) == [Stdout(data)]


def test_oversized_body_is_refused_before_it_ends() -> None:
    decoder = StreamDecoder(NONCE)
    decoder.feed(b"\n" + TAG + b"Ob\n")
    for _ in range(OUTPUT_FRAME // 4096 * 2):  # base64 of two frames' worth
        decoder.feed(b"QUFB" * 1024)
    with pytest.raises(RemoteProtocolError):
        decoder.feed(b"QUFB" * 2048)


def test_end_inside_a_record() -> None:
    decoder = StreamDecoder(NONCE)
    decoder.feed(b"\n" + TAG + b"Ob\naGk=")
    with pytest.raises(RemoteProtocolError):
        decoder.close()


def test_twenty_megabytes_in_pieces() -> None:
    chunk = os.urandom(65536)
    plain = frame(b"O", chunk)
    stream = plain * (20 * 1024 * 1024 // len(chunk))
    decoder = StreamDecoder(NONCE)
    total = 0
    for i in range(0, len(stream), 65536):
        for event in decoder.feed(stream[i : i + 65536]):
            assert event == Stdout(chunk)
            total += len(event.data)
    assert total == 20 * 1024 * 1024


def test_heartbeat_records_are_ignored() -> None:
    stream = record(b"R") + record(b"H") + frame(b"O", b"hi") + record(b"H") + record(b"X0")
    assert decode([stream]) == [Ready(), Stdout(b"hi"), Exited(0)]
    for cut in range(len(stream)):
        assert merge(decode([stream[:cut], stream[cut:]])) == [Ready(), Stdout(b"hi"), Exited(0)]


def test_in_record_tells_a_cut_record() -> None:
    decoder = StreamDecoder(NONCE)
    decoder.feed(record(b"R"))
    assert decoder.in_record is False
    decoder.feed(frame(b"O", b"abc")[:-3])
    assert decoder.in_record is True
    decoder.feed(frame(b"O", b"abc")[-3:])
    assert decoder.in_record is False
