"""Shell environments the framing script must work in: dash, bash and busybox-only PATHs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUSYBOX = "/bin/busybox"


def busybox_dir(root: Path, *, without: tuple[str, ...] = ()) -> str:
    """A directory of busybox applet symlinks (minus ``without``), usable as the only PATH."""
    if not os.access(BUSYBOX, os.X_OK):
        pytest.skip(f"{BUSYBOX} is not installed; busybox-only environments cannot be tested")
    applets = subprocess.run(
        [BUSYBOX, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    root.mkdir(parents=True, exist_ok=True)
    for applet in applets:
        if applet not in without:
            (root / applet).symlink_to(BUSYBOX)
    return str(root)


@pytest.fixture(scope="session", params=["dash", "bash", "busybox"])
def shell_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """PATH under which ``sh`` is dash (coreutils), bash (coreutils) or busybox ash alone."""
    system_path = os.environ["PATH"]
    name = request.param
    if name == "busybox":
        return busybox_dir(tmp_path_factory.mktemp("busybox"))
    real = shutil.which(name)
    if real is None:
        pytest.skip(f"{name} is not installed")
    shim = tmp_path_factory.mktemp(name)
    (shim / "sh").symlink_to(real)
    return f"{shim}:{system_path}"
