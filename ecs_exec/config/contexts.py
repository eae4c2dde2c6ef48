"""Named contexts: one human-editable TOML file of connection settings, and a current one.

The file is ``$XDG_CONFIG_HOME/ecs-exec/contexts.toml`` (else ``~/.config/ecs-exec/``)::

    current-context = "prod-eu"

    [contexts."prod-eu"]
    profile = "prod"
    region = "eu-west-1"
    cluster = "main"

It is read with :mod:`tomllib` and written whole, atomically (a temporary file in the same
directory, then ``os.replace``) with mode 0600. A file that does not parse raises
:class:`~ecs_exec.errors.ConfigurationError` naming the file and line, and since every change
loads the file first, a broken file is never overwritten. Comments are not kept when ecs-exec
rewrites the file.

Precedence (README "Contexts"): flags, then environment variables, then the context, then
the defaults; :func:`effective_settings` applies it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ecs_exec.config import FILE_NAME, config_dir, contexts_path
from ecs_exec.errors import ConfigurationError, UsageError

__all__ = ["FILE_NAME", "Context", "ContextStore", "config_dir", "contexts_path"]

#: The string fields of a context, in the order they are written and shown.
STRING_FIELDS = (
    "description",
    "profile",
    "region",
    "endpoint_url",
    "cluster",
    "service",
    "container",
    "transport",
)
TRANSPORTS = ("native", "plugin", "auto")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
#: The environment variables that take precedence over each context field.
ENVIRONMENT = {
    "profile": ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "endpoint_url": ("AWS_ENDPOINT_URL",),
    "cluster": ("CLUSTER_NAME",),
    "service": ("SERVICE_NAME",),
    "container": ("CONTAINER",),
    "transport": ("ECS_EXEC_TRANSPORT",),
}


@dataclass(frozen=True)
class Context:
    """One named set of connection settings; every field but the name is optional."""

    name: str
    description: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    cluster: str | None = None
    service: str | None = None
    container: str | None = None
    transport: str | None = None
    locked: bool = False

    def settings(self) -> dict[str, str | bool]:
        """The fields that are set, in file order (``locked`` only when true)."""
        values: dict[str, str | bool] = {
            key: value for key in STRING_FIELDS if (value := getattr(self, key)) is not None
        }
        if self.locked:
            values["locked"] = True
        return values


def check_name(name: str) -> str:
    """Return ``name`` if it can name a context.

    Raises:
        UsageError: empty, too long, or characters other than letters, digits, ``_.-``.
    """
    if not _NAME.match(name):
        raise UsageError(
            f"'{name}' cannot name a context",
            hint="use letters, digits, '_', '.' and '-' (up to 63, starting with a letter "
            "or digit)",
        )
    return name


def check_value(key: str, value: str) -> str:
    """Validate one string field of a context.

    Raises:
        UsageError: an unknown transport, an endpoint that is not an http(s) URL, or a
            value with control characters.
    """
    if not value.strip():
        raise UsageError(f"the {key} of a context cannot be empty", hint="leave it out instead")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise UsageError(f"the {key} of a context cannot contain control characters")
    if key == "transport" and value not in TRANSPORTS:
        raise UsageError(f"unknown transport '{value}'", hint="use native, plugin or auto")
    if key == "endpoint_url" and not value.startswith(("http://", "https://")):
        raise UsageError(
            f"endpoint URL '{value}' is not an http(s) URL",
            hint="use e.g. --endpoint-url http://127.0.0.1:4566",
        )
    return value


@dataclass(frozen=True)
class ContextStore:
    """The contents of the contexts file; changes return a new store (then :func:`save`)."""

    path: Path
    contexts: tuple[Context, ...] = ()
    current: str | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.contexts]

    def find(self, name: str) -> Context | None:
        return next((c for c in self.contexts if c.name == name), None)

    def get(self, name: str) -> Context:
        """The context called ``name``.

        Raises:
            UsageError: there is none; the message lists the known names.
        """
        context = self.find(name)
        if context is None:
            known = ", ".join(self.names) if self.contexts else "none yet"
            raise UsageError(
                f"no context named '{name}' (known: {known})",
                hint="see `ecs-exec context ls`; create one with `ecs-exec context create NAME`",
            )
        return context

    def create(self, context: Context) -> ContextStore:
        check_name(context.name)
        if self.find(context.name) is not None:
            raise UsageError(
                f"context '{context.name}' already exists",
                hint=f"change it with `ecs-exec context update {context.name} ...`",
            )
        return replace(self, contexts=(*self.contexts, context))

    def update(
        self, name: str, changes: Mapping[str, Any], *, create: bool = False
    ) -> ContextStore:
        """Set (a value) or clear (None) fields of a context, creating it if asked to.

        Raises:
            UsageError: an unknown setting or context, or an invalid value.
        """
        known = {f.name for f in fields(Context)} - {"name"}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise UsageError(f"unknown context setting(s): {', '.join(unknown)}")
        for key, value in changes.items():
            if key == "locked" and not isinstance(value, bool):
                raise UsageError("locked is true or false")
            if key != "locked" and value is not None:
                check_value(key, str(value))
        if create and self.find(name) is None:
            return self.create(replace(Context(name=check_name(name)), **changes))
        old = self.get(name)
        new = replace(old, **changes)
        return replace(self, contexts=tuple(new if c is old else c for c in self.contexts))

    def remove(self, name: str) -> ContextStore:
        old = self.get(name)
        current = None if self.current == name else self.current
        return replace(
            self, contexts=tuple(c for c in self.contexts if c is not old), current=current
        )

    def use(self, name: str | None) -> ContextStore:
        """Make ``name`` current; None (``context use -``) goes back to no context."""
        if name is not None:
            self.get(name)
        return replace(self, current=name)


def load(path: Path) -> ContextStore:
    """Read the contexts file; a missing file is an empty store.

    Raises:
        ConfigurationError: unreadable, not TOML (the message names the file and line), or
            settings ecs-exec does not know.
    """
    import tomllib  # here: most runs have no contexts file, and start-up time counts

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ContextStore(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"cannot read {path}: {reason}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends "(at line L, column C)": one line naming file and line.
        raise ConfigurationError(
            f"{path} is not valid TOML: {exc}",
            hint="fix the file by hand; ecs-exec does not rewrite a file it cannot read",
        ) from None
    return _parse(path, data)


def _parse(path: Path, data: dict[str, Any]) -> ContextStore:
    def bad(what: str) -> ConfigurationError:
        return ConfigurationError(
            f"{path}: {what}",
            hint="fix the file by hand; ecs-exec does not rewrite a file it cannot read",
        )

    unknown = sorted(set(data) - {"current-context", "contexts"})
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}")
    current = data.get("current-context")
    if current is not None and not isinstance(current, str):
        raise bad("current-context must be a string")
    table = data.get("contexts", {})
    if not isinstance(table, dict):
        raise bad("[contexts] must be a table of contexts")
    contexts: list[Context] = []
    for name, values in table.items():
        if not _NAME.match(name):
            raise bad(f"'{name}' cannot name a context")
        if not isinstance(values, dict):
            raise bad(f"context '{name}' must be a table")
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key == "locked":
                if not isinstance(value, bool):
                    raise bad(f"context '{name}': locked must be true or false")
            elif key in STRING_FIELDS:
                if not isinstance(value, str):
                    raise bad(f"context '{name}': {key} must be a string")
                try:
                    check_value(key, value)
                except UsageError as exc:
                    raise bad(f"context '{name}': {exc}") from None
            else:
                raise bad(f"context '{name}' has an unknown setting '{key}'")
            kwargs[key] = value
        contexts.append(Context(name=name, **kwargs))
    if current is not None and current not in table:
        raise bad(f"current-context '{current}' is not a context in the file")
    return ContextStore(path=path, contexts=tuple(contexts), current=current or None)


def toml_string(value: str) -> str:
    """A TOML basic string (double quotes, escapes for quote, backslash and controls)."""
    out = ['"']
    for char in value:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def render(store: ContextStore) -> str:
    """The file text for ``store`` (strings and booleans only: the schema is flat)."""
    lines = [
        "# ecs-exec contexts: `ecs-exec context --help`. Safe to edit by hand; ecs-exec",
        "# rewrites this file (without comments) when a context command changes it.",
    ]
    if store.current is not None:
        lines.append(f"current-context = {toml_string(store.current)}")
    for context in store.contexts:
        lines += ["", f"[contexts.{toml_string(context.name)}]"]
        for key, value in context.settings().items():
            rendered = ("true" if value else "false") if isinstance(value, bool) else None
            lines.append(f"{key} = {rendered or toml_string(str(value))}")
    return "\n".join(lines) + "\n"


def save(store: ContextStore) -> None:
    """Write the store atomically with mode 0600 (the directory 0700 when created).

    Raises:
        ConfigurationError: the directory or file cannot be written.
    """
    import tempfile

    path = store.path
    text = render(store)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}") from None


def selected_name(
    store: ContextStore, flag: str | None, env: Mapping[str, str]
) -> tuple[str | None, str]:
    """The context in effect and where it came from: ``--context``, ECS_EXEC_CONTEXT, or
    the current context of the file."""
    if flag:
        return flag, "--context"
    if env.get("ECS_EXEC_CONTEXT"):
        return env["ECS_EXEC_CONTEXT"], "ECS_EXEC_CONTEXT"
    return store.current, "current context"


def env_value(key: str, env: Mapping[str, str]) -> str | None:
    """The environment's value for a context field, if any variable sets it."""
    return next((env[v] for v in ENVIRONMENT.get(key, ()) if env.get(v)), None)


def effective_settings(
    flags: Mapping[str, str | None], context: Context | None, env: Mapping[str, str]
) -> dict[str, str | None]:
    """Apply the precedence: a flag, else the environment, else the context, else None.

    Args:
        flags: the values given on the command line (None when not given), keyed by
            context field name.
        context: the context in effect, or None.
        env: the process environment.

    Returns:
        For every context field (but ``description``), the value to use, None for "not
        set". When only service-specific endpoint variables (AWS_ENDPOINT_URL_ECS, ...) are
        set, the endpoint comes back None so that botocore applies them, as it does
        without a context.
    """
    result: dict[str, str | None] = {}
    for key in STRING_FIELDS[1:]:
        flag = flags.get(key)
        if flag:
            result[key] = flag
            continue
        from_env = env_value(key, env)
        if key == "endpoint_url" and any(
            name.startswith("AWS_ENDPOINT_URL") and value for name, value in env.items()
        ):
            from_env = env.get("AWS_ENDPOINT_URL") or ""
        if from_env is not None:
            result[key] = from_env or None
            continue
        result[key] = getattr(context, key) if context is not None else None
    return result


def describe(contexts: Iterable[Context]) -> list[dict[str, Any]]:
    """JSON-ready records of contexts (``context ls -o json``)."""
    return [{"name": c.name, **c.settings(), "locked": c.locked} for c in contexts]
