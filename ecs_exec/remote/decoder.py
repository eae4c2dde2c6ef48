"""Decode the framed output of the one-off script (see :mod:`ecs_exec.remote.command`).

Record grammar (bytes; ``N`` is the session nonce, ``[A-Za-z0-9_-]{8,64}``)::

    stream  = *( noise / record )
    record  = [CR] LF "@" N ":" header [CR] LF [ body "." ]
    header  = "R"                     ; ready: raw mode is on, stdin may be sent
            / "H"                     ; heartbeat: the answer to a heartbeat frame; ignored
            / "X" 1*DIGIT             ; exited with this status
            / "M" 1*VCHAR             ; setup failed: this tool/resource is missing
            / ("O" / "E") ("b" / "z" / "j") [ "=" 1*DIGIT "," 32HEXDIG ]
                                      ; stdout/stderr data frame, plain/gzip/bzip2; has a body
    body    = *( base64-char / CR / LF ) ; base64 of the data (compressed for "z", "j")
            / *OCTET                  ; with "=": exactly that many raw bytes, whose MD5 is
                                      ; the hex digits (docs/output-records.md#3-raw-records)

The leading LF puts every record at the start of a line and is part of the record, not noise.
CRs are tolerated because records printed before ``stty raw`` (``M``) pass through ONLCR, and a
local PTY (plugin transport) may add them too. A base64 body cannot contain ``.``, so the first
``.`` ends it. A raw body is read by its length, never searched, and must be followed by ``.``;
that and its MD5 are checked before any of it is passed on, so an altered raw frame (the agent
shortens ``EF BF BD``, which the script keeps out of raw frames) is a protocol error, never
wrong output.
Everything outside records is noise. The nonce is random per session, so output of the command
cannot forge a record: stdout/stderr only ever travel inside records (base64-encoded, or raw
behind a header that gives their length), and only what a program writes to /dev/tty itself
(or the plugin's banners) reaches us as noise.

Every frame is written with one write() on the remote side, so nothing interleaves inside a
record; the decoder still accepts the stream split at any byte boundary. A frame carries at most
``OUTPUT_FRAME`` bytes of output (896 KiB); its base64 body, its raw length (checked in the
header, before the body is buffered) and its decompressed data are all bounded by that, so
a hostile or broken stream cannot make the decoder buffer or inflate without limit.
"""

from __future__ import annotations

import binascii
import bz2
import hashlib
import re
import zlib

from ecs_exec.errors import RemoteProtocolError
from ecs_exec.remote.command import OUTPUT_FRAME
from ecs_exec.remote.events import Event, Exited, Noise, Ready, SetupFailed, Stderr, Stdout

_BODY_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"
# A header line is a few bytes; anything longer without LF is not our record.
_MAX_HEADER = 80
# base64 of one frame plus its line breaks (LF every 76, maybe CR LF) with room to spare.
_MAX_BODY = 2 * OUTPUT_FRAME + 4096
# Decompressed size bound: a frame never gathers more than FRAME_CHUNKS dd reads.
_MAX_FRAME = OUTPUT_FRAME

# The raw frame header after the stream letter: codec, "=", length, ",", MD5 of the body.
_RAW_HEADER = re.compile(rb"([bzj])=([0-9]{1,7}),([0-9a-f]{32})")

_SCAN, _HEADER, _BODY, _RAW = range(4)


class StreamDecoder:
    """Turns the raw terminal stream of a framed one-off command into events.

    Feed it byte slices as they arrive, split anywhere. Memory stays bounded: noise is passed
    on at once except for a possible record prefix (a few dozen bytes), and a record that grows
    past its bound is a protocol error.

    Args:
        nonce: the nonce given to :func:`~ecs_exec.remote.command.build_oneoff_command`.
    """

    def __init__(self, nonce: str) -> None:
        self._marker = b"@" + nonce.encode("ascii") + b":"
        # Suffixes of the buffer that may grow into a record start are held back.
        self._starts = (b"\r\n" + self._marker, b"\n" + self._marker, self._marker)
        self._buf = bytearray()
        self._state = _SCAN
        self._stream = b""  # b"O" or b"E" while in a body
        self._codec = b"b"  # b plain, z gzip, j bzip2
        self._scanned = 0  # body bytes already searched for the terminating "."
        self._length = 0  # raw body: its length
        self._digest = b""  # raw body: its MD5, hex

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data`` and return the events it completes.

        Raises:
            RemoteProtocolError: a malformed record (unknown header, bad base64 or gzip,
                an oversized frame).
        """
        self._buf += data
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    @property
    def in_record(self) -> bool:
        """Whether the stream so far ends inside a record (its rest has not arrived)."""
        return self._state != _SCAN

    def close(self) -> list[Event]:
        """Signal end of stream; returns held-back noise.

        Raises:
            RemoteProtocolError: if the stream ended inside a record.
        """
        if self._state != _SCAN:
            raise RemoteProtocolError("the remote output ended in the middle of a record")
        events: list[Event] = [Noise(bytes(self._buf))] if self._buf else []
        self._buf.clear()
        return events

    def _step(self, events: list[Event]) -> bool:
        """Make one unit of progress; False when more input is needed."""
        if self._state == _SCAN:
            return self._scan(events)
        if self._state == _HEADER:
            return self._header(events)
        if self._state == _RAW:
            return self._raw_body(events)
        return self._body(events)

    def _scan(self, events: list[Event]) -> bool:
        buf = self._buf
        at = buf.find(self._marker)
        if at < 0:
            cut = len(buf) - self._held_back()
            if cut > 0:
                events.append(Noise(bytes(buf[:cut])))
                del buf[:cut]
            return False
        end = at
        if end and buf[end - 1] == 0x0A:
            end -= 1
            if end and buf[end - 1] == 0x0D:
                end -= 1
        if end:
            events.append(Noise(bytes(buf[:end])))
        del buf[: at + len(self._marker)]
        self._state = _HEADER
        return True

    def _held_back(self) -> int:
        """Length of the longest buffer suffix that is a prefix of a record start."""
        buf = self._buf
        for size in range(min(len(buf), len(self._starts[0])), 0, -1):
            tail = buf[-size:]
            if any(start.startswith(tail) for start in self._starts):
                return size
        return 0

    def _header(self, events: list[Event]) -> bool:
        buf = self._buf
        lf = buf.find(b"\n", 0, _MAX_HEADER + 1)
        if lf < 0:
            if len(buf) > _MAX_HEADER:
                raise RemoteProtocolError("a record header from the container is too long")
            return False
        line = bytes(buf[:lf]).rstrip(b"\r")
        del buf[: lf + 1]
        self._state = _SCAN
        kind, arg = line[:1], line[1:]
        if line == b"R":
            events.append(Ready())
        elif line == b"H":
            pass  # it kept the session busy; that was its whole job
        elif kind == b"X" and arg.isdigit():
            events.append(Exited(int(arg)))
        elif kind == b"M" and arg:
            events.append(SetupFailed(arg.decode("ascii", "replace")))
        elif kind in (b"O", b"E") and arg in (b"b", b"z", b"j"):
            self._state, self._stream, self._codec = _BODY, kind, arg
            self._scanned = 0
        elif kind in (b"O", b"E") and (raw := _RAW_HEADER.fullmatch(arg)):
            length = int(raw.group(2))
            if length > _MAX_FRAME:
                raise RemoteProtocolError("an output frame from the container is too large")
            self._state, self._stream, self._codec = _RAW, kind, raw.group(1)
            self._length, self._digest = length, raw.group(3)
        else:
            raise RemoteProtocolError(f"unknown record {line[:20]!r} from the container")
        return True

    def _body(self, events: list[Event]) -> bool:
        buf = self._buf
        dot = buf.find(b".", self._scanned)
        if dot < 0:
            self._scanned = len(buf)
            if len(buf) > _MAX_BODY:
                raise RemoteProtocolError("an output frame from the container is too large")
            return False
        body = bytes(buf[:dot])
        del buf[: dot + 1]
        self._state = _SCAN
        if len(body) > _MAX_BODY or body.translate(None, _BODY_CHARS):
            raise RemoteProtocolError("a corrupt output frame arrived from the container")
        try:
            data = binascii.a2b_base64(body)
        except binascii.Error as exc:
            raise RemoteProtocolError("an output frame has invalid base64") from exc
        self._emit(events, data)
        return True

    def _raw_body(self, events: list[Event]) -> bool:
        buf, length = self._buf, self._length
        if len(buf) <= length:
            return False
        body = bytes(buf[:length])
        end = buf[length]
        del buf[: length + 1]
        self._state = _SCAN
        # The agent alters only EF BF BD (to EF), which the script keeps out of raw frames; if
        # that ever failed, the body would be short and the "." or the digest would not match.
        digest = hashlib.md5(body, usedforsecurity=False).hexdigest().encode("ascii")
        if end != 0x2E or digest != self._digest:
            raise RemoteProtocolError(
                "a raw output frame from the container arrived altered (its length or "
                "MD5 does not match); its bytes were discarded"
            )
        self._emit(events, body)
        return True

    def _emit(self, events: list[Event], data: bytes) -> None:
        if self._codec != b"b":
            data = _decompress(data, gzip=self._codec == b"z")
        if data:
            events.append(Stdout(data) if self._stream == b"O" else Stderr(data))


def _decompress(data: bytes, *, gzip: bool) -> bytes:
    """Decompress one gzip or bzip2 stream, refusing more than a frame's worth (no bombs)."""
    try:
        if gzip:
            inflater = zlib.decompressobj(wbits=31)
            out = inflater.decompress(data, _MAX_FRAME + 1)
            done = inflater.eof and not inflater.unconsumed_tail and not inflater.unused_data
        else:
            unbzip = bz2.BZ2Decompressor()
            out = unbzip.decompress(data, _MAX_FRAME + 1)
            done = unbzip.eof and not unbzip.unused_data
    except (zlib.error, OSError, EOFError) as exc:
        raise RemoteProtocolError("an output frame has invalid compressed data") from exc
    if len(out) > _MAX_FRAME or not done:
        raise RemoteProtocolError("an output frame's compressed data is truncated or too large")
    return out
