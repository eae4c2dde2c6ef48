"""``ecs-exec cp`` end to end: one one-off session per copy, with the local side in threads.

The session is the ordinary one-off path (:func:`ecs_exec.session.runner.run_exec`) with a
console of pipes: for an upload its stdin is a pipe a feeder thread fills from the source;
for a download its stdout is a pipe a drain thread empties into the sink, hashing as it goes.
The remote stderr (the script's report) is collected from a third pipe. Memory stays bounded:
the pipes and the one-off path's queues are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ecs_exec.aws.clients import AwsClients
from ecs_exec.aws.resolve import TargetSpec, TaskPicker
from ecs_exec.cp import scripts
from ecs_exec.cp.local import (
    CHUNK,
    Digests,
    FileSink,
    Progress,
    Sink,
    StdoutSink,
    TreeSink,
    download_destination,
    measure,
    open_source,
)
from ecs_exec.cp.outcome import check_status, verify
from ecs_exec.cp.paths import CpPath, LocalPath, RemotePath, remote_basename
from ecs_exec.cp.progress import ProgressDisplay
from ecs_exec.cp.scripts import Header
from ecs_exec.errors import CopyError, EcsExecError
from ecs_exec.local.terminal import Console, write_all
from ecs_exec.session.loop import Warn
from ecs_exec.session.runner import ExecRequest, run_exec

logger = logging.getLogger("ecs_exec.cp")

#: Bytes of the remote stderr kept (the report is a few lines; tools may say more).
MAX_STDERR = 256 * 1024


@dataclass(frozen=True)
class CopyRequest:
    """One ``cp``: SRC and DST (one of them remote) and how.

    Args:
        progress: show progress on the console's stderr (a terminal, no --quiet).
        quiet: no notes (the unverified-copy warning).
    """

    src: CpPath
    dst: CpPath
    recursive: bool = False
    preserve: bool = True
    progress: bool = False
    quiet: bool = False
    transport: str = "native"


@dataclass(frozen=True)
class CopyResult:
    """What was copied: bytes, files, and the tool that verified it (``none``: unverified)."""

    size: int
    files: int
    checker: str
    destination: str
    warnings: tuple[str, ...] = ()


class _Runner:
    """Runs the script as a one-off command on ``target`` with a given console."""

    def __init__(
        self, clients: AwsClients, target: TargetSpec, *, warn: Warn, picker: TaskPicker | None
    ) -> None:
        self.clients, self.target, self.warn, self.picker = clients, target, warn, picker

    def __call__(self, argv: list[str], console: Console, *, stdin: bool, transport: str) -> int:
        request = ExecRequest(
            argv=tuple(argv), interactive=False, attach_stdin=stdin, transport=transport
        )
        return run_exec(
            self.clients, self.target, request, console, warn=self.warn, picker=self.picker
        )


def run_copy(
    clients: AwsClients,
    target: TargetSpec,
    request: CopyRequest,
    console: Console,
    *,
    warn: Warn,
    picker: TaskPicker | None = None,
) -> CopyResult:
    """Copy, verify, and put the copy in place; nothing is left behind on failure.

    Args:
        target: the target flags; a ``TASK:`` or ``TASK/CONTAINER:`` path overrides them.

    Raises:
        CopyError: a named failure (no such file, permission denied, not a directory, disk
            full, verification failed); CopyInterruptedError on Ctrl-C.
        EcsExecError: the session could not start or failed.
    """
    remote = request.src if isinstance(request.src, RemotePath) else request.dst
    assert isinstance(remote, RemotePath)
    if remote.task is not None:
        target = TargetSpec(
            cluster=target.cluster,
            service=target.service,
            task=remote.task,
            container=remote.container or target.container,
        )
    runner = _Runner(clients, target, warn=warn, picker=picker)
    if isinstance(request.src, RemotePath):
        assert isinstance(request.dst, LocalPath)
        return _download(runner, request, request.src, request.dst, console)
    assert isinstance(request.src, LocalPath)
    assert isinstance(request.dst, RemotePath)
    return _upload(runner, request, request.src, request.dst, console)


# -- upload -------------------------------------------------------------------------------


def _upload(
    runner: _Runner, request: CopyRequest, src: LocalPath, dst: RemotePath, console: Console
) -> CopyResult:
    dest = scripts.check_remote_word(dst.path, "remote path")
    source = open_source(
        src.path, recursive=request.recursive, preserve=request.preserve, stdin_fd=console.stdin_fd
    )
    try:
        scripts.check_remote_word(source.name, "file name")
        digests = measure(source)
        spec = scripts.UploadSpec(
            dest=dest,
            name=source.name,
            size=digests.size,
            sha256=digests.value("sha256sum"),
            md5=digests.value("md5sum"),
            tree=source.tree,
            preserve=request.preserve,
            mode=source.mode,
            mtime=source.mtime,
        )
        progress = Progress(total=digests.size)
        read_fd, write_fd = os.pipe()
        feeder = _Feeder(write_fd, lambda out: source.write_to(out, progress))
        with _Pipes() as pipes, _display(request, console, progress):
            pipes.own(read_fd)  # write_fd is the feeder's to close
            stderr = _Collector(pipes.pipe(), MAX_STDERR)
            devnull = pipes.own(os.open(os.devnull, os.O_WRONLY))
            session_console = Console(read_fd, devnull, stderr.write_fd, console.environ)
            feeder.start()
            try:
                status = runner(
                    scripts.upload_argv(spec),
                    session_console,
                    stdin=True,
                    transport=request.transport,
                )
            finally:
                feeder.stop()
                pipes.close(read_fd)
                feeder.join()
                pipes.close(stderr.write_fd)
                report = scripts.parse_report(stderr.result())
        if feeder.error is not None:
            raise feeder.error
        check_status(status, report, dst.path, upload=True)
        checker = report.checker or "none"
        warnings = tuple(
            "the container could not set the modification time (its touch has neither -d @SECONDS "
            "nor -t)"
            for kind in report.warnings
            if kind == "mtime"
        )
        return CopyResult(digests.size, progress.files, checker, dst.path, warnings)
    finally:
        source.cleanup()


class _Feeder(threading.Thread):
    """Writes the source into the session's stdin pipe, then closes it (EOF)."""

    def __init__(self, fd: int, produce: Callable[[Callable[[bytes], object]], None]) -> None:
        super().__init__(name="ecs-exec-cp-feed", daemon=True)
        self.fd, self.produce = fd, produce
        self.error: EcsExecError | None = None
        self._stopped = False

    def _out(self, data: bytes) -> None:
        if self._stopped:
            raise BrokenPipeError
        write_all(self.fd, data)

    def run(self) -> None:
        try:
            self.produce(self._out)
        except BrokenPipeError:
            pass  # the session ended first: its outcome says why
        except EcsExecError as exc:
            self.error = exc
        except OSError as exc:
            self.error = CopyError(f"reading the source failed: {exc}", kind="local")
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def stop(self) -> None:
        self._stopped = True


# -- download -----------------------------------------------------------------------------


def _download(
    runner: _Runner, request: CopyRequest, src: RemotePath, dst: LocalPath, console: Console
) -> CopyResult:
    path = scripts.check_remote_word(src.path, "remote path")
    name = remote_basename(path)
    final = "-" if dst.stdio else download_destination(dst.path, name)
    progress = Progress()
    with _Pipes() as pipes, _display(request, console, progress):
        stderr = _Collector(pipes.pipe(), MAX_STDERR)
        read_fd, write_fd = pipes.pipe()
        pipes.release(read_fd)  # the drain's to close
        stdin = pipes.own(os.open(os.devnull, os.O_RDONLY))
        drain = _Drain(read_fd, final, request, progress, stdout_fd=console.stdout_fd)
        drain.start()
        session_console = Console(stdin, write_fd, stderr.write_fd, console.environ)
        try:
            status = runner(
                scripts.download_argv(path, recursive=request.recursive),
                session_console,
                stdin=False,
                transport=request.transport,
            )
        except BaseException:
            pipes.close(write_fd)
            drain.join()
            drain.discard()
            raise
        finally:
            pipes.close(stderr.write_fd)
            report = scripts.parse_report(stderr.result())
        pipes.close(write_fd)
        drain.join()
        try:
            # A local failure (a full disk here) closes the pipe, which ends the session
            # like a closed stdout: the drain's error is the one to report then.
            if drain.broken:
                raise BrokenPipeError  # the CLI's rule for a closed stdout
            if report.error is None and drain.error is not None:
                raise drain.error
            check_status(status, report, src.path, upload=False)
            if drain.error is not None:
                raise drain.error
            checker = verify(report, drain.digests, request.quiet)
            if drain.sink is None:
                raise CopyError("the container sent no data", kind="remote")
            drain.sink.commit()
            logger.debug("%s verified with %s", final, checker)
        except BaseException:
            drain.discard()
            raise
    return CopyResult(drain.digests.size, max(progress.files, 1), checker, final)


class _Drain(threading.Thread):
    """Reads the session's stdout pipe: the header line, then into the sink, hashing."""

    def __init__(
        self, fd: int, final: str, request: CopyRequest, progress: Progress, *, stdout_fd: int
    ) -> None:
        super().__init__(name="ecs-exec-cp-drain", daemon=True)
        self.fd, self.final, self.request, self.progress = fd, final, request, progress
        self.stdout_fd = stdout_fd
        self.digests = Digests()
        self.sink: Sink | None = None
        self.error: EcsExecError | None = None
        self.broken = False
        self._pending = b""

    def read(self, size: int = CHUNK) -> bytes:
        """File-like read for tarfile: the data after the header, hashed."""
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
        else:
            data = os.read(self.fd, min(size, CHUNK)) if size else b""
        self.digests.update(data)
        self.progress.done += len(data)
        return data

    def run(self) -> None:
        try:
            header = self._header()
            if header.kind == "d":
                sink = TreeSink(self.final, preserve=self.request.preserve, progress=self.progress)
                self.sink = sink
                with tarfile.open(fileobj=self, mode="r|") as stream:  # type: ignore[call-overload]
                    sink.extract(stream)
                while self.read():  # the end-of-archive padding tar adds
                    pass
            else:
                self.progress.total = header.size
                self.progress.current = os.path.basename(self.final)
                if self.final == "-":
                    self.sink = StdoutSink(self.stdout_fd)
                else:
                    self.sink = FileSink(
                        self.final,
                        mode=header.mode,
                        mtime=header.mtime,
                        preserve=self.request.preserve,
                    )
                while data := self.read():
                    self.sink.write(data)
                self.progress.files = 1
            self.sink.finish()
        except EcsExecError as exc:
            self.error = exc
        except BrokenPipeError:
            self.broken = True  # `cp :FILE - | head`: the reader has enough
        except (OSError, tarfile.TarError, ValueError) as exc:
            self.error = CopyError(f"receiving the copy failed: {exc}", kind="local")
        finally:
            # Whatever happened, the session must not block on a full pipe: closing it makes
            # the one-off's writer see a broken pipe, which ends the session.
            os.close(self.fd)

    def _header(self) -> Header:
        line = b""
        while not line.endswith(b"\n") and len(line) < scripts.MAX_HEADER:
            data = os.read(self.fd, CHUNK)
            if not data:
                break
            line += data
        head, newline, rest = line.partition(b"\n")
        self._pending = rest
        if not newline:
            raise CopyError("the container sent no data", kind="remote")
        return scripts.parse_header(head + newline)

    def discard(self) -> None:
        if self.sink is not None:
            self.sink.discard()


# -- shared -------------------------------------------------------------------------------


class _Pipes:
    """The descriptors of one copy, each closed once, all closed at the end."""

    def __init__(self) -> None:
        self._fds: set[int] = set()

    def own(self, fd: int) -> int:
        self._fds.add(fd)
        return fd

    def release(self, fd: int) -> None:
        """Another owner closes ``fd``."""
        self._fds.discard(fd)

    def pipe(self) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        return self.own(read_fd), self.own(write_fd)

    def close(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.discard(fd)
            os.close(fd)

    def __enter__(self) -> _Pipes:
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in list(self._fds):
            self.close(fd)


class _Collector(threading.Thread):
    """Collects the remote stderr (at most ``limit`` bytes) from a pipe."""

    def __init__(self, fds: tuple[int, int], limit: int) -> None:
        super().__init__(name="ecs-exec-cp-stderr", daemon=True)
        self.read_fd, self.write_fd = fds
        self.limit = limit
        self.data = bytearray()
        self.start()

    def run(self) -> None:
        while chunk := os.read(self.read_fd, CHUNK):
            if len(self.data) < self.limit:
                self.data += chunk

    def result(self) -> bytes:
        """Everything collected, once the pipe's write end is closed."""
        self.join()
        return bytes(self.data)


@contextlib.contextmanager
def _display(request: CopyRequest, console: Console, progress: Progress) -> Iterator[None]:
    if not request.progress:
        yield
        return
    display = ProgressDisplay(console, progress)
    display.start()
    try:
        yield
    finally:
        display.stop()
