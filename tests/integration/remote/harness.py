"""A local stand-in for the SSM agent's command execution, for testing the remote framing.

What it reproduces (see docs/agent.md#2-the-command): the ``command`` string is split with
google/shlex rules (:func:`ecs_exec.remote.shlexgo.split`) and exec'd with no shell, as a session
leader in a fresh PTY that is its controlling terminal, with ``TERM=xterm-256color`` and
``LANG=C.UTF-8``. Output is read from the master in chunks of at most 1024 bytes and passed
through the agent's UTF-8 handling (:class:`AgentUtf8`). Input is written to the master.
What it leaves out: the 1 s initial delay and the 1 ms per-chunk pacing (so throughput can be
measured), and the data channel itself.
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import select
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ecs_exec.remote import (
    Event,
    Exited,
    Noise,
    Ready,
    SetupFailed,
    Stderr,
    StdinEncoder,
    StdinMode,
    Stdout,
    StreamDecoder,
    build_oneoff_command,
    new_nonce,
    shlexgo,
)
from ecs_exec.sandbox.pty_process import (
    group_alive,
    live_group_members,
    reset_signal_dispositions,
)

AGENT_READ_SIZE = 1024  # StreamDataPayloadSize in the agent's shell plugin
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_CONT = range(0x80, 0xC0)


class AgentUtf8:
    """The agent's ``processStdoutData`` rune walk, byte for byte.

    A ``utf8.RuneError`` (an incomplete sequence, an invalid byte, or a real U+FFFD) within the
    last 3 bytes of a read is held back with what follows for the next read; elsewhere an
    invalid byte is passed through alone, and a decoded ``RuneError`` writes only its first
    byte and skips its width, so a real U+FFFD (EF BF BD) becomes EF.
    """

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._held + data
        self._held = b""
        if buf.isascii():  # fast path: base64 frames are pure ASCII
            return buf
        out = bytearray()
        pos = 0
        while pos < len(buf):
            match = _NON_ASCII.search(buf, pos)
            if match is None:
                out += buf[pos:]
                break
            out += buf[pos : match.start()]
            pos = match.start()
            width, valid = _decode_rune(buf, pos) if _full_rune(buf, pos) else (1, False)
            if valid and buf[pos : pos + 3] != b"\xef\xbf\xbd":
                out += buf[pos : pos + width]
            elif len(buf) - pos < 4:
                # RuneError within the last 3 bytes (incomplete, invalid or a real U+FFFD):
                # kept with the rest for the next read.
                self._held = buf[pos:]
                break
            else:
                out.append(buf[pos])  # RuneError: one byte written, width skipped
            pos += width
        return bytes(out)

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held


def _seq_len(first: int) -> int:
    """Sequence length by Go's ``first`` table; 0 for bytes that never start a rune."""
    if 0xC2 <= first <= 0xDF:
        return 2
    if 0xE0 <= first <= 0xEF:
        return 3
    if 0xF0 <= first <= 0xF4:
        return 4
    return 0


def _second_range(first: int) -> range:
    """Go's ``acceptRanges`` for the byte after ``first``."""
    return {0xE0: range(0xA0, 0xC0), 0xED: range(0x80, 0xA0), 0xF0: range(0x90, 0xC0)}.get(
        first, range(0x80, 0x90) if first == 0xF4 else _CONT
    )


def _full_rune(buf: bytes, pos: int) -> bool:
    """``utf8.FullRune(buf[pos:])``: invalid sequences count as full (width 1)."""
    first, avail = buf[pos], len(buf) - pos
    size = _seq_len(first)
    if size == 0 or avail >= size:
        return True
    if avail > 1 and buf[pos + 1] not in _second_range(first):
        return True
    return avail > 2 and size == 4 and buf[pos + 2] not in _CONT


def _decode_rune(buf: bytes, pos: int) -> tuple[int, bool]:
    """``utf8.DecodeRune`` on a full rune: (width, valid); invalid means width 1."""
    first = buf[pos]
    size = _seq_len(first)
    if size == 0 or buf[pos + 1] not in _second_range(first):
        return 1, False
    if any(byte not in _CONT for byte in buf[pos + 2 : pos + size]):
        return 1, False
    return size, True


def _group_members(pgid: int) -> list[str]:
    """``pid state cmdline`` of the live processes in group ``pgid`` (diagnostics)."""
    found = []
    for pid, state in live_group_members(pgid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                argv = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append(f"{pid} {state} {argv[:80]}")
    return found


def _make_controlling_tty() -> None:
    # Runs in the child after setsid(): stdin (the PTY slave) becomes the controlling
    # terminal, as creack/pty's Start (Setsid + Setctty) does for the agent; signals start at
    # their defaults, as under the agent, whatever the test runner's parent ignored.
    reset_signal_dispositions()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class AgentEmulator:
    """Runs one ``command`` string in a PTY the way the agent does; threads do the I/O.

    Args:
        command: the ExecuteCommand ``command`` string.
        path: the PATH the command is resolved and run with (default: this process's).
        tmpdir: the TMPDIR of the command (default: unset, so /tmp).
    """

    def __init__(self, command: str, *, path: str | None = None, tmpdir: str | None = None) -> None:
        argv = shlexgo.split(command)
        env = {
            "PATH": path if path is not None else os.environ["PATH"],
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "HOME": "/root",
        }
        if tmpdir is not None:
            env["TMPDIR"] = tmpdir
        self._master, slave = os.openpty()
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=env,
                start_new_session=True,
                # Safe despite threads: the hook only calls ioctl() in the child.
                preexec_fn=_make_controlling_tty,
            )
        finally:
            os.close(slave)
        os.set_blocking(self._master, False)
        self._stop = threading.Event()
        #: (monotonic time, bytes) as the agent would send them; None once the PTY closed.
        self.output: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        self._input: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._writer = threading.Thread(target=self._write_loop, daemon=True)
        self._reader.start()
        self._writer.start()
        #: Set by close() if processes of the session outlived the script.
        self.leftover_processes = False
        #: Their command lines, for the failure message.
        self.leftovers: list[str] = []

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the PTY master (written by a thread, as writes may block)."""
        self._input.put(data)

    def close(self, timeout: float = 5.0) -> int:
        """Stop the writer, kill the process group if still alive, return the local status."""
        self._input.put(None)
        self._stop.set()
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            status = self.process.wait(timeout)
        # Whatever the script started must be gone too (the kernel HUPs the session's
        # foreground group when its leader exits); give stragglers a moment, then kill.
        deadline = time.monotonic() + 2.0
        while group_alive(self.process.pid):
            if time.monotonic() > deadline:
                self.leftover_processes = True
                self.leftovers = _group_members(self.process.pid)
                os.killpg(self.process.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        self._reader.join(timeout)
        self._writer.join(timeout)
        try:
            os.close(self._master)
        except OSError:
            pass
        return status

    def _read_loop(self) -> None:
        utf8 = AgentUtf8()
        while True:
            readable, _, _ = select.select([self._master], [], [], 0.1)
            if not readable:
                continue
            try:
                data = os.read(self._master, AGENT_READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:  # EIO: every slave fd is closed
                data = b""
            if not data:
                break
            out = utf8.feed(data)
            if out:
                self.output.put((time.monotonic(), out))
        utf8.flush()  # the agent never sends what it held back (writePump ends on EOF)
        self.output.put(None)

    def _write_loop(self) -> None:
        # The master is non-blocking so that close() can stop a writer whose input nobody
        # reads any more (the command exited without draining stdin).
        while (data := self._input.get()) is not None:
            view = memoryview(data)
            while view:
                if self._stop.is_set():
                    return
                _, writable, _ = select.select([], [self._master], [], 0.1)
                if not writable:
                    continue
                try:
                    view = view[os.write(self._master, view) :]
                except BlockingIOError:
                    continue
                except OSError:  # the session ended while input was still pending
                    return


@dataclass
class Result:
    """Everything a framed one-off run produced, with arrival times."""

    stdout: bytes = b""
    stderr: bytes = b""
    noise: bytes = b""
    code: int | None = None
    setup_failed: str | None = None
    ready_at: float | None = None
    events: list[tuple[float, Event]] = field(default_factory=list)
    wire_bytes: int = 0
    leftover_processes: bool = False
    leftovers: list[str] = field(default_factory=list)
    heartbeats: int = 0  # heartbeat records seen (the decoder drops them)


def _session_processes(agent: AgentEmulator) -> str:
    """What still runs in the agent's session, with signal masks (for a timeout's message)."""
    listing = subprocess.run(
        ["ps", "-o", "pid,stat,args", "-s", str(agent.process.pid)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    lines = []
    for line in listing.splitlines()[1:]:
        pid = line.split()[0]
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            status = ""
        masks = [s for s in status.splitlines() if s.startswith(("SigBlk", "SigIgn", "SigCgt"))]
        lines.append(f"{line.strip()[:70]} {' '.join(masks)}")
    return "; ".join(lines)


def run_oneoff(
    argv: list[str],
    *,
    stdin: bytes | Iterable[bytes] | None = None,
    stdin_mode: StdinMode | None = None,
    compress: bool = True,
    raw_output: bool = True,
    path: str | None = None,
    timeout: float = 30.0,
    confirm: bool = True,
    tmpdir: str | None = None,
    on_event: Callable[[Event, AgentEmulator], None] | None = None,
) -> Result:
    """Run ``argv`` through the framing script in an :class:`AgentEmulator` and decode it.

    ``stdin`` is sent (framed by :class:`StdinEncoder`, then EOF) once ``Ready`` arrives.
    ``stdin_mode`` defaults to ``"none"`` without stdin and ``"raw"`` with it; output records
    may be raw (``raw_output``) as with the native transport. The exit record
    is confirmed as a client does, unless ``confirm`` is false. ``on_event`` sees every
    event as it is decoded, with the agent (to write control frames, for instance).
    """
    mode: StdinMode = stdin_mode or ("none" if stdin is None else "raw")
    nonce = new_nonce()
    agent = AgentEmulator(
        build_oneoff_command(
            argv, nonce=nonce, stdin_mode=mode, compress=compress, raw_output=raw_output
        ),
        path=path,
        tmpdir=tmpdir,
    )
    decoder = StreamDecoder(nonce)
    result = Result()
    out, err, noise, raw = bytearray(), bytearray(), bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                item = agent.output.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(
                    f"{argv!r} did not finish within {timeout} s; events: "
                    f"{[type(e).__name__ for _, e in result.events]}; output tail: "
                    f"{bytes(raw[-300:])!r}; processes left: {_session_processes(agent)}"
                ) from None
            events = decoder.close() if item is None else decoder.feed(item[1])
            now = time.monotonic() if item is None else item[0]
            result.wire_bytes += 0 if item is None else len(item[1])
            if item is not None:
                raw += item[1]
            for event in events:
                result.events.append((now, event))
                if on_event is not None:
                    on_event(event, agent)
                if isinstance(event, Ready):
                    result.ready_at = now
                    if mode != "none":
                        threading.Thread(
                            target=_send_stdin, args=(agent, mode, stdin), daemon=True
                        ).start()
                elif isinstance(event, Stdout):
                    out += event.data
                elif isinstance(event, Stderr):
                    err += event.data
                elif isinstance(event, Noise):
                    noise += event.data
                elif isinstance(event, Exited):
                    result.code = event.code
                    if confirm:
                        agent.write(StdinEncoder.confirm_exit())
                elif isinstance(event, SetupFailed):
                    result.setup_failed = event.tool
            if item is None:
                break
    finally:
        agent.close()
        result.leftover_processes = agent.leftover_processes
        result.leftovers = agent.leftovers
    result.stdout, result.stderr, result.noise = bytes(out), bytes(err), bytes(noise)
    result.heartbeats = raw.count(b"\n@" + nonce.encode() + b":H\n")
    return result


def _send_stdin(
    agent: AgentEmulator, mode: StdinMode, stdin: bytes | Iterable[bytes] | None
) -> None:
    if mode == "none":
        return
    encoder = StdinEncoder(mode)
    chunks = [stdin] if isinstance(stdin, bytes) else (stdin or [])
    for chunk in chunks:
        for frame in encoder.encode(chunk):
            agent.write(frame)
    agent.write(encoder.eof())
