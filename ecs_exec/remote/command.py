"""The ExecuteCommand ``command`` strings: a framing ``sh`` script plus the user's argv.

The agent splits ``command`` with google/shlex and execs it in a PTY with no shell, and it
sends no exit status. So a one-off command is wrapped as::

    sh -c '<ONEOFF_SCRIPT>' ecs-exec <nonce> <r|b|n> <z|-> <argv...>

with every word quoted by :func:`ecs_exec.shlexgo.quote`, so the script receives the user's
argv exactly (``"$@"``) without any shell re-parsing it.

Theory of operation of ``ONEOFF_SCRIPT`` (POSIX sh; tested with dash, bash and busybox ash):

1. Check the tools it needs with ``command -v``; print ``M<tool>`` and exit when one is missing.
   Compression is optional: bzip2 when present (on 64 KiB chunks of log text it is ~20% denser
   than gzip, and every byte counts at the agent's ~0.93 MB/s), else gzip; both need wc.
2. ``stty raw -echo``: the PTY then passes input bytes unchanged, echoes nothing and adds no CR
   to output. Input arriving earlier would be echoed and cooked, so the script prints ``R``
   (ready) only now and the client sends no stdin before it sees it.
3. A private ``mktemp -d`` directory holds FIFOs for stdin/stdout/stderr; traps remove it on
   every exit path (EXIT, and HUP/TERM turned into exits so the EXIT trap runs).
4. Stdin reader: each frame is an 8-byte space-padded decimal length and a body (see
   :mod:`ecs_exec.remote.encoder`); both are read with ``dd bs=<n> count=1 iflag=fullblock``,
   which reads exactly n bytes and never past them. The obvious tools over-read from a raw
   tty: bash's ``read`` builtin buffers when its input is a terminal, busybox ``head -c``
   reads through stdio. A dd without ``iflag=fullblock`` falls back to ``bs=1``, exact but
   slow. In base64 mode the length counts base64 characters and each body goes through
   ``base64 -d``. Length ``0`` means EOF.
5. The command runs with its stdio on the FIFOs (fd 3, our copy of the tty, closed), so ``$?``
   is the shell's status: 127 not found, 128+N for signal N.
6. One encoder per output stream reads with ``dd bs=65536 count=1``: a single read() that
   returns whatever the pipe holds, so output streams as produced; its size comes from dd's
   own report (``wc`` when dd prints none). A chunk of 512 bytes or more is compressed when
   that makes it smaller (after a chunk gzip could not shrink, the next 8 are sent without
   trying, so incompressible data costs little CPU; after one shrank to under half, the next 8
   are compressed without measuring, which saves a fork each). The frame is built in a file
   and written with one ``dd`` write: a write() to a tty holds the tty's write lock for its
   whole length, so stdout and stderr frames never interleave. That write runs in the
   background while the next chunk is read and compressed (two frame files alternate; each
   write waits for the previous one), so encoding overlaps the agent's slow tty drain.
7. Wait for both encoders, stop the stdin reader, print ``X<status>`` and exit with it.

The records are described in :mod:`ecs_exec.remote.decoder`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Literal

from ecs_exec import shlexgo
from ecs_exec.errors import RemoteSetupError

StdinMode = Literal["raw", "base64", "none"]

#: Value of ``$0`` in the wrapper scripts; shows up in ``ps`` and in sh error messages.
SCRIPT_NAME = "ecs-exec"
#: Tools the one-off script cannot do without (gzip and wc are optional).
REQUIRED_TOOLS = ("stty", "mktemp", "mkfifo", "dd", "base64", "rm")
#: Tools used when present: bzip2 or else gzip compresses output, wc compares sizes.
OPTIONAL_TOOLS = ("bzip2", "gzip", "wc")
#: Largest chunk one encoder read (dd bs) can yield; the decoder bounds frames by it.
OUTPUT_CHUNK = 65536

_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_STDIN_FLAG: dict[StdinMode, str] = {"raw": "r", "base64": "b", "none": "n"}

# Kept free of comments and newlines where cheap: it travels in every ExecuteCommand call.
ONEOFF_SCRIPT = r"""n=$1 m=$2 z=$3
shift 3
r() { printf '\n@%s:%s\n' "$n" "$1"; }
for t in stty mktemp mkfifo dd base64 rm; do
command -v $t >/dev/null 2>&1 || { r "M$t"; exit 127; }
done
c=
if [ "$z" = z ] && command -v wc >/dev/null 2>&1; then
for t in bzip2:j gzip:z; do
command -v ${t%:*} >/dev/null 2>&1 && { c=${t%:*} y=${t#*:}; break; }
done
fi
stty raw -echo 2>/dev/null || { r Mtty; exit 127; }
d=
for t in "${TMPDIR:-/tmp}" /dev/shm /var/tmp; do
d=$(mktemp -d "$t/ecs-exec.XXXXXX" 2>/dev/null) && break
d=
done
[ -n "$d" ] || { r Mtmpdir; exit 127; }
trap 'rm -rf "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
mkfifo "$d/i" "$d/O" "$d/E" || { r Mtmpdir; exit 127; }
fb=iflag=fullblock
dd if=/dev/null bs=1 count=1 $fb 2>/dev/null || fb=
e() {
f=$d/$1. k=0 v=0 w= j=0
while x=$(LC_ALL=C dd bs=65536 count=1 of="$f" 2>&1) && [ -s "$f" ]; do
g=$f t=b
if [ -z "$c" ]; then :
elif [ $k -gt 0 ]; then k=$((k-1))
else
a=${x%% bytes*} a=${a##*[!0-9]}
case $a in ''|*[!0-9]*) a=$(wc -c <"$f");; esac
if [ $a -lt 512 ]; then :
elif [ $v -gt 0 ] && $c -c <"$f" >"${f}z"; then g=${f}z t=$y v=$((v-1))
elif $c -c <"$f" >"${f}z" && b=$(wc -c <"${f}z") && [ $b -lt $a ]; then
g=${f}z t=$y
[ $((b*2)) -gt $a ] || v=8
else k=8 v=0
fi
fi
{ r "$1$t"; base64 <"$g"; printf .; } >"$f$j"
[ -z "$w" ] || wait $w
dd if="$f$j" bs=1048576 2>/dev/null & w=$!
j=$((1-j))
done
[ -z "$w" ] || wait $w
}
i() {
if [ -n "$fb" ]; then h="bs=8 count=1 $fb"; else h="bs=1 count=8"; fi
while l=$(dd $h 2>/dev/null); do
l=${l##* }
case $l in ''|0|*[!0-9]*) break;; esac
if [ -n "$fb" ]; then x="bs=$l count=1 $fb"; else x="bs=1 count=$l"; fi
if [ "$m" = b ]; then dd $x 2>/dev/null | base64 -d; else dd $x 2>/dev/null; fi
done
}
e O <"$d/O" & o=$!
e E <"$d/E" & q=$!
r R
p=
if [ "$m" = n ]; then
"$@" </dev/null >"$d/O" 2>"$d/E"
s=$?
else
exec 3<&0
i <&3 >"$d/i" 3<&- & p=$!
"$@" <"$d/i" >"$d/O" 2>"$d/E" 3<&-
s=$?
fi
wait $o $q
[ -z "$p" ] || kill $p 2>/dev/null
r "X$s"
exit $s
"""

# Interactive sessions: the command owns the PTY (no stty, no framing); afterwards an OSC
# sequence carries the status, which terminals ignore if it ever leaks to the screen.
INTERACTIVE_SCRIPT = r"""n=$1
shift
if [ $# -eq 0 ]; then
if command -v bash >/dev/null 2>&1; then set -- bash -l; else set -- sh -l; fi
fi
"$@"
s=$?
printf '\033]7770;%s;%d\007' "$n" "$s"
exit $s
"""

# Why each tool is needed, for RemoteSetupError messages.
_PURPOSE = {
    "stty": "switching the terminal to raw mode so bytes pass unchanged",
    "mktemp": "a private temporary directory for its pipes",
    "mkfifo": "the pipes that keep stdin, stdout and stderr apart",
    "dd": "reading output and input in chunks",
    "base64": "carrying exact binary output through the terminal",
    "rm": "removing its temporary directory afterwards",
}
_SETUP_HINT = (
    "add coreutils or busybox to the image (or a debug sidecar that has them); "
    "an interactive session needs only sh"
)


def new_nonce() -> str:
    """A fresh random session nonce (64 bits, hex) that marks this session's records."""
    return secrets.token_hex(8)


def build_oneoff_command(
    argv: Sequence[str], *, nonce: str, stdin_mode: StdinMode, compress: bool
) -> str:
    """Build the ExecuteCommand ``command`` for a framed one-off command.

    Args:
        argv: the command and its arguments, passed to the remote side exactly.
        nonce: the session nonce (see :func:`new_nonce`), also given to the decoder.
        stdin_mode: ``"raw"`` for length-prefixed raw chunks (8-bit clean transport),
            ``"base64"`` for base64 chunks (official plugin), ``"none"`` for EOF at once.
        compress: compress output chunks (bzip2, else gzip) when the tool exists remotely
            and it makes the chunk smaller.

    Returns:
        The command string; ``shlexgo.split`` of it yields ``sh -c <script> ...``.

    Raises:
        ValueError: empty argv, a word containing NUL (exec cannot pass it) or a lone
            surrogate (not UTF-8), or a bad nonce.
    """
    words = _checked_argv(argv)
    flags = [_checked_nonce(nonce), _STDIN_FLAG[stdin_mode], "z" if compress else "-"]
    return shlexgo.join(["sh", "-c", ONEOFF_SCRIPT, SCRIPT_NAME, *flags, *words])


def build_interactive_command(argv: Sequence[str] | None, *, nonce: str) -> str:
    """Build the ``command`` for an interactive session ending with an exit marker.

    Args:
        argv: what to run in the PTY; ``None`` runs ``bash -l`` if present, else ``sh -l``.
        nonce: the session nonce, also given to :class:`ExitMarkerFilter`.

    Returns:
        The command string.

    Raises:
        ValueError: an empty argv, a word containing NUL, or a bad nonce.
    """
    words = [] if argv is None else _checked_argv(argv)
    nonce = _checked_nonce(nonce)
    return shlexgo.join(["sh", "-c", INTERACTIVE_SCRIPT, SCRIPT_NAME, nonce, *words])


def setup_error(tool: str) -> RemoteSetupError:
    """The error to raise for a :class:`~ecs_exec.remote.events.SetupFailed` record."""
    if tool == "tty":
        return RemoteSetupError(
            "the remote command has no terminal to switch to raw mode",
            hint="ECS Exec sessions always have one; is this really an ECS Exec agent?",
        )
    if tool == "tmpdir":
        return RemoteSetupError(
            "the container has no writable temporary directory ($TMPDIR, /tmp, /dev/shm, "
            "/var/tmp), which ecs-exec needs for its pipes",
            hint="mount a writable volume at /tmp (e.g. a bind mount on a read-only root)",
        )
    purpose = _PURPOSE.get(tool, "its remote framing")
    return RemoteSetupError(
        f"the container has no {tool!r}, which ecs-exec needs for {purpose}", hint=_SETUP_HINT
    )


def _checked_nonce(nonce: str) -> str:
    if not _NONCE.fullmatch(nonce):
        raise ValueError(f"nonce must be 8-64 characters of [A-Za-z0-9_-], got {nonce!r}")
    return nonce


def _checked_argv(argv: Sequence[str]) -> list[str]:
    if isinstance(argv, str):  # a lone string would be split into characters
        raise TypeError("argv must be a sequence of words, not a string")
    words = list(argv)
    if not words:
        raise ValueError("argv must name a command")
    if any("\x00" in word for word in words):
        raise ValueError("argv words cannot contain NUL bytes")
    return words
