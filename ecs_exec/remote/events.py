"""Events the :class:`~ecs_exec.remote.decoder.StreamDecoder` yields."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ready:
    """The remote script set the terminal to raw mode; stdin frames may be sent now."""


@dataclass(frozen=True, slots=True)
class Stdout:
    """Bytes the command wrote to its stdout, exactly as written."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Stderr:
    """Bytes the command wrote to its stderr, exactly as written."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Exited:
    """The command ended; ``code`` is its shell exit status (127 not found, 128+N on signal N)."""

    code: int


@dataclass(frozen=True, slots=True)
class SetupFailed:
    """The remote script could not start: ``tool`` names the missing tool or resource.

    Besides command names (``base64``, ``stty``, ...) ``tool`` can be ``tty`` (stdin is no
    terminal) or ``tmpdir`` (no writable temporary directory).
    """

    tool: str


@dataclass(frozen=True, slots=True)
class Noise:
    """Bytes outside any record: plugin banners, text a program wrote to /dev/tty."""

    data: bytes


Event = Ready | Stdout | Stderr | Exited | SetupFailed | Noise
