"""The sandbox, composed: the AWS JSON endpoint plus the data-channel websocket server.

``running_sandbox()`` starts :class:`~ecs_exec.sandbox.http.SandboxHttpServer` on 127.0.0.1 and
a websockets server on another loopback port, in a background thread with its own asyncio
loop, and points the registry's ``ws_base_url`` at it so ExecuteCommand answers with stream
URLs the client can dial. On exit every agent session ends and every process it started is
killed and reaped.

The websocket endpoint follows the service (docs/protocol.md#3-connection): path
``/v1/data-channel/<sessionId>``;
control frames (the plugin's first ping) may come before the first text frame, which is the
OpenDataChannel JSON; its TokenValue must be a live token of that session (any token the
session was given, first or resumed), or the socket is closed with code 1008. After it,
binary AgentMessages flow both ways (see :mod:`ecs_exec.sandbox.agent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ecs_exec.sandbox.agent import AgentOptions, AgentSession
from ecs_exec.sandbox.busybox import BusyboxPath
from ecs_exec.sandbox.faults import FaultSettings, FaultState, FrameLog
from ecs_exec.sandbox.http import RequestLog, SandboxHttpServer
from ecs_exec.sandbox.pty_process import Launcher
from ecs_exec.sandbox.state import ExecSession, SandboxState, SessionStatus, load_state

logger = logging.getLogger("ecs_exec.sandbox.server")

_PATH = re.compile(r"^/v1/data-channel/([A-Za-z0-9_.-]+)$")
#: How long the first text frame may take (the plugin sends it right after connecting).
OPEN_TIMEOUT = 10.0
#: Threads that start the sessions' commands.
SPAWN_THREADS = 4
#: A tmpfs for the containers' TMPDIR, used when it has this much room: tests stream up to
#: about 8 MB per output stream through a session's temporary directory, several at a time.
SHM = "/dev/shm"
SHM_MIN_FREE = 2 * 1024**3
_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class AgentSessionInfo:
    """A snapshot of one live or finished agent session, for tests."""

    session_id: str
    pid: int | None
    connected: bool
    finished: bool
    connections: int
    returncode: int | None


class _AgentServer:
    """The websocket side; every method runs on the sandbox loop."""

    def __init__(
        self,
        state: SandboxState,
        *,
        options: AgentOptions,
        launcher: Launcher,
        frame_log: FrameLog | None,
    ) -> None:
        self.state = state
        self.options = options
        self.launcher = launcher
        self.frame_log = frame_log
        self.agents: dict[str, AgentSession] = {}
        self.pids: list[int] = []
        self._session_logs: dict[str, FrameLog] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Commands start off the loop (see AgentSession's ``spawner``); a few threads, as
        # each fork holds the GIL while it copies the process.
        self.spawner = ThreadPoolExecutor(SPAWN_THREADS, thread_name_prefix="sandbox-spawn")

    def process_request(self, connection: Any, request: Any) -> Any:
        match = _PATH.match(urlsplit(request.path).path)
        if not match:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        status = self._injected_status(match.group(1))
        if status is not None:
            logger.info("answering the upgrade of %s with HTTP %d (fault)", match.group(1), status)
            return connection.respond(HTTPStatus(status), f"{HTTPStatus(status).phrase}\n")
        return None

    def _injected_status(self, session_id: str) -> int | None:
        """The HTTP status the session's faults answer this upgrade with, if any."""
        session = self.state.sessions.session_by_id(session_id)
        if session is None or not session.faults:
            return None
        settings = FaultSettings.from_dict(session.faults)
        agent = self.agents.get(session_id)
        if settings.resume_stream_status is not None and agent is not None and agent.connections:
            return settings.resume_stream_status
        return settings.stream_status

    async def handler(self, ws: Any) -> None:
        match = _PATH.match(urlsplit(ws.request.path).path)
        assert match is not None  # process_request refused other paths
        session_id = match.group(1)
        try:
            # recv() answers pings meanwhile and returns the first data frame.
            first = await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT)
        except Exception:
            return
        if self.frame_log is not None:
            self.frame_log.frame(session_id, "in", first)
        session, client_id, problem = self._check_open(session_id, first)
        if session is None:
            logger.info("refusing data channel for %s: %s", session_id, problem)
            await ws.close(_POLICY_VIOLATION, problem)
            return
        agent = self.agents.get(session_id)
        if agent is None:
            agent = self._new_agent(session)
        await agent.serve(ws, client_id)

    def _check_open(self, session_id: str, first: object) -> tuple[ExecSession | None, str, str]:
        if not isinstance(first, str):
            return None, "", "the first frame must be the OpenDataChannel text frame"
        try:
            opening = json.loads(first)
            token = str(opening["TokenValue"])
            client_id = str(opening.get("ClientId") or "")
        except (ValueError, KeyError, TypeError):
            return None, "", "malformed OpenDataChannel frame"
        session = self.state.sessions.session_by_token(token)
        if session is None or session.session_id != session_id:
            return None, "", "invalid token"
        if session.status is SessionStatus.TERMINATED:
            return None, "", "session terminated"  # an expired token, as the service sees it
        if (
            token != session.tokens[0]
            and FaultSettings.from_dict(session.faults).refuse_resumed_token
        ):
            return None, "", "invalid token"
        return session, client_id, ""

    def _new_agent(self, session: ExecSession) -> AgentSession:
        settings = FaultSettings.from_dict(session.faults)
        logs = [log for log in (self.frame_log, self._session_log(settings)) if log is not None]
        agent = AgentSession(
            session,
            registry=self.state.sessions,
            launcher=self.launcher,
            options=self.options,
            faults=FaultState(settings),
            logs=logs,
            on_pid=self.pids.append,
            spawner=self.spawner,
        )
        self.agents[session.session_id] = agent
        return agent

    def _session_log(self, settings: FaultSettings) -> FrameLog | None:
        if settings.frame_log is None:
            return None
        log = self._session_logs.get(settings.frame_log)
        if log is None:
            log = self._session_logs[settings.frame_log] = FrameLog(settings.frame_log)
        return log

    def on_terminated(self, session: ExecSession) -> None:
        # Called on the loop (the registry listener hops threads first).
        agent = self.agents.get(session.session_id)
        if agent is None or agent.finished.is_set():
            return
        with self.state.lock:
            task = next((t for t in self.state.tasks if t.task_arn == session.task_arn), None)
            stopped = task is not None and task.desired_status == "STOPPED"
        # StopTask: the agent dies with the container, no channel_closed, and the client's
        # socket stays open until the service's idle timeout (docs/agent.md#7-idle-timeout).
        ending = asyncio.ensure_future(
            agent.terminate(notify_client=not stopped, keep_open=stopped)
        )
        self._background.add(ending)
        ending.add_done_callback(self._background.discard)

    def set_faults(self, session_id: str, settings: FaultSettings) -> None:
        agent = self.agents.get(session_id)
        if agent is not None:
            agent.faults.settings = settings
            log = self._session_log(settings)
            if log is not None and log not in agent.logs:
                agent.logs.append(log)

    async def reap_idle(self) -> None:
        interval = min(max(self.options.idle_timeout / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(interval)
            for agent in list(self.agents.values()):
                if agent.finished.is_set():
                    continue
                if time.monotonic() - agent.last_activity > self.options.idle_timeout:
                    logger.info("session %s: idle timeout", agent.session_id)
                    self.state.sessions.terminate_session(agent.session_id)

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        if self._background:
            # A TerminateSession that just arrived may still be reaping its process: let it
            # finish, or stop() would cancel it between the kill and the reap (a zombie).
            await asyncio.wait(set(self._background), timeout=5)
        await asyncio.gather(
            *(agent.terminate(notify_client=False) for agent in self.agents.values()),
            return_exceptions=True,
        )
        for log in self._session_logs.values():
            log.close()


class Sandbox:
    """A running sandbox, as ``running_sandbox()`` yields it.

    Attributes:
        endpoint_url: the AWS endpoint (ECS, SSM and KMS), ``http://127.0.0.1:PORT``.
        websocket_url: the data-channel server, ``ws://127.0.0.1:PORT``.
        state: the world; ``state.sessions`` is the exec-session registry.
        requests: the HTTP request log.
        tmpdir: the containers' TMPDIR (unless a container sets its own), a stand-in for a
            container's /tmp: what sessions leave there shows.
    """

    def __init__(
        self,
        *,
        state: SandboxState,
        http: SandboxHttpServer,
        websocket_url: str,
        agents: _AgentServer,
        loop: asyncio.AbstractEventLoop,
        tmpdir: Path,
    ) -> None:
        self.state = state
        self.tmpdir = tmpdir
        self.endpoint_url = http.url
        self.websocket_url = websocket_url
        self.requests: RequestLog = http.log
        self._agents = agents
        self._loop = loop

    def _call(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)

    def set_faults(self, session_id: str, faults: Mapping[str, Any]) -> None:
        """Replace one session's fault settings now (keys as in :mod:`.faults`).

        Raises:
            ValueError: an unknown key or bad value.
            KeyError: no such session.
        """
        settings = FaultSettings.from_dict(faults)
        session = self.state.sessions.session_by_id(session_id)
        if session is None:
            raise KeyError(session_id)
        session.faults = settings.to_dict()
        self._call(self._agents.set_faults, session_id, settings)

    def set_default_faults(self, faults: Mapping[str, Any]) -> None:
        """Fault settings for sessions created from now on (``faults.session``).

        Raises:
            ValueError: an unknown key or bad value.
        """
        settings = FaultSettings.from_dict(faults)
        with self.state.lock:
            self.state.faults["session"] = settings.to_dict()

    def agent_sessions(self) -> list[AgentSessionInfo]:
        """Every agent session started so far (a session appears at its first connection)."""

        def snapshot() -> list[AgentSessionInfo]:
            return [
                AgentSessionInfo(
                    session_id=a.session_id,
                    pid=None if a.process is None else a.process.pid,
                    connected=a.connected,
                    finished=a.finished.is_set(),
                    connections=a.connections,
                    returncode=a.returncode,
                )
                for a in self._agents.agents.values()
            ]

        result: list[AgentSessionInfo] = self._call(snapshot)
        return result

    @property
    def pids(self) -> list[int]:
        """Every process the sandbox started (all are killed and reaped on exit)."""
        return list(self._agents.pids)


def _containers_tmpdir(scratch: str) -> Path:
    """The containers' TMPDIR: on /dev/shm when it has room, else in ``scratch``.

    Every one-off session creates and removes a dozen files and FIFOs there. On a disk
    filesystem that churn can cost more than the session itself: ext4 without a journal
    (this project's CI machines) skips every inode freed in the last few seconds when it
    allocates one, reading its inode-table block each time, so hundreds of sessions at once
    (a fan-out) spent a fifth of the machine's CPU in mkfifo. A tmpfs has no such cost, and a
    container's /tmp is often one.
    """
    with contextlib.suppress(OSError):
        shm = os.statvfs(SHM)
        if shm.f_bavail * shm.f_frsize >= SHM_MIN_FREE and os.access(SHM, os.W_OK):
            return Path(tempfile.mkdtemp(prefix="ecs-exec-sandbox-tmp-", dir=SHM))
    tmp = Path(scratch, "tmp")
    tmp.mkdir()
    return tmp


@contextlib.contextmanager
def running_sandbox(
    *,
    state_file: Path | None = None,
    state: SandboxState | None = None,
    port: int = 0,
    fast: bool = False,
    frame_log: Path | None = None,
    agent_options: AgentOptions | None = None,
) -> Iterator[Sandbox]:
    """Run a sandbox on loopback for the duration of the ``with`` block.

    Args:
        state_file: a JSON world (see :mod:`.state`); default the demo world.
        state: a world object instead (wins over ``state_file``).
        port: the HTTP port (0: any free one); the websocket port is always ephemeral.
        fast: ``AgentOptions(fast=True)`` (ignored when ``agent_options`` is given).
        frame_log: a JSON Lines frame log of every session (format in :mod:`.faults`).
        agent_options: the agent's behaviour; default faithful.

    Raises:
        ConfigurationError: an unreadable or inconsistent state file.
    """
    from websockets.asyncio.server import serve

    from ecs_exec.sandbox.demo import demo_state

    if state is None:
        state = load_state(state_file) if state_file is not None else demo_state()
    options = agent_options or AgentOptions(fast=fast)
    if options.fast:
        from ecs_exec.sandbox.tasks import FAST_TASK_DELAYS

        state.task_delays = FAST_TASK_DELAYS
    scratch = tempfile.mkdtemp(prefix="ecs-exec-sandbox-")
    busybox = BusyboxPath(root=scratch)
    home = Path(scratch, "home")
    home.mkdir()
    tmp = _containers_tmpdir(scratch)
    launcher = Launcher(scratch=str(home), busybox_path=busybox.path, tmpdir=str(tmp))
    log = FrameLog(frame_log) if frame_log is not None else None
    agents = _AgentServer(state, options=options, launcher=launcher, frame_log=log)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandbox-agent", daemon=True)
    thread.start()

    def listener(session: ExecSession) -> None:
        loop.call_soon_threadsafe(agents.on_terminated, session)

    async def start() -> Any:
        server = await serve(
            agents.handler,
            "127.0.0.1",
            0,
            process_request=agents.process_request,
            max_size=None,
            compression=None,
        )
        agents._reaper = asyncio.ensure_future(agents.reap_idle())
        return server

    async def stop(server: Any) -> None:
        await agents.shutdown()
        # Abort what is left (clients that never answer a close frame, such as the plugin):
        # a graceful close would wait websockets' close_timeout for each. All of them, the
        # ones already closing too, or their sockets outlive the loop.
        for connection in list(server.all_connections):
            connection.transport.abort()
        server.close(close_connections=False)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
        # Link writers, readers and timers of finished sessions: stop them before the loop.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    http = SandboxHttpServer(state, port=port)
    server: Any = None
    try:
        server = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        ws_port = next(iter(server.sockets)).getsockname()[1]
        websocket_url = f"ws://127.0.0.1:{ws_port}"
        state.ws_base_url = websocket_url
        state.sessions.add_terminate_listener(listener)
        http.start()
        yield Sandbox(
            state=state,
            http=http,
            websocket_url=websocket_url,
            agents=agents,
            loop=loop,
            tmpdir=tmp,
        )
    finally:
        state.sessions.remove_terminate_listener(listener)
        http.stop()
        if server is not None:
            asyncio.run_coroutine_threadsafe(stop(server), loop).result(timeout=20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
        # A start still under way ends in a process that its (cancelled) session discards.
        agents.spawner.shutdown(wait=True)
        if log is not None:
            log.close()
        busybox.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["AgentSessionInfo", "Sandbox", "running_sandbox"]
