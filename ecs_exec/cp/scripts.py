"""The container side of ``ecs-exec cp``: two small POSIX sh scripts, and their answers.

Each copy is one one-off command (``ecs_exec.remote`` frames it: exact stdout, streamed
stdin); the scripts below are its argv, ``sh -c SCRIPT ecs-exec-cp ARGS...``. They report on
stderr in lines ``ecs-exec-cp: <letter> ...`` (parsed by :func:`parse_report`); anything else
on stderr is a tool's own message (``tar: ...: Permission denied``), kept to explain an error.

Download (``DOWNLOAD_SCRIPT MODE PATH``, MODE ``f`` file or ``r`` recursive): checks PATH,
then writes on stdout a header line, ``f SIZE MODE MTIME`` (``-`` where ``stat`` is missing)
or ``d``, followed by the file's bytes or a tar stream of the directory's contents
(``tar -cf - -C PATH .``). The bytes go through ``tee /dev/fd/4`` (fd 4 is the script's
stdout) into the checker: the first of sha256sum, sha1sum, md5sum, else ``wc -c``; so the
digest covers exactly the bytes sent, read once. ``H TOOL VALUE`` reports it (``H none`` when
neither tee nor /dev/fd is there: then nothing is verified).

Upload (``UPLOAD_SCRIPT MODE DEST NAME SIZE SHA256 MD5 PRESERVE FMODE MTIME TOUCH``): the
data arrives on stdin (a file's bytes, or a tar stream of a directory's contents made by the
client). DEST is resolved as cp does (an existing directory receives NAME inside it), then a
temporary ``.ecs-exec-cp.XXXXXX`` is made in the destination's directory, filled (``tee``
into the checker, or ``tar -xpof`` in it), checked against SIZE and the digest the client
computed beforehand (for the tool the container has: sha256sum, else md5sum, else the size
alone, reported as ``H wc``; ``H none`` when a tree was not checked at all), given FMODE
and MTIME, and renamed over the destination (``D`` reports success). A failed write is
``E full`` when ``df`` shows under 64 KiB left (BusyBox's tee says "I/O error" for a full
disk), else ``E write``. A directory copied onto an existing directory is merged into it
entry by entry, each entry renamed into place.

Cleanup of the temporary: SIGINT, SIGTERM and SIGHUP (the client's interrupt) run a trap
that removes it. TerminateSession kills the process group with SIGKILL, which no trap sees
(docs/agent.md#6-end-of-session), so where ``setsid`` exists the work runs as the first
stage of a pipeline whose last stage is a watchdog in a session of its own: it learns the
temporary's name on the pipe, waits for the pipe's end (the kernel closes it when the
killed processes die) and removes the name. After a rename that name no longer exists.

Exit statuses of both scripts: 0 done, 3 a reported error (``E KIND [DETAIL]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ecs_exec.errors import UsageError

#: ``$0`` of the scripts (shown by ``ps`` in the container).
SCRIPT_NAME = "ecs-exec-cp"
#: Prefix of the scripts' report lines on stderr.
REPORT_PREFIX = b"ecs-exec-cp: "
#: Prefix of the temporary names the scripts (and the local side) create.
TEMP_PREFIX = ".ecs-exec-cp."

# Kept short and comment-free: both travel in an ExecuteCommand call, inside the framing.
_COMMON = r"""q() { printf 'ecs-exec-cp: %s\n' "$*" >&2; }
e() { q "E $*"; exit 3; }
"""

DOWNLOAD_SCRIPT = (
    _COMMON
    + r"""m=$1 p=$2
exec 4>&1
case $p in */) [ -d "$p" ] || [ ! -e "${p%/}" ] || e notdir;; esac
[ -e "$p" ] || { [ -L "$p" ] && e dangling; e nofile; }
[ -d "$p" ] && [ "$m" = f ] && e isdir
[ -r "$p" ] || e perm
C='wc -c'
for t in sha256sum sha1sum md5sum; do command -v $t >/dev/null 2>&1 && { C=$t; break; }; done
command -v tee >/dev/null 2>&1 && [ -e /dev/fd/4 ] || C=
if [ -d "$p" ]; then
command -v tar >/dev/null 2>&1 || e notar
[ -x "$p" ] || e perm
printf 'd\n'
g() { tar -cf - -C "$p" . || q "E read"; }
else
x='- - -'
command -v stat >/dev/null 2>&1 && x=$(stat -L -c '%s %a %Y' "$p" 2>/dev/null) || x='- - -'
printf 'f %s\n' "$x"
g() { cat "$p" || q "E read"; }
fi
if [ -z "$C" ]; then g; q "H none"; exit 0; fi
r=$(g | tee /dev/fd/4 | $C)
set -- $r
q "H ${C%% *} $1"
"""
)

UPLOAD_SCRIPT = (
    _COMMON
    + r"""m=$1 p=$2 b=$3 z=$4 k=$7 o=$8 t=$9 T=${10}
C= x= N=
command -v sha256sum >/dev/null 2>&1 && C=sha256sum x=$5
[ -n "$C" ] || ! command -v md5sum >/dev/null 2>&1 || C=md5sum x=$6
f=$p
if [ -d "$p" ]; then
[ -n "$b" ] || e isdir "$p"
f=${p%/}/$b
else
case $p in */) [ -e "${p%/}" ] && e notdir "$p"; e nodir "$p";; esac
fi
case $f in */*) d=${f%/*}; d=${d:-/};; *) d=.;; esac
[ -d "$d" ] || { [ -e "$d" ] && e notdir "$d"; e nodir "$d"; }
if [ "$m" = f ]; then [ -d "$f" ] && e isdir "$f"
else
[ -e "$f" ] && [ ! -d "$f" ] && e notdir "$f"
command -v tar >/dev/null 2>&1 || e notar
fi
[ -w "$d" ] && [ -x "$d" ] || e perm "$d"
F() {
set -- "${1:-$d}" $(df -Pk "$d" 2>/dev/null | tail -n 1)
[ -n "$5" ] && [ "$5" -lt 64 ] 2>/dev/null && e full "$1"
return 0
}
M() {
for X in "$1"/* "$1"/.[!.]* "$1"/..?*; do
[ -e "$X" ] || [ -L "$X" ] || continue
y=$2/${X##*/}
if [ -d "$X" ] && [ ! -L "$X" ] && [ -d "$y" ] && [ ! -L "$y" ]; then (M "$X" "$y") || return 1
elif [ -d "$y" ] && [ ! -L "$y" ]; then q "E isdir $y"; return 1
else mv -f "$X" "$y" || return 1
fi
done
}
u() {
w=
trap '[ -z "$w" ] || rm -rf "$w"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
if [ "$m" = f ]; then w=$(mktemp "$d/.ecs-exec-cp.XXXXXX") || e perm "$d"
else w=$(mktemp -d "$d/.ecs-exec-cp.XXXXXX") || e perm "$d"
fi
echo "${w##*/}"
exec 9>&1 >/dev/null
V=
command -v tee >/dev/null 2>&1 && [ -e /dev/fd/0 ] && V=1
if [ "$m" = f ]; then
if [ -n "$V" ]; then r=$(tee "$w" | ${C:-wc -c})
else cat >"$w" || { F; e write; }; r=$(${C:-wc -c} <"$w"); fi
set -- $(wc -c <"$w")
[ "$1" = "$z" ] || { F; e short "$1"; }
set -- $r
[ -z "$C" ] || [ "$1" = "$x" ] || e mismatch
[ "$k" = p ] || o=$(printf %o $((0$o & ~0$(umask))))
chmod "$o" "$w" || e perm "$w"
else
if [ -n "$V" ]; then
r=$({ { tee /dev/fd/5 | ${C:-wc -c} >&6; } 5>&1 | tar -xpof - -C "$w" >&2; } 6>&1) ||
{ F; e write; }
else tar -xpof - -C "$w" >&2 || { F; e write; }; r= C= x= N=none; fi
set -- $r
if [ -n "$C" ]; then [ "$1" = "$x" ] || e mismatch
elif [ -n "$r" ]; then [ "$1" = "$z" ] || e short "$1"
fi
fi
if [ "$k" = p ]; then
touch -d "@$t" "$w" 2>/dev/null || TZ=UTC0 touch -t "$T" "$w" 2>/dev/null || q "W mtime"
fi
if [ "$m" = r ] && [ -d "$f" ]; then M "$w" "$f" || e merge "$f"; rm -rf "$w"
else mv -f "$w" "$f" || { F "$f"; e write "$f"; }
fi
w=
q "H ${N:-${C:-wc}}"
q "D"
}
if command -v setsid >/dev/null 2>&1; then
i=0
trap i=130 INT
trap i=143 TERM
trap i=129 HUP
u | setsid sh -c 'read -r n || exit 0; cat >/dev/null; rm -rf "$1/$n"' sh "$d" >/dev/null 2>&1
exit $i
fi
u >/dev/null
"""
)


def download_argv(path: str, *, recursive: bool) -> list[str]:
    """The one-off argv that sends ``path`` (see :data:`DOWNLOAD_SCRIPT`)."""
    return ["sh", "-c", DOWNLOAD_SCRIPT, SCRIPT_NAME, "r" if recursive else "f", path]


@dataclass(frozen=True)
class UploadSpec:
    """What the upload script needs to know before the data arrives.

    Args:
        dest: the remote destination as the user wrote it.
        name: the name to create inside ``dest`` when it is a directory ("" for stdin).
        size: bytes of data that will come on stdin.
        sha256, md5: their digests (hex).
        tree: the data is a tar stream of a directory's contents.
        preserve: set ``mtime`` (the mode is always set, see ``mode``).
        mode: the file's permission bits (a tree carries its own).
        mtime: seconds since the epoch.
    """

    dest: str
    name: str
    size: int
    sha256: str
    md5: str
    tree: bool
    preserve: bool
    mode: int
    mtime: int


def upload_argv(spec: UploadSpec) -> list[str]:
    """The one-off argv that receives the data (see :data:`UPLOAD_SCRIPT`)."""
    import time

    touch_t = time.strftime("%Y%m%d%H%M.%S", time.gmtime(spec.mtime))
    return [
        "sh",
        "-c",
        UPLOAD_SCRIPT,
        SCRIPT_NAME,
        "r" if spec.tree else "f",
        spec.dest,
        spec.name,
        str(spec.size),
        spec.sha256,
        spec.md5,
        "p" if spec.preserve else "-",
        f"{spec.mode & 0o7777:o}",
        str(spec.mtime),
        touch_t,
    ]


Kind = Literal["f", "d"]
_HEADER = re.compile(rb"(f) (\d+|-) ([0-7]+|-) (-?\d+|-)\n|(d)\n")
#: The longest header line a download starts with.
MAX_HEADER = 64


@dataclass(frozen=True)
class Header:
    """The first line of a download: a file (with what ``stat`` said) or a directory."""

    kind: Kind
    size: int | None = None
    mode: int | None = None
    mtime: int | None = None


def parse_header(line: bytes) -> Header:
    """Parse a download's header line (including its newline).

    Raises:
        ValueError: not a header.
    """
    match = _HEADER.fullmatch(line)
    if match is None:
        raise ValueError(f"not a cp header: {line[:MAX_HEADER]!r}")
    if match.group(5):
        return Header("d")

    def number(raw: bytes, base: int = 10) -> int | None:
        return None if raw == b"-" else int(raw, base)

    return Header("f", number(match.group(2)), number(match.group(3), 8), number(match.group(4)))


@dataclass
class Report:
    """What a script said on stderr.

    Attributes:
        error: the first ``E`` line's kind and detail, if any.
        checker: the tool that checked the data (``sha256sum``, ``wc``, ``none``...).
        value: its result (a hex digest, or a byte count for ``wc``).
        done: the upload script renamed its temporary into place.
        warnings: ``W`` kinds (``mtime``: touch could not set it).
        tool_lines: other stderr lines (tools' own messages), at most :data:`MAX_TOOL_LINES`.
    """

    error: tuple[str, str] | None = None
    checker: str | None = None
    value: str | None = None
    done: bool = False
    warnings: list[str] = field(default_factory=list)
    tool_lines: list[str] = field(default_factory=list)


MAX_TOOL_LINES = 20


def parse_report(stderr: bytes) -> Report:
    """Parse the scripts' stderr (report lines and tools' messages)."""
    report = Report()
    for raw in stderr.splitlines():
        if not raw.startswith(REPORT_PREFIX):
            text = raw.decode("utf-8", "replace").strip()
            if text and len(report.tool_lines) < MAX_TOOL_LINES:
                report.tool_lines.append(text)
            continue
        letter, _, rest = (
            raw[len(REPORT_PREFIX) :].decode("utf-8", "surrogateescape").partition(" ")
        )
        if letter == "E" and report.error is None:
            kind, _, detail = rest.partition(" ")
            report.error = (kind, detail)
        elif letter == "H":
            checker, _, value = rest.partition(" ")
            report.checker, report.value = checker, value or None
        elif letter == "D":
            report.done = True
        elif letter == "W":
            report.warnings.append(rest)
    return report


def check_remote_word(word: str, what: str) -> str:
    """A path or name for the remote argv: ExecuteCommand carries text, so it must be UTF-8.

    Raises:
        UsageError: it holds bytes that are not UTF-8 (or a NUL).
    """
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"the {what} {word.encode('utf-8', 'surrogateescape')!r} is not valid UTF-8, "
            "which ExecuteCommand cannot carry",
            hint="copy its parent directory with -r (names inside a tree may be any bytes)",
        ) from None
    if "\x00" in word:
        raise UsageError(f"the {what} {word!r} contains a NUL byte")
    return word
