"""The sandbox world: clusters, services, task definitions, tasks, faults and exec sessions.

Plain mutable dataclasses guarded by one lock (``SandboxState.lock``), because the HTTP server
answers on several threads and ``RunTask``/``StopTask``/fault counters change the world.

The JSON state file uses the ECS API's own camelCase names so that a state file reads like a
``describe-*`` answer; ARNs are derived, never stored::

    {"accountId": "123456789012", "region": "us-east-1",
     "clusters": [{"clusterName": "demo", "executeCommandConfiguration": {"kmsKeyId": "..."}}],
     "taskDefinitions": [{"family": "web", "revision": 3, "containerDefinitions": [
         {"name": "app", "image": "...", "essential": true, "environment": [{"name": "A",
          "value": "1"}], "workingDirectory": "/srv", "command": ["..."],
          "sandbox": {"pathMode": "busybox"}}]}],
     "services": [{"serviceName": "web", "cluster": "demo", "taskDefinition": "web:3",
                   "desiredCount": 2, "enableExecuteCommand": true, "launchType": "FARGATE"}],
     "tasks": [{"taskId": "<32 hex>", "cluster": "demo", "taskDefinition": "web:3",
                "group": "service:web", "lastStatus": "RUNNING", "desiredStatus": "RUNNING",
                "enableExecuteCommand": true, "startedAt": 1714564800.0,
                "containers": [{"name": "app", "agentStatus": "RUNNING"}]}],
     "kmsKeys": ["arn:aws:kms:..."], "faults": {"api": {...}, "session": {...}}}

A ``fleets`` entry generates a service with N tasks (:mod:`.fleet`); an API fault with
``ratePerSecond`` is a rate limit (:mod:`.ratelimit`).

Sandbox-only fields (``sandbox``, ``environment``/``workingDirectory`` on task containers) never
appear in an API response; the agent side reads them to decide how to run a command.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ecs_exec.errors import ConfigurationError
from ecs_exec.sandbox.fleet import expand_fleets
from ecs_exec.sandbox.ratelimit import rate_allows
from ecs_exec.sandbox.world import World, dump_world, load_world

AGENT_NAME = "ExecuteCommandAgent"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


@dataclass
class ManagedAgent:
    """One entry of a container's ``managedAgents`` (only ExecuteCommandAgent exists)."""

    last_status: str  # RUNNING | PENDING | STOPPED
    name: str = AGENT_NAME
    reason: str | None = None
    last_started_at: float | None = None


@dataclass
class ContainerDefinition:
    """A container of a task definition, plus the sandbox-only ``sandbox`` extras."""

    name: str
    image: str
    essential: bool = True
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    command: list[str] | None = None
    entry_point: list[str] | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskDefinition:
    family: str
    revision: int
    container_definitions: list[ContainerDefinition]
    arn: str = ""
    cpu: str = "256"
    memory: str = "512"
    network_mode: str = "awsvpc"
    requires_compatibilities: list[str] = field(default_factory=lambda: ["FARGATE"])
    status: str = "ACTIVE"  #: INACTIVE once deregistered (sandbox.tasks)
    tags: list[dict[str, str]] = field(default_factory=list)
    #: RegisterTaskDefinition's request as sent (its fields the dataclass does not model).
    registered: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cluster:
    name: str
    arn: str = ""
    status: str = "ACTIVE"
    kms_key_id: str | None = None
    #: EC2 capacity, ``[{"cpu": 2048, "memory": 3840}]`` per instance (sandbox.tasks).
    container_instances: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Service:
    name: str
    cluster: str
    task_definition: str  # an ARN once loaded
    arn: str = ""
    desired_count: int = 1
    enable_execute_command: bool = True
    launch_type: str = "FARGATE"
    status: str = "ACTIVE"
    created_at: float = 1714560000.0
    network_configuration: dict[str, Any] | None = None  #: as ECS renders it


@dataclass
class Container:
    """A running container of a task.

    ``environment``, ``working_directory`` and ``sandbox`` are sandbox-only: the agent side
    runs exec commands with them; they are never rendered into an API response.
    """

    name: str
    container_arn: str
    runtime_id: str
    image: str
    last_status: str = "RUNNING"
    managed_agents: list[ManagedAgent] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    working_directory: str | None = None
    sandbox: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    exit_code: int | None = None

    @property
    def agent(self) -> ManagedAgent | None:
        return next((a for a in self.managed_agents if a.name == AGENT_NAME), None)

    @property
    def path_mode(self) -> str:
        return str(self.sandbox.get("pathMode", "host"))


@dataclass
class Task:
    task_arn: str
    cluster: str
    task_definition_arn: str
    containers: list[Container]
    group: str = ""
    started_by: str | None = None
    last_status: str = "RUNNING"
    desired_status: str = "RUNNING"
    enable_execute_command: bool = True
    launch_type: str = "FARGATE"
    platform_version: str | None = "1.4.0"
    started_at: float | None = 1714564800.0
    created_at: float | None = 1714564780.0
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    #: The start-up timeline of a task RunTask started (``sandbox.tasks.Launch``).
    launch: Any = None

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[1]

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


class SessionStatus(StrEnum):
    """Lifecycle of an exec session, with SSM's ``SessionStatus`` names."""

    CONNECTING = "Connecting"  #: created by ExecuteCommand, no data channel yet
    CONNECTED = "Connected"
    DISCONNECTED = "Disconnected"  #: the websocket dropped; ResumeSession may reconnect it
    TERMINATED = "Terminated"


@dataclass
class ExecSession:
    """What the agent side needs to run one ExecuteCommand session."""

    session_id: str
    token: str
    stream_url: str
    cluster: str
    task_arn: str
    task_id: str
    container_name: str
    runtime_id: str
    command: str
    kms_key_id: str | None
    environment: dict[str, str]
    working_directory: str | None
    path_mode: str
    faults: dict[str, Any]
    status: SessionStatus = SessionStatus.CONNECTING
    tokens: list[str] = field(default_factory=list)

    @property
    def target_id(self) -> str:
        """The SSM target, as the AWS CLI passes it to the plugin."""
        return f"ecs:{self.cluster}_{self.task_id}_{self.runtime_id}"


TerminateListener = Callable[[ExecSession], None]


class SessionRegistry:
    """Thread-safe registry of exec sessions, shared by the API and the agent side.

    Token policy (the sandbox's decision, documented for the agent side): every token issued
    for a session, the first and each one ``resume_session`` returns, stays valid while the
    session lives. ``session_by_token`` also finds terminated sessions, so the agent can say
    why it refuses them; check ``status``.

    Args:
        ws_base_url: e.g. ``ws://127.0.0.1:8765``; may be set later, before the first session.
        random_hex: source of session-id and token randomness (injectable for tests).
    """

    def __init__(
        self,
        ws_base_url: str = "ws://127.0.0.1:0",
        *,
        random_hex: Callable[[int], str] = secrets.token_hex,
    ) -> None:
        self.ws_base_url = ws_base_url
        self._random_hex = random_hex
        self._lock = threading.Lock()
        self._sessions: dict[str, ExecSession] = {}
        self._by_token: dict[str, str] = {}
        self._listeners: list[TerminateListener] = []

    def stream_url(self, session_id: str) -> str:
        base = self.ws_base_url.rstrip("/")
        return f"{base}/v1/data-channel/{session_id}?role=publish_subscribe&cell-number=sandbox"

    def _new_token(self) -> str:
        # Real tokens are long opaque base64-ish strings; only uniqueness matters here.
        return "sandbox-token-" + self._random_hex(32)

    def create_exec_session(
        self,
        *,
        cluster: str,
        task_arn: str,
        container: Container,
        command: str,
        kms_key_id: str | None,
        faults: Mapping[str, Any] | None = None,
    ) -> ExecSession:
        """Register a new session for ``container`` of ``task_arn`` and return it."""
        session_id = "ecs-execute-command-" + self._random_hex(9)[:17]
        token = self._new_token()
        session = ExecSession(
            session_id=session_id,
            token=token,
            stream_url=self.stream_url(session_id),
            cluster=cluster,
            task_arn=task_arn,
            task_id=task_arn.rsplit("/", 1)[1],
            container_name=container.name,
            runtime_id=container.runtime_id,
            command=command,
            kms_key_id=kms_key_id,
            environment=dict(container.environment),
            working_directory=container.working_directory,
            path_mode=container.path_mode,
            faults=dict(faults or {}),
            tokens=[token],
        )
        with self._lock:
            self._sessions[session_id] = session
            self._by_token[token] = session_id
        return session

    def session_by_id(self, session_id: str) -> ExecSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    def session_by_token(self, token: str) -> ExecSession | None:
        with self._lock:
            session_id = self._by_token.get(token)
            return None if session_id is None else self._sessions.get(session_id)

    def sessions(self) -> list[ExecSession]:
        with self._lock:
            return list(self._sessions.values())

    def resume_session(self, session_id: str) -> str | None:
        """Issue a new token; ``None`` when the session is terminated.

        Raises:
            KeyError: no session has this id.
        """
        with self._lock:
            session = self._sessions[session_id]
            if session.status is SessionStatus.TERMINATED:
                return None
            token = self._new_token()
            session.token = token
            session.tokens.append(token)
            self._by_token[token] = session_id
            return token

    def set_status(self, session_id: str, status: SessionStatus) -> None:
        """Record a data-channel state change (the agent side calls this)."""
        if status is SessionStatus.TERMINATED:
            self.terminate_session(session_id)
            return
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and session.status is not SessionStatus.TERMINATED:
                session.status = status

    def terminate_session(self, session_id: str) -> bool:
        """Mark the session terminated and tell the listeners, once.

        Returns:
            True when this call terminated it; False for unknown or already terminated.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.status is SessionStatus.TERMINATED:
                return False
            session.status = SessionStatus.TERMINATED
            listeners = list(self._listeners)
        # Outside the lock: a listener may call back into the registry.
        for listener in listeners:
            listener(session)
        return True

    def terminate_task_sessions(self, task_arn: str) -> list[str]:
        """Terminate every live session of a task (StopTask); returns their ids."""
        with self._lock:
            ids = [s.session_id for s in self._sessions.values() if s.task_arn == task_arn]
        return [sid for sid in ids if self.terminate_session(sid)]

    def add_terminate_listener(self, listener: TerminateListener) -> None:
        """Call ``listener(session)`` once when a session ends (TerminateSession, StopTask).

        Listeners run on the terminating thread, possibly an HTTP thread holding
        ``SandboxState.lock``: they must return quickly (signal a process, set an event).
        """
        with self._lock:
            self._listeners.append(listener)

    def remove_terminate_listener(self, listener: TerminateListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)


@dataclass
class SandboxState:
    """The whole sandbox world. Hold ``lock`` while reading or changing resources."""

    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    user_name: str = "sandbox"
    clusters: dict[str, Cluster] = field(default_factory=dict)
    task_definitions: dict[str, TaskDefinition] = field(default_factory=dict)  # by ARN
    services: list[Service] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    kms_keys: list[str] = field(default_factory=list)
    faults: dict[str, Any] = field(default_factory=dict)
    sessions: SessionRegistry = field(default_factory=SessionRegistry)
    #: token buckets of rate-limited API faults (``ratelimit``), by operation
    rate_buckets: dict[str, list[float]] = field(default_factory=dict, repr=False)
    world: World = field(default_factory=World)  # IAM, VPC, logs...: see sandbox/world.py
    #: EC2 resources RunTask checks, by id: ``{"vpcId": ...}`` (state file: subnets,
    #: securityGroups, with subnetId / groupId).
    subnets: dict[str, dict[str, Any]] = field(default_factory=dict)
    security_groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Seconds a RunTask task spends PROVISIONING, PENDING, and RUNNING before its exec
    #: agent runs (``running_sandbox(fast=True)`` shortens them).
    task_delays: tuple[float, float, float] = (2.0, 3.0, 2.0)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- ARNs -----------------------------------------------------------------------------

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    @property
    def caller_arn(self) -> str:
        role = self.world.caller_role
        if role is not None:  # a session of that role, named after the user
            return f"arn:aws:sts::{self.account_id}:assumed-role/{role}/{self.user_name}"
        return f"arn:aws:iam::{self.account_id}:user/{self.user_name}"

    @property
    def ws_base_url(self) -> str:
        return self.sessions.ws_base_url

    @ws_base_url.setter
    def ws_base_url(self, value: str) -> None:
        self.sessions.ws_base_url = value

    # -- look-ups (callers hold the lock) ---------------------------------------------------

    def find_cluster(self, ref: str | None) -> Cluster | None:
        """By name or ARN; ``None``/empty means the ``default`` cluster, as in ECS."""
        name = (ref or "default").rsplit("/", 1)[-1]
        return self.clusters.get(name)

    def find_task_definition(self, ref: str) -> TaskDefinition | None:
        """By ARN, ``family:revision`` or ``family`` (latest revision)."""
        if ref in self.task_definitions:
            return self.task_definitions[ref]
        ref = ref.rsplit("/", 1)[-1]
        family, _, revision = ref.partition(":")
        matches = [td for td in self.task_definitions.values() if td.family == family]
        if revision:
            return next((td for td in matches if str(td.revision) == revision), None)
        matches = [td for td in matches if td.status == "ACTIVE"]  # as ECS: latest ACTIVE
        return max(matches, key=lambda td: td.revision, default=None)

    def fault_settings(self, kind: str) -> dict[str, Any]:
        """``faults[kind]`` as a dict (``"session"`` is read by the agent side)."""
        with self.lock:
            value = self.faults.get(kind, {})
            return dict(value) if isinstance(value, dict) else {}

    def take_api_fault(self, operation: str) -> dict[str, Any] | None:
        """The fault to inject into this call of ``operation``, counting ``times`` down.

        Entries are looked up by operation name (``ExecuteCommand``) and then ``*``. ``times``
        -1 (or absent) means always; an entry whose count reaches 0 stops firing.
        """
        with self.lock:
            api = self.faults.get("api") or {}
            for key in (operation, "*"):
                fault = api.get(key)
                if not isinstance(fault, dict):
                    continue
                if "ratePerSecond" in fault:
                    if rate_allows(self.rate_buckets, key, fault, time.monotonic()):
                        continue
                    return dict(fault)
                times = int(fault.get("times", -1))
                if times == 0:
                    continue
                if times > 0:
                    fault["times"] = times - 1
                return dict(fault)
            return None

    # -- building resources ----------------------------------------------------------------

    def new_container(
        self, task_arn: str, definition: ContainerDefinition, *, agent_status: str | None
    ) -> Container:
        """A container for ``definition`` with derived, deterministic ARN and runtime id."""
        cluster, task_id = task_arn.rsplit("/", 2)[1:]
        digest = hashlib.sha256(f"{task_arn}/{definition.name}".encode()).digest()
        container_uuid = uuid.UUID(bytes=digest[:16], version=4)
        agents = [] if agent_status is None else [ManagedAgent(last_status=agent_status)]
        return Container(
            name=definition.name,
            container_arn=self.arn("ecs", f"container/{cluster}/{task_id}/{container_uuid}"),
            runtime_id=f"{task_id}-{int.from_bytes(digest[16:20], 'big') % 10**10:010d}",
            image=definition.image,
            managed_agents=agents,
            environment=dict(definition.environment),
            working_directory=definition.working_directory,
            sandbox=dict(definition.sandbox),
        )

    # -- JSON ------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SandboxState:
        """Build a state from the JSON state-file layout (see the module docstring).

        Raises:
            ConfigurationError: the data does not describe a consistent world.
        """
        try:
            return _load(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigurationError(f"invalid sandbox state: {exc!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return _dump(self)


def _env_from_api(items: Any) -> dict[str, str]:
    """``[{"name": k, "value": v}]`` (the ECS shape) or a plain mapping."""
    if isinstance(items, Mapping):
        return {str(k): str(v) for k, v in items.items()}
    return {str(item["name"]): str(item.get("value", "")) for item in items or []}


def env_to_api(env: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in env.items()]


def _load(data: Mapping[str, Any]) -> SandboxState:
    data = expand_fleets(data)
    state = SandboxState(
        account_id=str(data.get("accountId", DEFAULT_ACCOUNT)),
        region=str(data.get("region", DEFAULT_REGION)),
        user_name=str(data.get("userName", "sandbox")),
        kms_keys=[str(k) for k in data.get("kmsKeys", [])],
        faults=json.loads(json.dumps(data.get("faults", {}))),  # a private deep copy
    )
    if "wsBaseUrl" in data:
        state.ws_base_url = str(data["wsBaseUrl"])
    for item in data.get("clusters", []):
        name = str(item["clusterName"])
        config = item.get("executeCommandConfiguration") or {}
        state.clusters[name] = Cluster(
            name=name,
            arn=state.arn("ecs", f"cluster/{name}"),
            status=str(item.get("status", "ACTIVE")),
            kms_key_id=config.get("kmsKeyId"),
            container_instances=list(item.get("containerInstances", [])),
        )
    state.subnets = {str(s["subnetId"]): dict(s) for s in data.get("subnets", [])}
    state.security_groups = {str(g["groupId"]): dict(g) for g in data.get("securityGroups", [])}
    for item in data.get("taskDefinitions", []):
        family, revision = str(item["family"]), int(item.get("revision", 1))
        td = TaskDefinition(
            family=family,
            revision=revision,
            arn=state.arn("ecs", f"task-definition/{family}:{revision}"),
            container_definitions=[_container_definition(c) for c in item["containerDefinitions"]],
            cpu=str(item.get("cpu", "256")),
            memory=str(item.get("memory", "512")),
            network_mode=str(item.get("networkMode", "awsvpc")),
            requires_compatibilities=list(item.get("requiresCompatibilities", ["FARGATE"])),
        )
        state.task_definitions[td.arn] = td
    for item in data.get("services", []):
        state.services.append(_service(state, item))
    for item in data.get("tasks", []):
        state.tasks.append(_task(state, item))
    state.world, keys = load_world(data, state.account_id, state.region, state.user_name)
    state.kms_keys.extend(k for k in keys if k not in state.kms_keys)
    return state


def _container_definition(item: Mapping[str, Any]) -> ContainerDefinition:
    return ContainerDefinition(
        name=str(item["name"]),
        image=str(item.get("image", "public.ecr.aws/docker/library/busybox:latest")),
        essential=bool(item.get("essential", True)),
        environment=_env_from_api(item.get("environment")),
        working_directory=item.get("workingDirectory"),
        command=item.get("command"),
        entry_point=item.get("entryPoint"),
        sandbox=dict(item.get("sandbox", {})),
    )


def _require_cluster(state: SandboxState, name: str) -> Cluster:
    cluster = state.find_cluster(name)
    if cluster is None:
        raise ValueError(f"unknown cluster {name!r}")
    return cluster


def _require_task_definition(state: SandboxState, ref: str) -> TaskDefinition:
    td = state.find_task_definition(ref)
    if td is None:
        raise ValueError(f"unknown task definition {ref!r}")
    return td


def _service(state: SandboxState, item: Mapping[str, Any]) -> Service:
    cluster = _require_cluster(state, str(item["cluster"]))
    name = str(item["serviceName"])
    return Service(
        name=name,
        cluster=cluster.name,
        arn=state.arn("ecs", f"service/{cluster.name}/{name}"),
        task_definition=_require_task_definition(state, str(item["taskDefinition"])).arn,
        desired_count=int(item.get("desiredCount", 1)),
        enable_execute_command=bool(item.get("enableExecuteCommand", True)),
        launch_type=str(item.get("launchType", "FARGATE")),
        status=str(item.get("status", "ACTIVE")),
        created_at=float(item.get("createdAt", 1714560000.0)),
        network_configuration=item.get("networkConfiguration"),
    )


def _task(state: SandboxState, item: Mapping[str, Any]) -> Task:
    cluster = _require_cluster(state, str(item["cluster"]))
    task_id = str(item["taskId"])
    if len(task_id) != 32 or any(c not in "0123456789abcdef" for c in task_id):
        raise ValueError(f"taskId {task_id!r} is not 32 lower-case hex digits")
    td = _require_task_definition(state, str(item["taskDefinition"]))
    task_arn = state.arn("ecs", f"task/{cluster.name}/{task_id}")
    exec_enabled = bool(item.get("enableExecuteCommand", True))
    overrides = {str(c["name"]): c for c in item.get("containers", [])}
    unknown = set(overrides) - {d.name for d in td.container_definitions}
    if unknown:
        raise ValueError(f"task {task_id}: containers {sorted(unknown)} not in {td.family}")
    containers = []
    for definition in td.container_definitions:
        extra = overrides.get(definition.name, {})
        # No managedAgents at all when exec is off, as ECS answers.
        agent_status = extra.get("agentStatus", "RUNNING") if exec_enabled else None
        container = state.new_container(task_arn, definition, agent_status=agent_status)
        agent = container.agent
        if agent is not None:
            agent.reason = extra.get("agentReason")
            if agent.last_status == "RUNNING" and item.get("startedAt") is not None:
                agent.last_started_at = float(item["startedAt"]) + 15
        container.last_status = str(extra.get("lastStatus", item.get("lastStatus", "RUNNING")))
        container.runtime_id = str(extra.get("runtimeId", container.runtime_id))
        container.environment.update(_env_from_api(extra.get("environment")))
        container.working_directory = extra.get("workingDirectory", container.working_directory)
        container.sandbox.update(extra.get("sandbox", {}))
        containers.append(container)
    started_at = item.get("startedAt", 1714564800.0)
    return Task(
        task_arn=task_arn,
        cluster=cluster.name,
        task_definition_arn=td.arn,
        containers=containers,
        group=str(item.get("group", f"family:{td.family}")),
        started_by=item.get("startedBy"),
        last_status=str(item.get("lastStatus", "RUNNING")),
        desired_status=str(item.get("desiredStatus", "RUNNING")),
        enable_execute_command=exec_enabled,
        launch_type=str(item.get("launchType", "FARGATE")),
        platform_version=item.get("platformVersion", "1.4.0"),
        started_at=None if started_at is None else float(started_at),
        created_at=float(item.get("createdAt", (started_at or 1714564800.0) - 20)),
        stopped_reason=item.get("stoppedReason"),
        stop_code=item.get("stopCode"),
    )


def _dump(state: SandboxState) -> dict[str, Any]:
    def container_definition(d: ContainerDefinition) -> dict[str, Any]:
        out: dict[str, Any] = {"name": d.name, "image": d.image, "essential": d.essential}
        if d.environment:
            out["environment"] = env_to_api(d.environment)
        for key, value in (
            ("workingDirectory", d.working_directory),
            ("command", d.command),
            ("entryPoint", d.entry_point),
            ("sandbox", d.sandbox or None),
        ):
            if value is not None:
                out[key] = value
        return out

    def task(t: Task) -> dict[str, Any]:
        containers = []
        for c in t.containers:
            entry: dict[str, Any] = {
                "name": c.name,
                "lastStatus": c.last_status,
                "runtimeId": c.runtime_id,
                "environment": env_to_api(c.environment),
                "workingDirectory": c.working_directory,
                "sandbox": c.sandbox,
            }
            if c.agent is not None:
                entry["agentStatus"] = c.agent.last_status
                if c.agent.reason is not None:
                    entry["agentReason"] = c.agent.reason
            containers.append(entry)
        td = state.task_definitions[t.task_definition_arn]
        return {
            "taskId": t.task_id,
            "cluster": t.cluster,
            "taskDefinition": f"{td.family}:{td.revision}",
            "group": t.group,
            "startedBy": t.started_by,
            "lastStatus": t.last_status,
            "desiredStatus": t.desired_status,
            "enableExecuteCommand": t.enable_execute_command,
            "launchType": t.launch_type,
            "platformVersion": t.platform_version,
            "startedAt": t.started_at,
            "createdAt": t.created_at,
            "stoppedReason": t.stopped_reason,
            "stopCode": t.stop_code,
            "containers": containers,
        }

    out: dict[str, Any] = {
        "accountId": state.account_id,
        "region": state.region,
        "userName": state.user_name,
        "clusters": [
            {
                "clusterName": c.name,
                "status": c.status,
                "executeCommandConfiguration": ({"kmsKeyId": c.kms_key_id} if c.kms_key_id else {}),
                "containerInstances": c.container_instances,
            }
            for c in state.clusters.values()
        ],
        "subnets": list(state.subnets.values()),
        "securityGroups": list(state.security_groups.values()),
        "taskDefinitions": [
            {
                "family": td.family,
                "revision": td.revision,
                "cpu": td.cpu,
                "memory": td.memory,
                "networkMode": td.network_mode,
                "requiresCompatibilities": td.requires_compatibilities,
                "containerDefinitions": [container_definition(d) for d in td.container_definitions],
            }
            for td in state.task_definitions.values()
        ],
        "services": [
            {
                "serviceName": s.name,
                "cluster": s.cluster,
                "taskDefinition": s.task_definition,
                "desiredCount": s.desired_count,
                "enableExecuteCommand": s.enable_execute_command,
                "launchType": s.launch_type,
                "status": s.status,
                "createdAt": s.created_at,
                "networkConfiguration": s.network_configuration,
            }
            for s in state.services
        ],
        "tasks": [task(t) for t in state.tasks],
        "kmsKeys": list(state.kms_keys),
        "faults": json.loads(json.dumps(state.faults)),
    }
    dump_world(state.world, out)
    return out


def load_state(path: str | Path) -> SandboxState:
    """Read a JSON state file.

    Raises:
        ConfigurationError: unreadable file, bad JSON or an inconsistent world.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read sandbox state file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"sandbox state file {path} must hold a JSON object")
    return SandboxState.from_dict(data)


def dump_state(state: SandboxState, path: str | Path) -> None:
    Path(path).write_text(json.dumps(state.to_dict(), indent=2) + "\n", encoding="utf-8")
