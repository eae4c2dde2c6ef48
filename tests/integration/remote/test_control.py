"""The script's control frames and exit handshake, under dash, bash and busybox."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from ecs_exec.remote import Event, Exited, Ready, Stderr, StdinEncoder, Stdout
from tests.integration.remote.harness import AgentEmulator, run_oneoff


def test_script_waits_for_the_confirmation(shell_path: str) -> None:
    """After the exit record the script is still there; the confirmation lets it go."""
    seen: list[bool] = []

    def on_event(event: Event, agent: AgentEmulator) -> None:
        if isinstance(event, Exited):
            seen.append(agent.process.poll() is None)
            agent.write(StdinEncoder.confirm_exit())

    result = run_oneoff(
        ["sh", "-c", "echo out; exit 42"], path=shell_path, confirm=False, on_event=on_event
    )
    assert (result.code, result.stdout, seen) == (42, b"out\n", [True])
    assert result.leftover_processes is False


def test_heartbeats_are_answered_and_change_nothing(shell_path: str, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    script = f'echo a; while [ ! -e "{gate}" ]; do sleep 0.01; done; echo b; exit 5'

    def on_event(event: Event, agent: AgentEmulator) -> None:
        if isinstance(event, Stdout) and event.data == b"a\n":
            for _ in range(3):
                agent.write(StdinEncoder.heartbeat())
            # A heartbeat in the middle of stdin frames and after EOF is fine too.
            agent.write(b"       3xyz" + StdinEncoder.heartbeat() + b"       0")
            agent.write(StdinEncoder.heartbeat())
            threading.Timer(0.3, gate.touch).start()

    result = run_oneoff(
        ["sh", "-c", script], stdin_mode="raw", stdin=[], path=shell_path, on_event=on_event
    )
    assert (result.code, result.stdout, result.stderr) == (5, b"a\nb\n", b"")
    assert result.heartbeats == 5
    assert result.leftover_processes is False


def interrupting(event: Event, agent: AgentEmulator) -> None:
    if isinstance(event, Stdout) and event.data.startswith(b"started"):
        agent.write(StdinEncoder.interrupt())


def test_interrupt_sends_sigint_to_the_command(shell_path: str, tmp_path: Path) -> None:
    script = "trap 'echo got-INT >&2; exit 3' INT; echo started; while :; do sleep 1; done"
    result = run_oneoff(
        ["sh", "-c", script], path=shell_path, tmpdir=str(tmp_path), on_event=interrupting
    )
    assert (result.code, result.stderr) == (3, b"got-INT\n")
    assert os.listdir(tmp_path) == []  # the script's temporary directory is gone
    assert result.leftover_processes is False


def test_interrupt_escalates_to_sigterm(shell_path: str, tmp_path: Path) -> None:
    script = (
        "trap '' INT; trap 'echo got-TERM >&2; exit 4' TERM; echo started; "
        "while :; do sleep 1; done"
    )
    result = run_oneoff(
        ["sh", "-c", script], path=shell_path, tmpdir=str(tmp_path), on_event=interrupting
    )
    assert result.code == 4
    assert result.stderr.endswith(b"got-TERM\n")  # after the shell's note about sleep
    assert os.listdir(tmp_path) == []
    assert result.leftover_processes is False


def test_interrupt_reaches_the_whole_process_group(shell_path: str, tmp_path: Path) -> None:
    """As a terminal's Ctrl-C: a pipeline's members all get SIGINT, not just the first."""
    script = "echo started; sleep 60 | sleep 61; echo never"
    result = run_oneoff(
        ["sh", "-c", script], path=shell_path, tmpdir=str(tmp_path), on_event=interrupting
    )
    assert result.code == 130
    assert result.stdout == b"started\n"
    assert os.listdir(tmp_path) == []
    assert result.leftover_processes is False


def test_interrupt_with_stdin_attached(shell_path: str, tmp_path: Path) -> None:
    """stdin still open (no EOF yet): the interrupt frame follows the data frames."""
    done = threading.Event()

    def stdin() -> Iterator[bytes]:
        yield b"some input"
        done.wait(30)

    def on_event(event: Event, agent: AgentEmulator) -> None:
        interrupting(event, agent)
        if isinstance(event, Exited):
            done.set()

    # exec: the interrupt comes right after "started", when a shell that forks cat may be
    # between its fork and the child's exec. Once in 15 loaded runs of the suite the dash
    # variant ended by the SIGTERM 2 s later (143), as if that window swallowed the SIGINT
    # (dash catches SIGINT under -c); not reproduced in 480 targeted runs.
    script = "echo started; exec cat >/dev/null"
    result = run_oneoff(
        ["sh", "-c", script],
        stdin_mode="base64",
        stdin=stdin(),
        path=shell_path,
        tmpdir=str(tmp_path),
        on_event=on_event,
    )
    assert (result.code, result.stdout) == (130, b"started\n")
    assert os.listdir(tmp_path) == []


def test_temporary_directory_is_gone_before_the_exit_record(
    shell_path: str, tmp_path: Path
) -> None:
    left: list[list[str]] = []

    def on_event(event: Event, agent: AgentEmulator) -> None:
        if isinstance(event, Exited):
            left.append(os.listdir(tmp_path))

    result = run_oneoff(["true"], path=shell_path, tmpdir=str(tmp_path), on_event=on_event)
    assert (result.code, left) == (0, [[]])


def test_command_not_found_reads_as_such(shell_path: str) -> None:
    result = run_oneoff(["no-such-command-ecs-exec", "arg"], path=shell_path)
    assert result.code == 127
    assert result.stderr == b"ecs-exec: no-such-command-ecs-exec: command not found\n"
    assert result.stdout == b""


def test_not_executable_reads_as_such(shell_path: str, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    result = run_oneoff([str(script)], path=shell_path)
    assert result.code == 126
    assert result.stderr == f"ecs-exec: {script}: Permission denied\n".encode()


def test_names_of_script_functions_are_not_run(shell_path: str) -> None:
    """The script's own shell functions (a, e, f, i, r, w) never shadow a command."""
    for name in ("a", "e", "f", "i", "r", "w"):
        if shutil.which(name, path=shell_path):
            continue  # busybox has a `w` applet, procps a `w` command: those are real
        result = run_oneoff([name], path=shell_path, timeout=10)
        assert result.code == 127, name
        assert result.stderr == f"ecs-exec: {name}: command not found\n".encode()


def test_command_found_through_path_with_relative_entries(shell_path: str, tmp_path: Path) -> None:
    tool = tmp_path / "mytool"
    tool.write_text('#!/bin/sh\necho mine "$@"\n')
    tool.chmod(0o755)
    result = run_oneoff(["mytool", "x y"], path=f"{tmp_path}:{shell_path}")
    assert (result.code, result.stdout) == (0, b"mine x y\n")


def test_ready_comes_before_everything(shell_path: str) -> None:
    result = run_oneoff(["sh", "-c", "echo x >&2"], path=shell_path)
    kinds = [type(event) for _, event in result.events]
    assert kinds[0] is Ready
    assert kinds[1:] == [Stderr, Exited]


def test_interactive_wrapper_waits_for_confirmation_and_echoes_nothing() -> None:
    from ecs_exec.remote import ExitMarkerFilter, build_interactive_command

    nonce = "8899aabbccddeeff"
    agent = AgentEmulator(build_interactive_command(["sh", "-c", "echo hi; exit 5"], nonce=nonce))
    flt = ExitMarkerFilter(nonce)
    shown, after = b"", b""
    alive_at_marker: bool | None = None
    while (item := agent.output.get(timeout=10)) is not None:
        if alive_at_marker is not None:
            after += item[1]
            continue
        shown += flt.feed(item[1])
        if flt.exit_code is not None:
            alive_at_marker = agent.process.poll() is None
            agent.write(b"typed ahead" + flt.confirmation)
    assert agent.close() == 5
    assert (shown, flt.exit_code, alive_at_marker) == (b"hi\r\n", 5, True)
    assert after == b""  # raw mode, no echo: the confirmation did not come back
    assert not agent.leftover_processes
