"""The local side of ``ecs-exec cp``: what is sent (a file, spooled stdin, a tar stream made
here) and where received bytes go (a temporary in the destination's directory, renamed into
place only once verified; or stdout).

Everything here runs in plain threads doing blocking I/O (the session loop owns the event
loop); memory stays bounded by :data:`CHUNK` whatever the size.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ecs_exec.cp.scripts import TEMP_PREFIX
from ecs_exec.errors import CopyError, UsageError
from ecs_exec.local.terminal import write_all

CHUNK = 256 * 1024
#: The tools whose results a download can be checked against (the container reports one).
CHECKERS = ("sha256sum", "sha1sum", "md5sum")
#: An upload is checked by sha256sum, else md5sum (the script's choice).
UPLOAD_CHECKERS = ("sha256sum", "md5sum")
_HASHES = {"sha256sum": hashlib.sha256, "sha1sum": hashlib.sha1, "md5sum": hashlib.md5}


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@dataclass
class Progress:
    """Shared between the worker threads and the progress display (plain reads of ints and
    strings are atomic enough for a display)."""

    total: int | None = None
    done: int = 0
    files: int = 0
    current: str = ""
    started: float = field(default_factory=time.monotonic)


class Digests:
    """sha256, sha1 and md5 and the byte count of one stream, computed together."""

    def __init__(self, checkers: tuple[str, ...] = CHECKERS) -> None:
        self.hashes = {name: _HASHES[name]() for name in checkers}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for h in self.hashes.values():
            h.update(data)
        self.size += len(data)

    def value(self, checker: str) -> str:
        """What the container's ``checker`` would print for these bytes."""
        if checker == "wc":
            return str(self.size)
        return self.hashes[checker].hexdigest()


def local_error(exc: OSError, what: str) -> CopyError:
    """A local OSError as one named line."""
    name = exc.filename if exc.filename is not None else what
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return CopyError(f"the local disk is full writing {name}", kind="disk-full")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return CopyError(f"permission denied: {name}", kind="permission")
    if exc.errno == errno.ENOENT:
        return CopyError(f"no such file or directory: {name}", kind="no-such-file")
    if exc.errno == errno.ENOTDIR:
        return CopyError(f"not a directory: {name}", kind="not-a-directory")
    if exc.errno == errno.EISDIR:
        return CopyError(f"is a directory: {name}", kind="is-a-directory")
    return CopyError(f"{what}: {exc.strerror or exc}", kind="local")


# -- sources (upload) ---------------------------------------------------------------------


@dataclass
class Source:
    """Bytes to upload, readable twice (once for the digests, once to send).

    Args:
        name: the name the copy gets inside a destination directory ("" for stdin).
        tree: a tar stream of a directory's contents, else a file's bytes.
        write_to: writes the whole stream to a callable taking chunks.
        mode, mtime: the file's (a tree's top directory's) metadata.
    """

    name: str
    tree: bool
    write_to: Callable[[Callable[[bytes], object], Progress | None], None]
    mode: int
    mtime: int
    cleanup: Callable[[], None] = lambda: None


def open_source(path: str, *, recursive: bool, preserve: bool, stdin_fd: int) -> Source:
    """The source of an upload: a file, a directory (with -r) or stdin (spooled to a
    temporary file first, so that its digest is known before it is sent).

    Raises:
        UsageError: a directory without -r.
        CopyError: the path cannot be read.
    """
    if path == "-":
        return _spooled_stdin(stdin_fd)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise local_error(exc, path) from None
    name = os.path.basename(os.path.normpath(path))
    if stat.S_ISDIR(info.st_mode):
        if not recursive:
            raise UsageError(f"'{path}' is a directory", hint="add -r to copy a directory")
        return _tree_source(path, name, info, preserve)
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        raise local_error(exc, path) from None
    return _file_source(path, name, info.st_mode, int(info.st_mtime))


def _file_source(path: str, name: str, mode: int, mtime: int) -> Source:
    def write_to(out: Callable[[bytes], object], progress: Progress | None) -> None:
        with open(path, "rb", buffering=0) as f:
            while chunk := f.read(CHUNK):
                out(chunk)
                if progress is not None:
                    progress.done += len(chunk)
        if progress is not None:
            progress.files += 1

    return Source(name=name, tree=False, write_to=write_to, mode=mode, mtime=mtime)


def _spooled_stdin(fd: int) -> Source:
    spool = tempfile.NamedTemporaryFile(prefix="ecs-exec-cp-stdin.", delete=False)  # noqa: SIM115
    try:
        with spool:
            while chunk := os.read(fd, CHUNK):
                spool.write(chunk)
    except OSError as exc:
        os.unlink(spool.name)
        raise local_error(exc, "stdin") from None
    source = _file_source(spool.name, "", 0o666 & ~current_umask(), int(time.time()))
    source.cleanup = lambda: _unlink_quietly(spool.name)
    return source


class _Chunker:
    """A write-only file object for tarfile that hands fixed-size chunks on."""

    def __init__(self, out: Callable[[bytes], object], progress: Progress | None) -> None:
        self.out, self.progress, self.buffer = out, progress, bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= CHUNK:
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self.buffer:
            self.out(bytes(self.buffer))
            if self.progress is not None:
                self.progress.done += len(self.buffer)
            self.buffer.clear()


def _tree_source(path: str, name: str, info: os.stat_result, preserve: bool) -> Source:
    now, mask = int(time.time()), current_umask()

    def write_to(out: Callable[[bytes], object], progress: Progress | None) -> None:
        sink = _Chunker(out, progress)

        def member(ti: tarfile.TarInfo) -> tarfile.TarInfo:
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            if not preserve:
                ti.mtime = now
                ti.mode &= ~mask
            if progress is not None:
                progress.current = ti.name[2:] or "."
                progress.files += not ti.isdir()
            return ti

        try:
            with tarfile.open(fileobj=sink, mode="w|", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]
                tar.add(path, arcname=".", recursive=True, filter=member)
        except OSError as exc:
            raise local_error(exc, path) from None
        sink.flush()

    return Source(
        name=name, tree=True, write_to=write_to, mode=info.st_mode, mtime=int(info.st_mtime)
    )


def measure(source: Source) -> Digests:
    """The digests and size of what ``source`` will send."""
    digests = Digests(UPLOAD_CHECKERS)
    source.write_to(digests.update, None)
    return digests


# -- sinks (download) ---------------------------------------------------------------------


class Sink:
    """Where a download's bytes go; ``commit`` once verified, else ``discard``."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """All data arrived (the stream ended)."""

    def commit(self) -> None:
        """Put the copy in place."""

    def discard(self) -> None:
        """Remove what was written (idempotent)."""


class StdoutSink(Sink):
    """Bytes to local stdout as they come: not atomic, verified afterwards."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes) -> None:
        write_all(self.fd, data)


def _temp_in(directory: str, *, is_dir: bool) -> str:
    try:
        if is_dir:
            return tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=directory)
        fd, path = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
        os.close(fd)
        return path
    except OSError as exc:
        raise local_error(exc, directory) from None


class FileSink(Sink):
    """A file written under a temporary name in its directory, renamed when verified."""

    def __init__(self, final: str, *, mode: int | None, mtime: int | None, preserve: bool):
        if os.path.isdir(final):
            raise CopyError(
                f"cannot overwrite directory '{final}' with a file", kind="is-a-directory"
            )
        self.final = final
        self.temp: str | None = _temp_in(os.path.dirname(final) or ".", is_dir=False)
        self.file = open(self.temp, "wb", buffering=0)  # noqa: SIM115
        self.mode = 0o666 & ~current_umask() if mode is None else mode
        if not preserve:
            self.mode &= ~current_umask()
        self.mtime = mtime if preserve else None

    def write(self, data: bytes) -> None:
        try:
            self.file.write(data)
        except OSError as exc:
            raise local_error(exc, self.final) from None

    def finish(self) -> None:
        try:
            self.file.close()
        except OSError as exc:
            raise local_error(exc, self.final) from None

    def commit(self) -> None:
        assert self.temp is not None
        try:
            os.chmod(self.temp, self.mode & 0o7777)
            if self.mtime is not None:
                os.utime(self.temp, (self.mtime, self.mtime))
            os.replace(self.temp, self.final)
        except OSError as exc:
            raise local_error(exc, self.final) from None
        self.temp = None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        if self.temp is not None:
            _unlink_quietly(self.temp)
            self.temp = None


class TreeSink(Sink):
    """A tar stream extracted into a temporary directory beside the destination, which is
    then renamed into place (or, when the destination directory exists, merged into it
    entry by entry, each entry renamed). Fed from a thread by :meth:`extract`."""

    def __init__(self, final: str, *, preserve: bool, progress: Progress | None) -> None:
        if os.path.lexists(final) and not os.path.isdir(final):
            raise CopyError(
                f"cannot overwrite non-directory '{final}' with a directory",
                kind="not-a-directory",
            )
        self.final = final
        self.preserve = preserve
        self.progress = progress
        self.temp: str | None = _temp_in(os.path.dirname(os.path.abspath(final)), is_dir=True)

    def extract(self, stream: tarfile.TarFile) -> None:
        """Extract every member (a thread's whole job); refuses paths that would escape."""
        assert self.temp is not None
        root = os.path.realpath(self.temp)
        now, mask = time.time(), current_umask()
        uid, gid = os.getuid(), os.getgid()

        def member(ti: tarfile.TarInfo, _path: str) -> tarfile.TarInfo:
            target = os.path.realpath(os.path.join(root, os.path.dirname(ti.name)))
            if os.path.isabs(ti.name) or not (target + os.sep).startswith(root + os.sep):
                raise CopyError(
                    f"the archive names a path outside the copy: {ti.name!r}", kind="archive"
                )
            if ti.islnk():
                linked = os.path.realpath(os.path.join(root, ti.linkname))
                if not (linked + os.sep).startswith(root + os.sep):
                    raise CopyError(
                        f"the archive links outside the copy: {ti.linkname!r}", kind="archive"
                    )
            changes: dict[str, object] = {"uid": uid, "gid": gid, "uname": "", "gname": ""}
            if not self.preserve:
                changes.update(mtime=now, mode=ti.mode & ~mask)
            if self.progress is not None:
                self.progress.current = ti.name[2:] if ti.name.startswith("./") else ti.name
                self.progress.files += not ti.isdir()
            return ti.replace(**changes, deep=False)  # type: ignore[arg-type]

        try:
            stream.extractall(self.temp, filter=member)
        except OSError as exc:
            raise local_error(exc, self.final) from None

    def commit(self) -> None:
        assert self.temp is not None
        try:
            if os.path.isdir(self.final):
                _merge(self.temp, self.final)
                _rmtree(self.temp)
            else:
                os.rename(self.temp, self.final)
        except OSError as exc:
            raise local_error(exc, self.final) from None
        self.temp = None

    def discard(self) -> None:
        if self.temp is not None:
            _rmtree(self.temp)
            self.temp = None


def _merge(src: str, dst: str) -> None:
    """Move src's entries into the existing directory dst, as cp -r onto a directory does."""
    for entry in os.scandir(src):
        target = os.path.join(dst, entry.name)
        if (
            entry.is_dir(follow_symlinks=False)
            and os.path.isdir(target)
            and not os.path.islink(target)
        ):
            _merge(entry.path, target)
        elif os.path.isdir(target) and not os.path.islink(target):
            raise CopyError(
                f"cannot overwrite directory '{target}' with a non-directory", kind="is-a-directory"
            )
        else:
            os.replace(entry.path, target)


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def download_destination(dst: str, remote_name: str) -> str:
    """Where a download lands, as cp decides: inside ``dst`` when it is a directory.

    Raises:
        CopyError: dst's directory does not exist, or dst ends with / and is no directory.
    """
    if os.path.isdir(dst):
        return os.path.join(dst, remote_name) if remote_name else dst
    if dst.endswith("/"):
        kind = "not-a-directory" if os.path.lexists(dst) else "no-such-file"
        what = "not a directory" if kind == "not-a-directory" else "no such directory"
        raise CopyError(f"{what}: {dst}", kind=kind)
    parent = os.path.dirname(dst) or "."
    if not os.path.isdir(parent):
        what = "not a directory" if os.path.lexists(parent) else "no such directory"
        raise CopyError(f"{what}: {parent}", kind="no-such-file")
    return dst


__all__ = [
    "CHECKERS",
    "Digests",
    "FileSink",
    "Progress",
    "Sink",
    "Source",
    "StdoutSink",
    "TreeSink",
    "download_destination",
    "local_error",
    "measure",
    "open_source",
]
