"""The plugin transport: a ``RemoteStream`` carried by AWS's ``session-manager-plugin`` binary.

For environments where only the official client is trusted or allowed. The plugin is spawned
with the AWS CLI's 7-argument form (docs/protocol.md#2-how-the-aws-cli-runs-the-plugin) on a
pseudo-terminal,
because it insists on a terminal for stdin. The PTY is put in raw mode in the child before
the plugin starts, so the only line discipline left is the plugin's own ``stty cbreak
-echo``: bytes pass 8-bit clean both ways, no CR is added to output, and no key signals.

What cannot be switched off in the plugin, and how this module lives with it:

* a stdin read that is exactly ``\\n`` is sent as ``\\r``, so no write here ends with a lone
  ``\\n`` (chunks are cut elsewhere), and the one-off mode frames stdin so none ends in LF;
* it prints banners (``Starting session with SessionId: …``, ``This session is encrypted
  using AWS KMS.``, ``Exiting session with sessionId: …``, ``Cannot perform start session:
  …``) into the same stream as the output; ``plugin_banners.BannerFilter`` removes them at
  the start and at the end of the stream, the only places they appear;
* it polls the window size every 500 ms, so ``resize`` sets the PTY size and the plugin
  picks it up on its next poll;
* it always exits 0, so failures are recognised by their text.

The PTY is read through ``loop.add_reader`` on the non-blocking master descriptor: no
threads, and reading pauses while ``receive`` falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import shutil
import signal
import termios
import tty
from collections import deque
from typing import Any

from ecs_exec.aws import ssm as aws_ssm
from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.ecs import ExecSession
from ecs_exec.errors import EcsExecError, PluginError
from ecs_exec.transports.plugin_banners import BannerFilter

logger = logging.getLogger("ecs_exec.transports.official_plugin")

PLUGIN_NAME = "session-manager-plugin"
#: Names another binary to run instead of ``session-manager-plugin`` from PATH.
PLUGIN_ENV = "ECS_EXEC_PLUGIN"
INSTALL_HINT = (
    "install the Session Manager plugin "
    "(https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html), set ECS_EXEC_PLUGIN to its path, "
    "or use --transport native"
)

#: Initial PTY size (rows, cols); the plugin's own size when it has no terminal.
DEFAULT_DIMENSIONS = (100, 300)
READ_SIZE = 65536
#: Largest single write; the plugin reads at most 1024 bytes per read anyway.
WRITE_CHUNK = 1024
#: Stop reading the PTY while this many output chunks wait for ``receive``.
QUEUE_HIGH = 64
QUEUE_LOW = 16
#: How long the plugin may take to die after SIGTERM before it gets SIGKILL.
TERM_GRACE = 2.0

#: Output quiet for this long releases bytes held as a possible closing line.
RELEASE_DELAY = 0.1


def find_plugin() -> str:
    """The plugin binary to run: ``$ECS_EXEC_PLUGIN`` or ``session-manager-plugin`` on PATH.

    Raises:
        PluginError: not found or not executable.
    """
    named = os.environ.get(PLUGIN_ENV)
    if named:
        found = shutil.which(named)
        if found is None:
            raise PluginError(f"{PLUGIN_ENV}={named} is not an executable file", hint=INSTALL_HINT)
        return found
    found = shutil.which(PLUGIN_NAME)
    if found is None:
        raise PluginError(f"{PLUGIN_NAME} was not found on PATH", hint=INSTALL_HINT)
    return found


def plugin_argv(
    session: ExecSession, *, region: str, profile: str | None, target: str, ssm_endpoint: str
) -> list[str]:
    """The 7-argument StartSession form, as ``aws ecs execute-command`` builds it."""
    session_json = json.dumps(
        {
            "sessionId": session.session_id,
            "streamUrl": session.stream_url,
            "tokenValue": session.token_value,
        }
    )
    return [
        session_json,
        region,
        "StartSession",
        profile or "",
        json.dumps({"Target": target}),
        ssm_endpoint,
    ]


def _raw_stdin() -> None:
    # Runs in the child between fork and exec: the PTY becomes 8-bit clean with no signals,
    # and the plugin's `stty cbreak -echo` only clears ICANON and ECHO on top of that.
    tty.setraw(0, termios.TCSANOW)


class PluginStream:
    """A Session Manager session through the official plugin, as a ``RemoteStream``.

    Args:
        session: what ExecuteCommand returned.
        region: the region the plugin calls SSM and KMS in.
        profile: the shared-config profile, or None for the default chain.
        target: the SSM target id (``ecs:<cluster>_<task>_<runtimeId>``), which the plugin
            needs for KMS-encrypted sessions.
        ssm_endpoint: the SSM endpoint for the plugin's ResumeSession/TerminateSession.
        clients: AWS clients for TerminateSession on ``close(terminate=True)``; built from
            region, profile and ``ssm_endpoint`` when not given.
    """

    def __init__(
        self,
        session: ExecSession,
        *,
        region: str,
        profile: str | None,
        target: str,
        ssm_endpoint: str | None,
        clients: AwsClients | None = None,
    ) -> None:
        self.session = session
        self.region = region
        self.profile = profile
        self.target = target
        self.ssm_endpoint = ssm_endpoint or ""
        self._clients = clients
        self._filter = BannerFilter(session.session_id)
        self._child: Any = None
        self._fd = -1
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._reading = False
        self._eof = False
        self._done = False
        self._closing = False
        self._error: EcsExecError | None = None
        self._write_lock = asyncio.Lock()
        self._tail: deque[bytes] = deque(maxlen=8)
        self._finisher: asyncio.Task[None] | None = None
        self._release_timer: asyncio.TimerHandle | None = None
        self.binary: str | None = None

    # -- RemoteStream -------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the plugin on a PTY.

        Raises:
            PluginError: the binary is missing or cannot be started.
        """
        import pexpect

        self.binary = find_plugin()
        args = plugin_argv(
            self.session,
            region=self.region,
            profile=self.profile,
            target=self.target,
            ssm_endpoint=self.ssm_endpoint,
        )
        try:
            self._child = pexpect.spawn(
                self.binary,
                args,
                dimensions=DEFAULT_DIMENSIONS,
                preexec_fn=_raw_stdin,
                encoding=None,
                echo=False,
            )
        except (pexpect.ExceptionPexpect, OSError) as exc:
            raise PluginError(f"cannot start {self.binary}: {exc}", hint=INSTALL_HINT) from exc
        self._fd = self._child.child_fd
        os.set_blocking(self._fd, False)
        self._resume_reading()
        logger.debug("started %s (pid %s)", self.binary, self._child.pid)

    async def send(self, data: bytes) -> None:
        self._raise_if_failed()
        async with self._write_lock:
            view = memoryview(data)
            while view:
                self._raise_if_failed()
                size = min(WRITE_CHUNK, len(view))
                # A chunk that ends in LF could be read alone and turned into CR
                # (docs/protocol.md#12-the-plugins-shell-session):
                # take one byte more. (A partial write by the kernel can still end in LF;
                # the plugin then has to read exactly that byte alone, which it almost
                # never does, since its reads take everything queued.)
                if size < len(view) and view[size - 1] == 0x0A:
                    size += 1
                try:
                    written = os.write(self._fd, view[:size])
                except BlockingIOError:
                    await self._writable()
                    continue
                except OSError as exc:
                    if self._eof or exc.errno in (errno.EIO, errno.EBADF):
                        raise PluginError(
                            f"{PLUGIN_NAME} exited before all input was sent"
                        ) from exc
                    raise PluginError(f"cannot write to {PLUGIN_NAME}: {exc}") from exc
                view = view[written:]

    async def resize(self, cols: int, rows: int) -> None:
        # The plugin polls its terminal size every 500 ms and sends changes
        # (docs/protocol.md#11-terminal-size-and-flags).
        if self._child is not None and not self._eof:
            with contextlib.suppress(OSError):
                self._child.setwinsize(rows, cols)

    async def receive(self) -> bytes:
        if self._done:
            self._raise_if_failed()
            return b""
        item = await self._queue.get()
        if not self._reading and not self._eof and self._queue.qsize() <= QUEUE_LOW:
            self._resume_reading()
        if item is None:
            self._done = True
            self._raise_if_failed()
            return b""
        return item

    async def close(self, *, terminate: bool = False) -> None:
        self._closing = True
        loop = asyncio.get_running_loop()
        terminating: asyncio.Future[None] | None = None
        if terminate and not self._filter.ended:
            terminating = loop.run_in_executor(None, self._terminate_session)
        await self._stop_process()
        if terminating is not None:
            with contextlib.suppress(EcsExecError):
                await terminating
        if self._finisher is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._finisher

    # -- internals ------------------------------------------------------------------------

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _resume_reading(self) -> None:
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._reading = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            # A PTY whose slave side is closed by every process reports EIO, not EOF.
            if exc.errno != errno.EIO:
                logger.debug("reading the plugin's pty: %s", exc)
            data = b""
        if not data:
            self._pause_reading()
            self._eof = True
            self._finisher = asyncio.ensure_future(self._finish())
            return
        self._tail.append(data[-256:])
        self._put(self._filter.feed(data))
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._filter.holding:
            loop = asyncio.get_running_loop()
            self._release_timer = loop.call_later(RELEASE_DELAY, self._release_held)

    def _put(self, data: bytes) -> None:
        if data:
            self._queue.put_nowait(data)
            if self._queue.qsize() >= QUEUE_HIGH:
                self._pause_reading()

    def _release_held(self) -> None:
        self._release_timer = None
        if not self._eof:
            self._put(self._filter.release_partial())

    async def _finish(self) -> None:
        """After EOF: wait for the plugin's exit, pass on the rest, decide how it ended."""
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        status = await self._wait_exit(5.0)
        rest = self._filter.finish()
        if rest:
            self._queue.put_nowait(rest)
        if self._filter.failure is not None and not self._closing:
            message = self._filter.failure
            self._error = PluginError(f"{PLUGIN_NAME} failed: {message}")
        elif not self._filter.ended and not self._closing and status not in (0, None):
            last = b"".join(self._tail)[-200:].decode("utf-8", "replace").strip()
            last_line = last.splitlines()[-1] if last else ""
            self._error = PluginError(
                f"{PLUGIN_NAME} exited with {self._describe(status)}"
                + (f": {last_line}" if last_line else "")
            )
        self._queue.put_nowait(None)

    @staticmethod
    def _describe(status: int) -> str:
        return f"signal {-status}" if status < 0 else f"status {status}"

    async def _wait_exit(self, within: float) -> int | None:
        """The exit status (negative: killed by that signal), or None if still running."""
        child = self._child
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        delay = 0.005
        while True:
            try:
                alive = child.isalive()
            except Exception:  # already reaped by someone else: nothing more to learn
                return None
            if not alive:
                if child.signalstatus is not None:
                    return -int(child.signalstatus)
                return int(child.exitstatus or 0)
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def _stop_process(self) -> None:
        child = self._child
        if child is None:
            return
        self._pause_reading()
        for signum, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, 2.0)):
            if await self._wait_exit(0) is not None:
                break
            with contextlib.suppress(ProcessLookupError, OSError):
                child.kill(signum)
            await self._wait_exit(grace)
        with contextlib.suppress(Exception):
            child.close(force=True)
        if not self._eof:
            self._eof = True
            if self._finisher is None:
                self._finisher = asyncio.ensure_future(self._finish())

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def on_writable() -> None:
            loop.remove_writer(self._fd)
            if not ready.done():
                ready.set_result(None)

        loop.add_writer(self._fd, on_writable)
        try:
            # Bounded, so a plugin that died with a full PTY buffer is noticed.
            await asyncio.wait_for(asyncio.shield(ready), timeout=1.0)
        except TimeoutError:
            loop.remove_writer(self._fd)
            if self._eof:
                raise PluginError(f"{PLUGIN_NAME} exited before all input was sent") from None

    def _terminate_session(self) -> None:
        clients = self._clients
        if clients is None:
            clients = AwsClients(
                AwsSettings(
                    profile=self.profile,
                    region=self.region or None,
                    endpoint_url=self.ssm_endpoint or None,
                )
            )
        aws_ssm.terminate_session(clients.ssm, self.session.session_id, profile=self.profile)
