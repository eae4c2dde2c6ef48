"""How the sandbox starts a command: a session leader whose controlling terminal is the PTY,
with default signal dispositions, through ``setsid -c`` or, without it, a forked child."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
from pathlib import Path

import pytest

from ecs_exec.sandbox import pty_process
from ecs_exec.sandbox.pty_process import CommandStartError, PtyProcess

ENV = {"PATH": os.defpath, "LC_ALL": "C"}
# /dev/tty opens only in a process that has a controlling terminal; SigIgn is the mask of
# ignored signals (SIGQUIT is bit 3 from the right, value 4).
PROBE = (
    "sh -c 'set -- $(cat /proc/$$/stat); echo sid=$6 pid=$$; "
    ": </dev/tty && echo ctty; grep SigIgn /proc/self/status'"
)


@pytest.fixture(params=["setsid", "fork"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "setsid":
        if pty_process._session_helper() is None:
            pytest.skip("no setsid with -c on this host")
    else:
        monkeypatch.setattr(pty_process, "_session_helper", lambda: None)
    return str(request.param)


def run(command: str, cwd: str = "/") -> str:
    async def main() -> bytes:
        process = PtyProcess.start(command, environment=ENV, cwd=cwd)
        chunks = []
        try:
            while data := await asyncio.wait_for(process.read(4096), 10):
                chunks.append(data)
            assert await process.reap(10) == 0
        finally:
            process.close()
        return b"".join(chunks)

    return asyncio.run(main()).decode().replace("\r\n", "\n")


def test_the_command_leads_a_session_on_its_pty(way: str) -> None:
    out = run(PROBE)
    fields = dict(word.split("=") for word in out.splitlines()[0].split())
    assert fields["sid"] == fields["pid"], out  # a session leader...
    assert "ctty" in out.splitlines(), out  # ...whose controlling terminal is the PTY


def test_signals_ignored_by_the_sandbox_are_not_passed_on(way: str) -> None:
    previous = signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    try:
        out = run(PROBE)
    finally:
        signal.signal(signal.SIGQUIT, previous)
    (line,) = [line for line in out.splitlines() if line.startswith("SigIgn")]
    assert int(line.split()[1], 16) & (1 << (signal.SIGQUIT - 1)) == 0, out


def test_a_missing_command_does_not_start(way: str) -> None:
    with pytest.raises(CommandStartError):
        PtyProcess.start("no-such-command-here", environment=ENV, cwd="/")


def test_a_file_that_is_not_executable_does_not_start(way: str, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(CommandStartError):
        PtyProcess.start(str(script), environment=ENV, cwd="/")


def test_a_relative_path_is_found_in_the_working_directory(way: str, tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho hi from $PWD\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert run("./script", cwd=str(tmp_path)) == f"hi from {tmp_path}\n"
