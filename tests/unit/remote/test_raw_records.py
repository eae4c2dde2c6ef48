"""Raw output records (docs/output-records.md#3-raw-records): decoding, the agent's EF BF BD
alteration, and corruption detection, on crafted streams."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import os
import random

import pytest

from ecs_exec.errors import RemoteProtocolError
from ecs_exec.remote import Event, Exited, Ready, Stderr, Stdout, StreamDecoder
from ecs_exec.remote.command import OUTPUT_FRAME
from ecs_exec.sandbox.agent import AgentUtf8

NONCE = "0123abcd4567ef89"
TAG = b"@" + NONCE.encode() + b":"
FFFD = b"\xef\xbf\xbd"


def raw(kind: bytes, payload: bytes, codec: bytes = b"b", *, digest: str | None = None) -> bytes:
    """A raw data record as the script writes it: header with length and MD5, body, ".".

    ``payload`` is the body as sent (already compressed for codecs ``j`` and ``z``).
    """
    md5 = digest if digest is not None else hashlib.md5(payload).hexdigest()
    header = kind + codec + b"=%d," % len(payload) + md5.encode()
    return b"\n" + TAG + header + b"\n" + payload + b"."


def b64(kind: bytes, payload: bytes, codec: bytes = b"b") -> bytes:
    return b"\n" + TAG + kind + codec + b"\n" + base64.encodebytes(payload) + b"."


def record(header: bytes) -> bytes:
    return b"\n" + TAG + header + b"\n"


def script_frame(kind: bytes, data: bytes) -> bytes:
    """The script's per-record choice: raw when 2 KiB or more and free of EF BF BD."""
    if len(data) >= 2048 and FFFD not in data:
        return raw(kind, data)
    return b64(kind, data)


def through_agent(stream: bytes, read_sizes: list[int]) -> bytes:
    """What the agent sends for ``stream`` read in pieces of the given sizes (cycled)."""
    utf8, out, at, k = AgentUtf8(), bytearray(), 0, 0
    while at < len(stream):
        size = read_sizes[k % len(read_sizes)]
        out += utf8.feed(stream[at : at + size])
        at, k = at + size, k + 1
    return bytes(out)  # the held-back tail is lost, as at the agent's EOF


def decode(stream: bytes, *, step: int | None = None) -> list[Event]:
    decoder = StreamDecoder(NONCE)
    events: list[Event] = []
    step = step or len(stream) or 1
    for at in range(0, len(stream), step):
        events += decoder.feed(stream[at : at + step])
    return events + decoder.close()


def joined(events: list[Event]) -> tuple[bytes, bytes, list[Event]]:
    out = b"".join(e.data for e in events if isinstance(e, Stdout))
    err = b"".join(e.data for e in events if isinstance(e, Stderr))
    return out, err, [e for e in events if not isinstance(e, Stdout | Stderr)]


def test_every_byte_value_and_record_lookalikes_in_a_raw_body() -> None:
    data = bytes(range(256)) * 8 + record(b"X0") + b"." + b"\n" + TAG + b"Ob\nQUJD."
    stream = record(b"R") + raw(b"O", data) + raw(b"E", data[::-1]) + record(b"X3")
    assert decode(stream) == [Ready(), Stdout(data), Stderr(data[::-1]), Exited(3)]
    # Split anywhere, even byte by byte, the same events come out.
    out, err, rest = joined(decode(stream, step=1))
    assert (out, err, rest) == (data, data[::-1], [Ready(), Exited(3)])
    for cut in random.Random(3).sample(range(len(stream)), 40):
        decoder = StreamDecoder(NONCE)
        events = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.close()
        assert joined(events) == (data, data[::-1], [Ready(), Exited(3)])


def test_empty_output_and_empty_raw_frame() -> None:
    assert decode(record(b"R") + record(b"X0")) == [Ready(), Exited(0)]
    assert decode(raw(b"O", b"") + record(b"X0")) == [Exited(0)]


@pytest.mark.parametrize("codec", [b"b", b"j", b"z"])
def test_a_whole_frame_of_one_huge_line(codec: bytes) -> None:
    data = b"a" * (OUTPUT_FRAME - 1) + b"\n"
    payload = {b"b": data, b"j": bz2.compress(data), b"z": gzip.compress(data, mtime=0)}[codec]
    assert decode(raw(b"O", payload, codec), step=1024) == [Stdout(data)]


def test_base64_and_raw_records_mix_freely() -> None:
    a, b, c = os.urandom(5000), os.urandom(3000), b"log line\n" * 500
    stream = b64(b"O", a) + raw(b"O", b) + raw(b"E", bz2.compress(c), b"j") + b64(b"O", c)
    assert decode(stream) == [Stdout(a), Stdout(b), Stderr(c), Stdout(c)]


def test_ef_bf_bd_split_across_two_raw_records_survives_the_agent() -> None:
    first = os.urandom(4000).replace(b"\xef", b"") + b"\xef"
    second = b"\xbf\xbd" + os.urandom(4000).replace(b"\xef", b"")
    stream = record(b"R") + raw(b"O", first) + raw(b"O", second) + record(b"X0")
    # Whatever the agent's 1024-byte reads start at, the records arrive unchanged.
    for offset in (1, 7, 63, 64, 65, 1000, 1023):
        sent = through_agent(stream, [offset, 1024])
        assert sent == stream
        assert joined(decode(sent, step=1024))[0] == first + second


def test_a_raw_frame_the_agent_altered_is_refused_before_any_of_it_is_passed_on() -> None:
    good = os.urandom(3000).replace(b"\xef", b"")
    bad = os.urandom(3000).replace(b"\xef", b"") + FFFD + b"tail"
    stream = raw(b"O", good) + raw(b"O", bad) + raw(b"O", good) + record(b"X0")
    sent = through_agent(stream, [1024])
    assert len(sent) == len(stream) - 2  # EF BF BD became EF
    decoder = StreamDecoder(NONCE)
    passed: list[Event] = []

    def feed_all() -> None:
        for at in range(0, len(sent), 512):
            passed.extend(decoder.feed(sent[at : at + 512]))

    with pytest.raises(RemoteProtocolError, match="altered"):
        feed_all()
    assert passed == [Stdout(good)]


@pytest.mark.parametrize(
    "stream",
    [
        raw(b"O", b"x" * 3000, digest="0" * 32),
        raw(b"O", b"x" * 3000)[:-1] + b"!",
        raw(b"O", b"x" * 3000).replace(b"=3000,", b"=2999,"),
        raw(b"O", b"x" * 3000).replace(b"=3000,", b"=3001,") + b"....",
        raw(b"O", b"not bzip2 at all", b"j"),
    ],
    ids=["md5", "trailer", "short-length", "long-length", "bad-bzip2"],
)
def test_altered_raw_frames_are_refused(stream: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode(stream + record(b"X0"))


@pytest.mark.parametrize(
    "header",
    [
        b"Ob=3,900150983CD24FB0D6963F7D28E17F72",  # uppercase hex
        b"Ob=3900150983cd24fb0d6963f7d28e17f72",  # no comma
        b"Ob=,900150983cd24fb0d6963f7d28e17f72",  # no length
        b"Ob=12345678,900150983cd24fb0d6963f7d28e17f72",  # 8 digits
        b"Ox=3,900150983cd24fb0d6963f7d28e17f72",  # unknown codec
        b"Ob=3,900150983cd24fb0d6963f7d28e17f7",  # 31 hex digits
    ],
)
def test_malformed_raw_headers(header: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="unknown record"):
        decode(record(header) + b"abc.")


def test_a_length_over_one_frame_is_refused_from_the_header() -> None:
    decoder = StreamDecoder(NONCE)
    header = b"Ob=%d,%s" % (OUTPUT_FRAME + 1, b"0" * 32)
    with pytest.raises(RemoteProtocolError, match="too large"):
        decoder.feed(record(header))


def test_a_stream_cut_inside_a_raw_body() -> None:
    decoder = StreamDecoder(NONCE)
    decoder.feed(raw(b"O", b"y" * 5000)[:-10])
    assert decoder.in_record
    with pytest.raises(RemoteProtocolError):
        decoder.close()


@pytest.mark.parametrize("seed", range(4))
def test_the_scheme_is_exact_through_the_agent(seed: int) -> None:
    # Frames as the script chooses them (raw unless small or holding EF BF BD), sent through
    # the agent's UTF-8 walk in uneven reads: every byte arrives, whatever the content.
    rnd = random.Random(seed)
    pieces = [os.urandom(4000), FFFD * 900, b"\xef\xbf", b"\xbd" + os.urandom(3000), b"", b"x"]
    stream, want = bytearray(record(b"R")), {b"O": bytearray(), b"E": bytearray()}
    for _ in range(30):
        kind = rnd.choice([b"O", b"E"])
        data = rnd.choice(pieces) + os.urandom(rnd.randrange(0, 5000))
        if rnd.random() < 0.3:
            at = rnd.randrange(len(data) + 1)
            data = data[:at] + FFFD + data[at:]
        stream += script_frame(kind, data)
        want[kind] += data
    stream += record(b"X0")
    sent = through_agent(bytes(stream), [rnd.randrange(1, 1025) for _ in range(7)])
    out, err, rest = joined(decode(sent, step=1024))
    assert (out, err, rest) == (want[b"O"], want[b"E"], [Ready(), Exited(0)])
