"""A PATH of busybox applets, for sandbox containers with ``"sandbox": {"pathMode": "busybox"}``.

Such a container models a minimal image (``busybox:1.36``): its PATH holds one directory of
symlinks, one per applet, all pointing at the host's busybox binary, so a command finds
``sh``, ``stty`` or ``base64`` only as busybox provides them. The directory is built once per
sandbox from ``busybox --list``. When the host has no busybox, such containers cannot start
commands (the agent then behaves as for a command that is not found).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

logger = logging.getLogger("ecs_exec.sandbox.busybox")

#: Where Debian's ``busybox`` package installs it; PATH is searched as a fallback.
DEFAULT_BUSYBOX = "/bin/busybox"


def find_busybox() -> str | None:
    """The busybox binary to use, or None when the host has none."""
    if os.access(DEFAULT_BUSYBOX, os.X_OK):
        return DEFAULT_BUSYBOX
    return shutil.which("busybox")


class BusyboxPath:
    """A temporary directory of applet symlinks; ``path`` is the PATH value to use.

    Args:
        root: parent of the temporary directory (default: the system temp dir).
        busybox: the binary; default :func:`find_busybox`.

    Attributes:
        available: False when busybox is missing or ``--list`` failed; ``path`` is then None.
    """

    def __init__(self, root: str | Path | None = None, busybox: str | None = None) -> None:
        self.busybox = busybox or find_busybox()
        self.path: str | None = None
        self.applets: list[str] = []
        self._dir: str | None = None
        if self.busybox is None:
            logger.warning("busybox not found: busybox-only sandbox containers cannot run commands")
            return
        try:
            listing = subprocess.run(
                [self.busybox, "--list"], capture_output=True, check=True, timeout=10
            ).stdout.decode()
        except (OSError, subprocess.SubprocessError) as exc:
            logger.warning(
                "%s --list failed (%s): busybox-only containers cannot run", self.busybox, exc
            )
            return
        self._dir = tempfile.mkdtemp(prefix="ecs-exec-busybox-", dir=root)
        for name in listing.split():
            if "/" in name or name in (".", ".."):
                continue
            os.symlink(self.busybox, os.path.join(self._dir, name))
            self.applets.append(name)
        self.path = self._dir

    @property
    def available(self) -> bool:
        return self.path is not None

    def cleanup(self) -> None:
        """Remove the directory (idempotent)."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = self.path = None


__all__ = ["BusyboxPath", "find_busybox"]
