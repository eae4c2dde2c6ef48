"""Starting an exec command the way the SSM agent does, under a fresh PTY, driven by asyncio.

What the agent does (amazon-ssm-agent ``agent/session/shell/shell_unix.go`` ``StartCommandExecutor``
and ``agent/session/shell/shell.go``): the ``command`` string is split with google/shlex and the
words are executed **directly, with no shell** (``exec.Command(words[0], words[1:]...)``), in a
new session whose controlling terminal is a new PTY (``pty.Start``), with ``TERM=xterm-256color``
and ``LANG=C.UTF-8`` when LANG is unset. The window is 0x0 until a Size message arrives.

Here the master side is non-blocking and read/written through ``loop.add_reader``/``add_writer``
so one event loop can drive many sessions; :meth:`PtyProcess.write` returns only once the PTY
took every byte, which is the input backpressure (the agent acks input after writing it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import functools
import logging
import os
import shutil
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping

from ecs_exec.remote import shlexgo

logger = logging.getLogger("ecs_exec.sandbox.pty")

#: shell_unix.go sets these for every command.
TERM = "xterm-256color"
DEFAULT_LANG = "C.UTF-8"


class CommandStartError(Exception):
    """The command cannot start: unbalanced quote, empty, not found, not executable."""


def command_environment(
    environment: Mapping[str, str], *, path: str, home: str, tmpdir: str | None = None
) -> dict[str, str]:
    """The child's environment: the container's, plus what the agent adds.

    Args:
        environment: the container's environment variables.
        path: the PATH to use (host PATH, or the busybox applet directory).
        home: HOME when the container does not set one.
        tmpdir: TMPDIR when the container does not set one: the sandbox's stand-in for the
            container's own /tmp, so what a command leaves there is visible (and removed with
            the sandbox) instead of mixing with the host's /tmp.
    """
    env = dict(environment)
    env["TERM"] = TERM
    env.setdefault("LANG", DEFAULT_LANG)
    env.setdefault("HOME", home)
    if tmpdir is not None:
        env.setdefault("TMPDIR", tmpdir)
    env["PATH"] = path
    return env


#: Signals a parent may have left ignored (a background job of a non-interactive shell ignores
#: SIGINT and SIGQUIT; nohup ignores SIGHUP), which exec would pass on to the command.
_RESET_SIGNALS = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTERM,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
)


def reset_signal_dispositions() -> None:  # pragma: no cover - runs in the child
    """Default dispositions for the job-control and termination signals.

    The agent runs as a system service, so a container's command starts with every signal at
    its default; whatever the process that started the sandbox ignored must not leak into its
    "containers" (a Ctrl-C would then not stop the remote command).
    """
    for signum in _RESET_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _set_controlling_tty() -> None:  # pragma: no cover - runs in the child
    reset_signal_dispositions()
    # start_new_session made us a session leader with no ctty; stdin is the PTY slave.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@functools.cache
def _session_helper() -> str | None:
    """A ``setsid`` that can make the PTY its child's controlling terminal (``-c``), or None.

    With it a command starts through ``vfork`` (``setsid -c`` does the setsid() and
    TIOCSCTTY, then execs the command) instead of a ``fork`` that runs Python in the child: a
    fork copies the page tables of the process that hosts the sandbox (a test run, the
    benchmark), several milliseconds each, which hundreds of sessions starting at once
    (a fan-out) would spend over and over. util-linux and BusyBox both have ``-c``.
    """
    path = shutil.which("setsid")
    if path is None:
        return None
    master, slave = os.openpty()
    try:
        probe = subprocess.run(
            [path, "-c", "true"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={"PATH": os.defpath},
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        os.close(slave)
        os.close(master)
    return path if probe.returncode == 0 else None


def _inherits_ignored_signals() -> bool:
    """Whether this process ignores a signal that exec would pass on to a command (only
    ``_set_controlling_tty`` in a forked child resets those)."""
    return any(signal.getsignal(signum) is signal.SIG_IGN for signum in _RESET_SIGNALS)


def _findable(name: str, path: str, cwd: str) -> bool:
    """Whether exec would find ``name`` as an executable file (a name with a slash is
    relative to the command's working directory)."""
    if "/" in name:
        full = os.path.join(cwd, name)
        return os.path.isfile(full) and os.access(full, os.X_OK)
    return shutil.which(name, path=path) is not None


def _set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def group_alive(pgid: int) -> bool:
    """Whether a process group has a member that is not a zombie.

    ``killpg(pgid, 0)`` also succeeds for zombies, which an init that does not reap (as in
    some containers) leaves behind, so /proc tells.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(live_group_members(pgid))


def live_group_members(pgid: int) -> list[tuple[int, str]]:
    """``(pid, state)`` of each member of process group ``pgid`` that is not a zombie."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            found.append((int(entry), fields[0].decode()))
    return found


class PtyProcess:
    """A command running under a PTY; use :meth:`start`.

    Attributes:
        pid: the child's pid, also its process-group and session id.
        argv: the words it was started with.
    """

    def __init__(self, proc: subprocess.Popen[bytes], master_fd: int, argv: list[str]) -> None:
        self._proc = proc
        self._fd = master_fd
        self.pid = proc.pid
        self.argv = argv
        self._closed = False
        self._waiters: set[asyncio.Future[None]] = set()

    @classmethod
    def start(
        cls,
        command: str,
        *,
        environment: Mapping[str, str],
        cwd: str,
    ) -> PtyProcess:
        """Split ``command`` with google/shlex rules and exec it under a new PTY.

        Args:
            command: the ExecuteCommand ``command`` string.
            environment: the complete environment (see :func:`command_environment`).
            cwd: the working directory.

        Raises:
            CommandStartError: split error, no words, or exec failed.
        """
        try:
            argv = shlexgo.split(command)
        except ValueError as exc:
            raise CommandStartError(f"cannot split command {command!r}: {exc}") from exc
        if not argv:
            raise CommandStartError("empty command")
        helper = None if _inherits_ignored_signals() else _session_helper()
        # setsid's execvp would only report a missing command on the PTY: look for it here,
        # as Popen would, so that it fails to start without output, as in the agent.
        if helper is not None and not _findable(argv[0], environment.get("PATH", os.defpath), cwd):
            raise CommandStartError(f"cannot run {argv[0]!r}: not found or not executable")
        master, slave = os.openpty()
        try:
            _set_winsize(master, 0, 0)  # explicit: 0x0 until the client sends a Size
            forked = helper is None  # else Popen vfork()s: setsid -c does the rest
            proc = subprocess.Popen(
                argv if helper is None else [helper, "-c", *argv],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=dict(environment),
                cwd=cwd,
                start_new_session=forked,
                preexec_fn=_set_controlling_tty if forked else None,
                close_fds=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(master)
            raise CommandStartError(f"cannot run {argv[0]!r}: {exc}") from exc
        finally:
            os.close(slave)  # the child holds it; EOF (EIO) comes when the child side closes
        os.set_blocking(master, False)
        logger.debug("started pid %d: %s", proc.pid, argv)
        return cls(proc, master, argv)

    # -- I/O ------------------------------------------------------------------------------

    async def _wait_fd(self, writable: bool) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not future.done():
                future.set_result(None)

        if writable:
            loop.add_writer(self._fd, ready)
        else:
            loop.add_reader(self._fd, ready)
        self._waiters.add(future)
        try:
            await future
        finally:
            self._waiters.discard(future)
            if not self._closed:
                if writable:
                    loop.remove_writer(self._fd)
                else:
                    loop.remove_reader(self._fd)

    async def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of output; ``b""`` at EOF (Linux reports it as EIO)."""
        while not self._closed:
            try:
                return os.read(self._fd, size)
            except BlockingIOError:
                await self._wait_fd(writable=False)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return b""
                raise
        return b""

    async def read_available(self, size: int) -> bytes:
        """Everything readable now, up to ``size`` bytes, in as many reads as that takes.

        Waits only while nothing at all is readable. A PTY master returns at most about 4 KiB
        per ``read``, so this is for callers that want bulk data, not one read per chunk.

        Returns:
            ``b""`` at EOF only; data read before EOF is returned first.
        """
        parts: list[bytes] = []
        got = 0
        while got < size and not self._closed:
            try:
                data = os.read(self._fd, size - got)
            except BlockingIOError:
                if parts:
                    break
                await self._wait_fd(writable=False)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:
                    break
                raise
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def write(self, data: bytes) -> None:
        """Write all of ``data``, waiting while the PTY's input queue is full.

        Data for a process that is gone is discarded, as writes to a dead PTY fail.
        """
        view = memoryview(data)
        while view and not self._closed:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                await self._wait_fd(writable=True)
                continue
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    return
                raise
            view = view[written:]

    def set_size(self, cols: int, rows: int) -> None:
        """TIOCSWINSZ, as the agent does on a Size message (the kernel sends SIGWINCH)."""
        if not self._closed:
            _set_winsize(self._fd, cols, rows)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def kill(self) -> None:
        """SIGKILL the whole process group (the command and anything it started)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_command(self) -> None:
        """SIGKILL the command alone, as the agent does when a session is cancelled.

        The agent calls Go's ``Process.Kill()`` on the process it started and then closes the
        PTY (amazon-ssm-agent agent/session/shell/shell.go); what the command started is not
        killed but hung up: the kernel sends SIGHUP to the terminal's foreground group when
        its session leader dies. See docs/agent.md.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            self._proc.kill()

    async def wait_group(self, seconds: float) -> bool:
        """Wait up to ``seconds`` until no live process is left in the command's group.

        Returns:
            True if the group emptied in time.
        """
        deadline = time.monotonic() + seconds
        while group_alive(self.pid):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)  # no event tells that a group emptied
        return True

    async def reap(self, seconds: float) -> int | None:
        """Wait up to ``seconds`` for the exit status without blocking the loop."""
        deadline = time.monotonic() + seconds
        # Polling: the loop runs in a thread, where asyncio has no SIGCHLD-driven watcher.
        while (code := self._proc.poll()) is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return code

    def kill_and_reap(self, timeout: float = 2.0) -> int | None:
        """Blocking kill + wait, for shutdown paths outside the event loop."""
        self.kill()
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            logger.warning("pid %d did not exit after SIGKILL", self.pid)
            return None

    def close(self) -> None:
        """Close the master side (idempotent); a still-running child sees a hangup."""
        if self._closed:
            return
        self._closed = True
        if self._waiters:
            # Unregister before closing, or the selector would watch a recycled fd number.
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._fd)
            loop.remove_writer(self._fd)
            for future in self._waiters:
                if not future.done():
                    future.set_result(None)
        os.close(self._fd)


class Launcher:
    """Where a sandbox's exec commands run: PATH per ``pathMode`` and fallback directories.

    Args:
        scratch: a per-sandbox directory used as HOME (when the container sets none) and as
            the working directory when the container's does not exist on this host.
        busybox_path: the applet directory for ``pathMode: busybox`` (None: busybox missing).
        host_path: PATH for ``pathMode: host``; default the sandbox process's own PATH.
    """

    def __init__(
        self,
        *,
        scratch: str,
        busybox_path: str | None,
        host_path: str | None = None,
        tmpdir: str | None = None,
    ) -> None:
        self.scratch = scratch
        self.tmpdir = tmpdir
        self.busybox_path = busybox_path
        self.host_path = host_path if host_path is not None else os.environ.get("PATH", "")

    def start(
        self,
        command: str,
        *,
        environment: Mapping[str, str],
        working_directory: str | None,
        path_mode: str,
    ) -> PtyProcess:
        """Start ``command`` for a container with these settings.

        Raises:
            CommandStartError: as :meth:`PtyProcess.start`, or busybox is needed and missing.
        """
        if path_mode == "busybox":
            if self.busybox_path is None:
                logger.warning(
                    "cannot run %r: this container's PATH is busybox-only and the host has no "
                    "busybox (install it, e.g. apt-get install busybox)",
                    command,
                )
                raise CommandStartError("busybox is not installed on the sandbox host")
            path = self.busybox_path
        else:
            # A PATH in the container's environment wins, as in a task definition.
            path = environment.get("PATH") or self.host_path
        cwd = working_directory or "/"
        if not os.path.isabs(cwd):
            # A relative one (a generated fleet's, sandbox/fleet.py) is the container's own
            # directory under the scratch directory, so tasks can be told apart.
            cwd = os.path.join(self.scratch, cwd)
            os.makedirs(cwd, exist_ok=True)
        if not os.path.isdir(cwd):
            # The container's directory (e.g. /srv/app) rarely exists on the host.
            logger.debug("working directory %s does not exist here; using %s", cwd, self.scratch)
            cwd = self.scratch
        env = command_environment(environment, path=path, home=self.scratch, tmpdir=self.tmpdir)
        return PtyProcess.start(command, environment=env, cwd=cwd)


__all__ = [
    "CommandStartError",
    "Launcher",
    "PtyProcess",
    "command_environment",
    "group_alive",
    "live_group_members",
]
