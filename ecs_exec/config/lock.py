"""The scope lock for access gateways, as pure functions of the environment and argv.

An access gateway runs a fixed connection command with its own AWS credentials and appends
the end user's arguments, e.g. ``ecs-exec --interactive --cluster=$CLUSTER_NAME
--service-name=$SERVICE_NAME`` + user args. Click lets the last of two equal flags win, so
without a lock every appended argument would override the connection. The rule (README,
"For gateway administrators"):

- When it applies: ``ECS_EXEC_LOCK=1``; or ``locked = true`` in the context in effect (or in
  one named by ``--context``); or, by default, ``CLUSTER_NAME`` and ``SERVICE_NAME`` both
  set in the environment. ``ECS_EXEC_LOCK=0`` turns it off.
- What is pinned: cluster, service, container, region, profile, endpoint, transport and
  context, each to its value from the environment (ECS_EXEC_TRANSPORT for the transport),
  else from the context in effect, else to "not given" (transport: ``native``). Argument
  values cannot be told apart from the connection command's, so the connection command
  must take its values from the environment (``--cluster=$CLUSTER_NAME``); a flag is
  accepted only with the pinned value, and a flag given twice with different values is
  refused.
- ``--container``: the pinned CONTAINER, or any name in ``ECS_EXEC_ALLOWED_CONTAINERS``
  (comma-separated); with neither set, any container of the pinned service's tasks.
- ``--task`` is accepted here; the resolver refuses a task of another service after
  DescribeTasks and before ExecuteCommand.
- Refused: ``--sandbox``, the ``sandbox`` command, ``--install-completion`` and
  ``--show-completion`` (they write the gateway user's shell files); ``ls`` unless both
  cluster and service are pinned (it then lists that service's tasks only); every other
  command (``context``, and commands added later such as ``run`` or ``cp``) unless
  ``ECS_EXEC_LOCK_ALLOW`` names it. ``sandbox`` cannot be allowed.

Nothing here performs I/O; the CLI calls :func:`check_arguments` before it parses the
arguments for real, so a refused argument never reaches AWS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ecs_exec.config.contexts import Context, env_value
from ecs_exec.errors import ScopeLockedError, UsageError

LOCK_VAR = "ECS_EXEC_LOCK"
ALLOWED_CONTAINERS_VAR = "ECS_EXEC_ALLOWED_CONTAINERS"
ALLOW_COMMANDS_VAR = "ECS_EXEC_LOCK_ALLOW"
OFF = "ECS_EXEC_LOCK=0 turns the lock off"

#: Flags that choose a pinned setting, and the setting.
PINNED_FLAGS = {
    "--cluster": "cluster",
    "--service-name": "service",
    "--service": "service",
    "--container": "container",
    "--region": "region",
    "--profile": "profile",
    "--endpoint-url": "endpoint_url",
    "--transport": "transport",
    "--context": "context",
}
#: Flags refused outright under the lock, with why.
REFUSED_FLAGS = {
    "--sandbox": "it would run commands on the gateway host",
    "--install-completion": "it would write shell files on the gateway host",
    "--show-completion": "completion is for a user's own shell",
}
#: Commands allowed under the lock within the pinned service.
SCOPED_COMMANDS = frozenset({"ls"})
#: Commands ECS_EXEC_LOCK_ALLOW cannot allow.
NEVER_COMMANDS = frozenset({"sandbox"})
#: Settings whose pinned value is not repeated in a refusal (it may be internal).
_UNSHOWN = frozenset({"profile", "endpoint_url"})
_LABELS = {"service": "service", "endpoint_url": "endpoint", "context": "context"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class ScopeLock:
    """An active lock: why it applies and what it pins.

    Args:
        reason: for messages, e.g. "CLUSTER_NAME and SERVICE_NAME are set".
        pinned: setting -> pinned value (None: the setting may not be given).
        allowed_containers: ECS_EXEC_ALLOWED_CONTAINERS, or None when it is not set.
        allowed_commands: ECS_EXEC_LOCK_ALLOW.
    """

    reason: str
    pinned: Mapping[str, str | None]
    allowed_containers: frozenset[str] | None = None
    allowed_commands: frozenset[str] = frozenset()

    def refuse(self, setting: str, what: str) -> ScopeLockedError:
        """One line: what is refused and why, why the lock applies, how to turn it off."""
        return ScopeLockedError(f"{what} ({self.reason}; {OFF})", setting=setting)

    def container_allowed(self, name: str) -> bool:
        pinned = self.pinned.get("container")
        if self.allowed_containers is None:
            return pinned is None or name == pinned
        return name in self.allowed_containers or name == pinned


def _csv(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def lock_switch(env: Mapping[str, str]) -> bool | None:
    """ECS_EXEC_LOCK as True/False, or None when it is unset or empty.

    Raises:
        UsageError: another value (refusing to guess keeps a gateway locked).
    """
    raw = env.get(LOCK_VAR, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise UsageError(
        f"{LOCK_VAR}='{env[LOCK_VAR]}' is neither 1 nor 0",
        hint=f"set {LOCK_VAR}=1 to lock the connection, {LOCK_VAR}=0 to turn the lock off",
    )


def scope_lock(
    env: Mapping[str, str],
    context: Context | None,
    *,
    requested: Context | None = None,
) -> ScopeLock | None:
    """The lock in effect, or None.

    Args:
        env: the process environment.
        context: the context selected without the command line (ECS_EXEC_CONTEXT, else
            the current context), or None.
        requested: the context ``--context`` names, if any; a locked one locks too.

    Raises:
        UsageError: ECS_EXEC_LOCK has a value other than 0 or 1.
    """
    switch = lock_switch(env)
    if switch is False:
        return None
    locking = context
    if switch:
        reason = f"{LOCK_VAR}=1"
    elif context is not None and context.locked:
        reason = f"context '{context.name}' is locked"
    elif requested is not None and requested.locked:
        locking = requested
        reason = f"context '{requested.name}' is locked"
    elif env.get("CLUSTER_NAME") and env.get("SERVICE_NAME"):
        reason = "CLUSTER_NAME and SERVICE_NAME are set"
    else:
        return None
    pinned: dict[str, str | None] = {}
    for key in ("cluster", "service", "container", "region", "profile", "endpoint_url"):
        pinned[key] = env_value(key, env) or (getattr(locking, key) if locking else None)
    pinned["transport"] = (
        env_value("transport", env) or (locking.transport if locking else None) or "native"
    )
    pinned["context"] = locking.name if locking else None
    return ScopeLock(
        reason=reason,
        pinned=pinned,
        allowed_containers=_csv(env.get(ALLOWED_CONTAINERS_VAR)),
        allowed_commands=_csv(env.get(ALLOW_COMMANDS_VAR, "")) or frozenset(),
    )


@dataclass(frozen=True)
class ScannedArgs:
    """Options (name as typed, value or None) in order, and the positional words."""

    options: tuple[tuple[str, str | None], ...]
    words: tuple[str, ...]

    def values(self, *names: str) -> list[str | None]:
        return [value for name, value in self.options if name in names]


def scan(args: Sequence[str], takes_value: Mapping[str, bool]) -> ScannedArgs:
    """Split argv (before ``--``) into options and words the way click does.

    Args:
        args: the arguments.
        takes_value: every option name of the command tree -> whether it takes a value;
            built from the click command, so this agrees with click on which token is a
            value (``--pipe --cluster`` gives --pipe the value ``--cluster``).
    """
    options: list[tuple[str, str | None]] = []
    words: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            break
        if token.startswith("--"):
            name, equals, value = token.partition("=")
            if equals:
                options.append((name, value))
            elif takes_value.get(name):
                options.append((name, args[index] if index < len(args) else None))
                index += 1
            else:
                options.append((name, None))
        elif token.startswith("-") and len(token) > 1:
            for offset in range(1, len(token)):  # a cluster of short options: -iq, -ojson
                name = "-" + token[offset]
                if takes_value.get(name):
                    rest = token[offset + 1 :]
                    if not rest:
                        rest = args[index] if index < len(args) else ""
                        index += 1
                    options.append((name, rest))
                    break
                options.append((name, None))
        else:
            words.append(token)
    return ScannedArgs(options=tuple(options), words=tuple(words))


def check_arguments(lock: ScopeLock, args: Sequence[str], takes_value: Mapping[str, bool]) -> None:
    """Refuse any argument that would widen the locked connection.

    Raises:
        ScopeLockedError: the first refused argument, naming the locked setting.
    """
    scanned = scan(args, takes_value)
    for name, _ in scanned.options:
        if name in REFUSED_FLAGS:
            raise lock.refuse(
                name.lstrip("-"), f"{name} refused under the scope lock: {REFUSED_FLAGS[name]}"
            )
    settings: dict[str, list[tuple[str, str]]] = {}
    for name, value in scanned.options:
        if name in PINNED_FLAGS and value is not None:
            settings.setdefault(PINNED_FLAGS[name], []).append((name, value))
    for setting, given in settings.items():
        _check_setting(lock, setting, given)
    if scanned.words:
        _check_command(lock, scanned.words[0])


def _check_setting(lock: ScopeLock, setting: str, given: list[tuple[str, str]]) -> None:
    label = _LABELS.get(setting, setting)
    pinned = lock.pinned.get(setting)
    for name, value in given:
        if setting == "container":
            if lock.container_allowed(value):
                continue
            allowed = sorted(((lock.allowed_containers or frozenset()) | {pinned or ""}) - {""})
            raise lock.refuse(
                setting, f"{name} '{value}' refused: the container is locked to {_one_of(allowed)}"
            )
        if value == pinned:
            continue
        if pinned is None:
            where = f"the {label} is locked to the gateway's default"
        elif setting in _UNSHOWN:
            where = f"the {label} is locked"
        else:
            where = f"the {label} is locked to '{pinned}'"
        raise lock.refuse(setting, f"{name} '{value}' refused: {where}")
    if len({value for _, value in given}) > 1:
        flags = "/".join(sorted({name for name, _ in given}))
        raise lock.refuse(
            setting, f"{flags} given twice with different values refused: the {label} is locked"
        )


def _one_of(names: Sequence[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else "one of " + ", ".join(quoted)


def _check_command(lock: ScopeLock, command: str) -> None:
    if command in SCOPED_COMMANDS:
        if lock.pinned.get("cluster") and lock.pinned.get("service"):
            return
        raise lock.refuse(
            command, f"`{command}` refused: no service is pinned, so it would list beyond one"
        )
    if command in NEVER_COMMANDS:
        raise lock.refuse(
            command, f"`{command}` refused under the scope lock: it would run on the gateway host"
        )
    if command not in lock.allowed_commands:
        raise lock.refuse(
            command,
            f"`{command}` refused under the scope lock: {ALLOW_COMMANDS_VAR} does not allow it",
        )


def ls_scope(lock: ScopeLock) -> tuple[str | None, str | None]:
    """The cluster and service ``ls`` lists under the lock (one service's tasks)."""
    return lock.pinned.get("cluster"), lock.pinned.get("service")
