"""The wheel the Dockerfile installs builds, carries the entry points, and runs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.clihelpers import ROOT


def test_wheel_builds_and_runs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("ecs_exec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    assert "ecs-exec = ecs_exec.cli:main" in scripts
    assert "ecs-exec-plugin = ecs_exec.dropin.main:main" in scripts
    assert "ecs_exec/datachannel/channel.py" in names
    assert not any(n.startswith("tests/") for n in names)
    # A pure-Python wheel is importable as it is: run the CLI from it.
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from ecs_exec.cli import main; main()", "--version"],
        env={"PYTHONPATH": str(wheel), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.stdout.decode().startswith("ecs-exec ")


def test_dockerfile_copies_what_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert "USER " in text and "ENTRYPOINT" in text
