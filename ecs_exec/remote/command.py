"""The ExecuteCommand ``command`` strings: a framing ``sh`` script plus the user's argv.

The agent splits ``command`` with google/shlex and execs it in a PTY with no shell, and it
sends no exit status. So a one-off command is wrapped as::

    sh -c '<ONEOFF_SCRIPT>' ecs-exec <nonce> <r|b|n> <flags> <argv...>

with every word quoted by :func:`ecs_exec.remote.shlexgo.quote`, so the script receives the user's
argv exactly (``"$@"``) without any shell re-parsing it. ``<flags>`` holds ``z`` (compress
output) and ``r`` (output records may carry raw bytes), or is ``-``.

Theory of operation of ``ONEOFF_SCRIPT`` (POSIX sh; tested with dash, bash and busybox ash):

1. Check the tools it needs with ``command -v``; print ``M<tool>`` and exit when one is missing.
   Compression is optional: bzip2 when present (on log text it is about twice as dense as
   gzip, and every byte counts at the agent's ~0.93 MB/s), else gzip; both need wc.
2. ``stty raw -echo``: the PTY then passes input bytes unchanged, echoes nothing and adds no CR
   to output. Input arriving earlier would be echoed and cooked, so the script prints ``R``
   (ready) only now and the client sends no stdin before it sees it.
3. A private ``mktemp -d`` directory holds FIFOs for stdin/stdout/stderr and the encoders'
   credits (their announcements go through the pipes of a pipeline). It is removed before the
   exit record is printed (below), and by an EXIT trap on the other ways out (HUP turned into
   an exit so the trap runs). A cancelled session (TerminateSession, the idle timeout) SIGKILLs
   the script itself, so no trap of its own runs; the agent then closes the PTY and the kernel
   hangs up the script's helpers, and the stdin reader, which lives until the end, removes the
   directory on that SIGHUP.
4. Signals: the script and every helper it starts ignore SIGINT and SIGTERM (ignored
   dispositions are inherited, so the helpers are immune from their first instruction);
   only while the command runs does the script catch them instead (a caught signal is reset
   to the default in the command it execs). So an interrupt can be sent to the whole
   process group, as a terminal's Ctrl-C is, and only the command and its children feel it.
5. Stdin reader ``i``: each frame is an 8-byte header and a body (see
   :mod:`ecs_exec.remote.encoder`); both are read with ``dd bs=<n> count=1 iflag=fullblock``,
   which reads exactly n bytes and never past them. The obvious tools over-read from a raw tty:
   bash's ``read`` builtin buffers when its input is a terminal, busybox ``head -c`` reads
   through stdio. A dd without ``iflag=fullblock`` refuses the flag before reading anything, so
   when the first header read fails with nothing read, the reader falls back to ``bs=1``, exact
   but slow. In base64 mode the length counts base64 characters and each body goes through
   ``base64 -d``. Length ``0`` means EOF: the command's stdin is closed, but the reader goes
   on, because control frames come until the end (in every stdin mode): ``h`` is answered with
   an ``H`` record, ``i`` sends SIGINT to the process group and SIGTERM 2 s later
   (:data:`INTERRUPT_GRACE`), ``a`` (the exit confirmation) ends the reader. A body whose
   command has gone (EPIPE) is still read whole, so the framing stays in step.
6. The command runs as ``(exec "$@")`` with its stdio on the FIFOs: ``exec`` looks only at
   PATH, as the agent would, so the script's own functions never shadow a command. The
   script looks the command up first and prints ``ecs-exec: NAME: command not found``
   (127) or ``...: Permission denied`` (126) itself, rather than sh's message with the
   wrapper's line number. ``$?`` is then the shell's status: 128+N for signal N.
7. Each output stream has a three-stage encoder, the pipeline ``a | e | f``, so that reading,
   compressing and the agent's slow drain of the tty all overlap, and compression works on
   large units (bzip2 packs log text ~9x in 64 KiB pieces, ~11.4x in 900 kB ones):

   * ``a`` reads the FIFO with ``dd bs=65536 count=1`` (one read(): whatever the pipe holds,
     so output streams as produced) into numbered chunk files in the private directory and
     announces each finished chunk with a line to ``e``. It waits for a credit from ``e``
     (a line on a FIFO) before reading past 32 outstanding chunks: disk stays bounded
     and a fast producer is paused, not buffered without limit.
   * ``e`` takes every announced chunk, up to ``FRAME_CHUNKS`` (14: 896 KiB, about
     bzip2's 900 kB block), compresses them as one unit and builds one frame file: with a
     slow producer that is a frame per chunk at once, with a fast one large batches. Chunk
     ``k`` is known complete once file ``k+1`` exists, so ``e`` reads further announcements
     (with the ``read`` builtin: no process per announcement) only when that cannot block.
     One ``wc`` gives the batch's size. A batch of 1 KiB or more is compressed when that
     makes it smaller; a smaller one is not tried (the transfer it could save is shorter
     than running the compressor). After a batch bzip2/gzip could not shrink, the next 8
     chunks are sent without trying (16 after further failures), and then a sample (the
     batch's first 8 KiB) is tried before the whole batch, so incompressible data costs
     little CPU and compressible data is noticed again within about 2 MiB. ``-w 0`` drops
     base64's line breaks where supported (tried on the first frame, not probed up front).
     Sent chunk files are removed 16 at a time, the rest with the directory.

     With the ``r`` flag, and wc, tr, grep and md5sum all present, a frame of at least
     2 KiB travels as raw bytes with its length and MD5 in the header, unless it contains
     ``EF BF BD``, the one sequence the agent alters (docs/output-records.md#3-raw-records):
     ``tr`` turns NUL into LF first, because BusyBox grep stops at a NUL inside a line and
     neither byte is part of the sequence. Any other frame is base64 as above, except that
     an uncompressed batch holding the sequence is sent read by read, each read raw or
     base64 on its own (several records in one frame file, still one write).
   * ``f`` writes each frame file with one ``dd`` write: a write() to a tty holds the tty's
     write lock for its whole length, so stdout and stderr frames never interleave (``bs``
     of 4 MiB exceeds any frame). Frame files form a ring of 8; up to 8 well-compressed
     frames (at least 4:1, so at most ~0.3 MB each) may wait, so compression runs ahead
     during the agent's 1 s initial wait, but at most 2 others (up to ~1.2 MB each). With the
     32 chunk files and 16 sent ones not yet removed, that bounds the disk used per stream to
     about 8 MB.

   Processes cost more than anything else in a short command: a one-off ``echo`` starts
   about 20 (``scripts/bench.py`` runs 200 at once), so the script probes nothing it can
   find out on first use (dd's ``iflag=fullblock``, base64's ``-w 0``) and runs ``sleep``,
   ``rm`` and the compressors only when they have something to do.

8. The exit handshake: wait for the encoders, remove the private directory, print
   ``X<status>``, then wait until the reader has read the client's confirmation (at most
   :data:`CONFIRM_WAIT` seconds: a client that vanished does not keep the script for long), and
   exit with the status. The bound is a ``sleep`` the script waits for; the reader kills it
   when the confirmation comes (it learns its pid through the FIFO ``c``), so nothing is left
   running (it sends SIGPIPE, the one signal death shells do not report). Under bash (and
   zsh or ksh, untested) the reader repeats the SIGPIPE each second until the ``sleep`` is
   gone: bash with an EXIT trap catches SIGPIPE, and its forked child keeps that handler until
   it execs ``sleep``, so a signal that arrives in between is swallowed (seen on a loaded
   machine when the confirmation came back at once). dash and BusyBox leave SIGPIPE at its
   default, so one signal does.
   The script's exit hangs up the reader in its pause (its stderr is /dev/null there, or the
   shell would report the hung-up ``sleep``). The wait matters: the
   script is the session leader of the PTY, and when it exits the kernel hangs the terminal up,
   and a pty hangup flushes output the reader has not read yet (``pty_flush_buffer``), so a
   record written just before exiting could vanish on a busy machine, whatever pause came
   before the exit. It also keeps the agent from closing the session (it does that 2 s after
   the PTY's end) while output lost in a dropped connection is still being resent. Since the
   directory is gone before the record, a session terminated right after it leaves nothing
   behind. The interactive wrapper does the same after its exit marker
   (:mod:`ecs_exec.remote.marker`).

The records are described in :mod:`ecs_exec.remote.decoder`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Literal

import ecs_exec.remote.shlexgo as shlexgo
from ecs_exec.errors import RemoteSetupError

StdinMode = Literal["raw", "base64", "none"]

#: Value of ``$0`` in the wrapper scripts; shows up in ``ps`` and in sh error messages.
SCRIPT_NAME = "ecs-exec"
#: Tools the one-off script cannot do without (gzip and wc are optional).
REQUIRED_TOOLS = ("stty", "mktemp", "mkfifo", "dd", "base64", "rm", "sleep")
#: Tools used when present: bzip2 or else gzip compresses output, wc compares sizes.
OPTIONAL_TOOLS = ("bzip2", "gzip", "wc")
#: Largest chunk one encoder read (dd bs) can yield.
OUTPUT_CHUNK = 65536
#: Most chunks one output frame gathers (the script's ``14``: 896 KiB, about bzip2's
#: 900 kB block, which packs log text best); the decoder bounds frames by it.
FRAME_CHUNKS = 14
#: Largest decompressed output frame.
OUTPUT_FRAME = FRAME_CHUNKS * OUTPUT_CHUNK
#: Seconds the one-off script waits for the client's confirmation of the exit record (its
#: ``sleep 60``). Longer than a resumed connection takes to deliver what a drop lost (the
#: agent resends one message per 100 ms), short enough not to linger.
CONFIRM_WAIT = 60
#: Seconds of silence after which the interactive wrapper stops waiting for the confirmation
#: of its exit marker (``stty ... time 250``: VTIME is in tenths and at most 255).
MARKER_CONFIRM_WAIT = 25
#: Seconds between the SIGINT and the SIGTERM of an interrupt (the script's ``sleep 2``).
INTERRUPT_GRACE = 2

_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
_STDIN_FLAG: dict[StdinMode, str] = {"raw": "r", "base64": "b", "none": "n"}

# Kept free of comments and newlines where cheap: it travels in every ExecuteCommand call.
ONEOFF_SCRIPT = r"""n=$1 m=$2 z=$3
shift 3
r() { printf '\n@%s:%s\n' "$n" "$1"; }
for t in stty mktemp mkfifo dd base64 rm sleep; do
command -v $t >/dev/null 2>&1 || { r "M$t"; exit 127; }
done
c= R= Q=
if [ "${z#*r}" != "$z" ]; then
R=1
for t in wc tr grep md5sum; do command -v $t >/dev/null 2>&1 || R=; done
fi
if [ "${z#*z}" != "$z" ] && command -v wc >/dev/null 2>&1; then
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
trap '' INT TERM
mkfifo "$d/i" "$d/c" "$d/O" "$d/E" "$d/Oc" "$d/Ec" "$d/Ow" "$d/Ew" || { r Mtmpdir; exit 127; }
exec 8<>"$d/c"
W='-w 0'
B() { base64 $W 2>/dev/null || { [ -n "$W" ] && W= && base64; }; }
a() {
cd "$d" || exit
k=0
while { [ $k -lt 32 ] || read -r u <&5; } &&
dd bs=65536 count=1 of=$1$k 2>/dev/null && [ -s $1$k ]; do
echo
k=$((k+1))
done
}
e() {
cd "$d" || exit
v=$1 h=0 t=0 k=0 j=0 o=0 f=1 s=8 N=0 D=
while :; do
if [ $h -eq $t ]; then read -r x || break; t=$((t+1)); fi
while [ $((t-h)) -lt 14 ] && [ -e $v$((t+1)) ] && read -r x; do t=$((t+1)); done
m=$((t-h))
[ $m -le 14 ] || m=14
[ $k -le 0 ] || [ $m -le $k ] || m=$k
l= u=$h
while [ $u -lt $((h+m)) ]; do l="$l $v$u" u=$((u+1)); done
g=b p=2 x= a=0
if [ -n "$c$R" ]; then
set -- $(wc -c $l)
eval "a=\${$(($#-1))}"
x=$a
fi
if [ -z "$c" ] || [ $a -lt 1024 ]; then :
elif [ $k -gt 0 ]; then k=$((k-m))
else
k=0
set -- $l
if [ $f = 1 ] && [ $m -gt 1 ]; then
u=$(dd bs=8192 count=1 <$1 2>/dev/null | $c -c | wc -c)
[ $u -lt 7680 ] || k=-1
fi
if [ $k = 0 ] && if [ $m = 1 ]; then $c -c <$1; else cat $l | $c -c; fi >${v}z &&
set -- $(wc -c ${v}z); then
if [ $1 -lt $a ]; then g=$y f=0 s=8 x=$1
[ $(($1*4)) -gt $a ] || p=8
else f=1 k=-1
fi
else k=-1
fi
[ $k -ge 0 ] || { k=$s; [ $s -ge 16 ] || s=$((s*2)); }
fi
while [ $o -ge $p ]; do read -r u <&6; o=$((o-1)); done
if [ $g = b ]; then set -- $l; else set -- ${v}z; fi
b "$@"
case $?$g$# in
0*) { r "$v$g=$x"; cat "$@"; printf .; } >$v.$((j%8));;
[12]b1) { r "${v}b"; B <$1; printf .; } >$v.$((j%8));;
2b*) for u in $l; do
x=
if b $u; then { r "${v}b=$x"; cat $u; printf .; }
else { r "${v}b"; B <$u; printf .; }
fi
done >$v.$((j%8));;
*b*) { r "${v}b"; cat $l | B; printf .; } >$v.$((j%8));;
*) { r "$v$g"; B <${v}z; printf .; } >$v.$((j%8));;
esac
D="$D$l" N=$((N+m))
[ $N -lt 16 ] || { rm -f $D; D= N=0; }
printf '\n%.0s' $l >&5
echo
j=$((j+1)) o=$((o+1)) h=$((h+m))
done
}
b() {
[ -n "$R" ] || return 1
if [ -z "$x" ]; then
x=$(cat "$@" | wc -c) || return 1
set -- $x "$@"
x=$1
shift
fi
[ "$x" -ge 2048 ] || return 1
[ -n "$Q" ] || Q=$(printf '\357\277\275')
[ "$(cat "$@" | tr '\000' '\n' | LC_ALL=C grep -c -F -e "$Q")" = 0 ] || return 2
set -- $(cat "$@" | md5sum)
[ ${#1} = 32 ] && x=$x,$1
}
f() {
cd "$d" || exit
j=0
while read -r u; do
dd if=$1.$((j%8)) bs=4194304 2>/dev/null
echo >&6
j=$((j+1))
done
}
i() {
trap '[ ! -d "$d" ] || rm -rf "$d" || { sleep 1; rm -rf "$d"; }; exit 129' HUP
fb=iflag=fullblock h="bs=8 count=1 iflag=fullblock"
while l=$(dd $h 2>/dev/null) ||
{ [ -n "$fb" ] && [ -z "$l" ] && fb= h="bs=1 count=8" && l=$(dd $h 2>/dev/null); }; do
l=${l##* }
case $l in
a) break;;
h) r H >&7;;
i) kill -s INT 0
(sleep 2; kill -s TERM 0) </dev/null >/dev/null 2>&1 7>&- 8<&- & u=$!
;;
0) exec >/dev/null;;
''|*[!0-9]*) break;;
*) if [ -n "$fb" ]; then x="bs=$l count=1 $fb"; else x="bs=1 count=$l"; fi
if [ "$m" = b ]; then dd $x 2>/dev/null | { base64 -d 2>/dev/null || cat >/dev/null; }
elif [ -n "$fb" ]; then dd $x 2>/dev/null
else dd $x 2>/dev/null | { cat || cat >/dev/null; }
fi;;
esac
done
[ -z "$u" ] || kill -s PIPE $u 2>/dev/null
read -r u <&8 && kill -s PIPE $u && { [ -z "$BASH_VERSION$ZSH_VERSION$KSH_VERSION" ] ||
while sleep 1 && kill -s PIPE $u; do :; done; } 2>/dev/null
}
w() {
case $1 in
*/*) [ -f "$1" ] && [ -x "$1" ] && return 0; [ -e "$1" ] && return 126; return 127;;
esac
x=127 b=$IFS
IFS=:
set -f
for t in ${PATH-/usr/local/bin:/usr/bin:/bin}; do
t=${t:-.}/$1
[ -f "$t" ] || continue
[ -x "$t" ] && x=0 && break
x=126
done
IFS=$b
set +f
return $x
}
a O <"$d/O" 5<>"$d/Oc" | e O 5<>"$d/Oc" 6<>"$d/Ow" | f O 6<>"$d/Ow" & o=$!
a E <"$d/E" 5<>"$d/Ec" | e E 5<>"$d/Ec" 6<>"$d/Ew" | f E 6<>"$d/Ew" & q=$!
k=$d/i
[ "$m" != n ] || k=/dev/null
exec 3<&0
i <&3 3<&- 7>&1 >"$k" & p=$!
exec 3<&-
r R
trap : INT TERM
if w "$1"; then (exec "$@")
else
s=$?
[ $s = 127 ] && t='command not found' || t='Permission denied'
printf '%s: %s: %s\n' "$0" "$1" "$t" >&2
(exit $s)
fi <"$k" >"$d/O" 2>"$d/E" 8<&-
s=$?
trap '' INT TERM
for t in $o $q; do
while kill -0 $t 2>/dev/null; do wait $t; done
done
rm -rf "$d"
trap - EXIT
sleep 60 </dev/null >/dev/null 2>&1 & k=$!
echo $k >&8
r "X$s"
while kill -0 $k 2>/dev/null; do wait $k; done
exit $s
"""

# Interactive sessions: the command owns the PTY (no stty, no framing); afterwards an OSC
# sequence carries the status, which terminals ignore if it ever leaks to the screen, and the
# wrapper waits for the client's confirmation line (see ecs_exec.remote.marker): in raw mode
# with VMIN 0 and VTIME 25 s, a read gets nothing after 25 s of silence, which ends the wait
# (no timer process to clean up). Only sh is required: without stty the line is read cooked
# (the client no longer shows anything) and the wait is bounded by the session's end.
INTERACTIVE_SCRIPT = r"""n=$1
shift
if [ $# -eq 0 ]; then
if command -v bash >/dev/null 2>&1; then set -- bash -l; else set -- sh -l; fi
fi
"$@"
s=$?
stty raw -echo min 0 time 250 2>/dev/null
printf '\033]7770;%s;%d\007' "$n" "$s"
while read -r l; do
case $l in *"$n"*) break;; esac
done
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
    "sleep": "bounding its waits (for the exit confirmation, before SIGTERM)",
}
_SETUP_HINT = (
    "add coreutils or busybox to the image (or a debug sidecar that has them); "
    "an interactive session needs only sh"
)


def new_nonce() -> str:
    """A fresh random session nonce (64 bits, hex) that marks this session's records."""
    return secrets.token_hex(8)


def build_oneoff_command(
    argv: Sequence[str],
    *,
    nonce: str,
    stdin_mode: StdinMode,
    compress: bool,
    raw_output: bool = False,
) -> str:
    """Build the ExecuteCommand ``command`` for a framed one-off command.

    Args:
        argv: the command and its arguments, passed to the remote side exactly.
        nonce: the session nonce (see :func:`new_nonce`), also given to the decoder.
        stdin_mode: ``"raw"`` for length-prefixed raw chunks (8-bit clean transport),
            ``"base64"`` for base64 chunks (official plugin), ``"none"`` for EOF at once.
        compress: compress output chunks (bzip2, else gzip) when the tool exists remotely
            and it makes the chunk smaller.
        raw_output: let output records carry raw bytes where the agent passes them
            unchanged (docs/output-records.md); only for an 8-bit clean transport (the
            native one, not the official plugin's terminal).

    Returns:
        The command string; ``shlexgo.split`` of it yields ``sh -c <script> ...``.

    Raises:
        ValueError: empty argv, a word containing NUL (exec cannot pass it) or a lone
            surrogate (not UTF-8), or a bad nonce.
    """
    words = _checked_argv(argv)
    letters = ("z" if compress else "") + ("r" if raw_output else "")
    flags = [_checked_nonce(nonce), _STDIN_FLAG[stdin_mode], letters or "-"]
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
