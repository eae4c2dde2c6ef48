"""The keep-alive a `run` task's container runs, under dash and BusyBox sh: it ends by
itself after its lifetime, and at once (status 0) on StopTask's SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ecs_exec.run import keepalive

SHELLS = [
    pytest.param(["dash"], id="dash"),
    pytest.param(["busybox", "sh"], id="busybox"),
]


def _shell(argv: list[str]) -> list[str]:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return argv


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_the_command_rounds_the_lifetime_up():
    assert keepalive.command(0.2)[-2:] == [keepalive.NAME, "1"]
    assert keepalive.command(3600)[:3] == ["sh", "-c", keepalive.SCRIPT]


@pytest.mark.parametrize("shell", SHELLS)
def test_it_ends_by_itself_after_its_lifetime(shell):
    argv = [*_shell(shell), "-c", keepalive.SCRIPT, keepalive.NAME, "0.05"]
    assert subprocess.run(argv, timeout=10).returncode == 0


@pytest.mark.parametrize("shell", SHELLS)
def test_sigterm_ends_it_at_once(shell):
    argv = [*_shell(shell), "-c", keepalive.SCRIPT, keepalive.NAME, "300"]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not _children(proc.pid):  # the sleep runs: the trap is set
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the orphaned sleep, as the container's end would
        proc.wait()


def test_an_entry_point_runs_its_arguments():
    argv = [*keepalive.ENTRY_POINT, "sh", "-c", 'echo "$0 $1"', "a", "b"]
    out = subprocess.run(argv, capture_output=True, timeout=10, check=True).stdout
    assert out == b"a b\n"
