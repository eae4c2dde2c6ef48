"""Interactive sessions under pexpect in a real PTY: prompt, resize, Ctrl-C, exit status."""

from __future__ import annotations

import sys

import pexpect
import pytest

from ecs_exec.sandbox import demo
from tests.clihelpers import ROOT

# One ready task named, so no picker comes up (test_picker_* covers the picker).
WEB = ["--cluster", "demo", "--task", demo.WEB_READY_2]


def spawn(env: dict[str, str], *args: str, rows: int = 40, cols: int = 132) -> pexpect.spawn:
    env = {**env, "PS1": "PROMPT$ ", "ENV": "", "BASH_ENV": ""}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ecs_exec", *args],
        env=env,
        cwd=str(ROOT),
        dimensions=(rows, cols),
        timeout=20,
    )
    return child


def test_shell_prompt_resize_ctrl_c_and_exit_status(fast_sandbox, env_for):
    child = spawn(env_for(fast_sandbox), *WEB, "--interactive", "--", "sh")
    try:
        child.sendline("PS1='PROMPT$ '")
        child.expect_exact("PROMPT$ ")
        child.sendline("echo $((6*7))")
        child.expect_exact("42")
        child.expect_exact("PROMPT$ ")
        # The real terminal size went out at once, not 80x24.
        child.sendline("stty size")
        child.expect_exact("40 132")
        child.expect_exact("PROMPT$ ")
        child.setwinsize(33, 99)
        # The new size arrives in its own time: wait for it remotely (not for a fixed time).
        child.sendline('until [ "$(stty size)" = "$((30+3)) 99" ]; do sleep 0.05; done; stty size')
        child.expect_exact("33 99")
        child.expect_exact("PROMPT$ ")
        # Ctrl-C interrupts the remote sleep; the shell and the session go on. It is sent once
        # the command runs in the foreground (it says so once it runs): a Ctrl-C typed ahead
        # can reach the shell between its fork and the child's own signal set-up, where the
        # child may miss it (seen once in a loop of loaded runs), as a person typing ahead would.
        child.sendline("sh -c 'echo ST''ARTED; exec sleep 30'")
        child.expect_exact("STARTED")
        child.sendcontrol("c")
        child.expect_exact("PROMPT$ ", timeout=5)
        child.sendline("echo still-here")
        child.expect_exact("still-here")
        child.sendline("exit 3")
        child.expect(pexpect.EOF, timeout=15)
    finally:
        child.close()
    assert child.exitstatus == 3


def test_default_shell_and_terminal_restored(fast_sandbox, env_for, tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    env = env_for(fast_sandbox)
    command = (
        f"stty -g > {before}; {sys.executable} -m ecs_exec {' '.join(WEB)}; "
        f"echo status=$?; stty -g > {after}"
    )
    child = pexpect.spawn("sh", ["-c", command], env=env, cwd=str(ROOT), timeout=20)
    try:
        child.sendline("echo shell=$0")
        child.expect(r"shell=\S*(bash|sh)")
        child.sendline("exit 7")
        child.expect_exact("status=7")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert before.read_text() == after.read_text()


@pytest.mark.parametrize("interactive", [True, False], ids=["flag", "implicit"])
def test_gateway_pty_interactive_pipe_bash(fast_sandbox, env_for, interactive):
    """hoop connect: env-configured, user args `--interactive --pipe /bin/bash`, under a PTY."""
    env = env_for(fast_sandbox, CLUSTER_NAME="demo", SERVICE_NAME="web", CONTAINER="app")
    args = ["--interactive", "--pipe", "/bin/bash"] if interactive else ["--pipe", "/bin/bash"]
    child = spawn(env, *args)
    try:
        # Two tasks are ready and this is a terminal: the picker asks; type to filter, Enter.
        child.expect_exact("choose one")
        child.send(demo.WEB_READY_2[:6])
        child.expect_exact(demo.WEB_READY_2)
        child.send("\r")
        if interactive:
            child.sendline("PS1='PROMPT$ '")
            child.expect_exact("PROMPT$ ")
            child.sendline("echo hi-$((1+1))")
            child.expect_exact("hi-2")
            child.sendline("exit")
        else:
            # --pipe from a terminal: stdin streams into bash; Ctrl-D ends it.
            child.sendline("echo hi-$((1+1))")
            child.expect_exact("hi-2")
            child.sendeof()
        child.expect(pexpect.EOF, timeout=15)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_ctrl_z_and_ctrl_backslash_reach_the_remote_as_bytes(fast_sandbox, env_for):
    """Raw mode: ^Z and ^\\ are not local signals; the remote sees the bytes themselves."""
    child = spawn(env_for(fast_sandbox), *WEB, "--interactive", "--", "sh")
    try:
        child.sendline("PS1='PROMPT$ '")
        child.expect_exact("PROMPT$ ")
        child.sendline("stty raw -echo; echo RAW-$((1+1)); head -c 3 | od -An -tx1; stty sane")
        child.expect_exact("RAW-2")  # the remote terminal is raw now: send the control bytes
        child.send(b"\x1a\x1c\x03")
        child.expect(r"1a 1c 03")
        child.expect_exact("PROMPT$ ")
        child.sendline("exit 0")
        child.expect(pexpect.EOF, timeout=15)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_session_terminated_meanwhile_is_named(sandbox, env_for):
    """TerminateSession from elsewhere: one line saying so, exit 255, not a blamed container."""
    child = spawn(env_for(sandbox), *WEB, "--interactive", "--", "sh")
    try:
        child.sendline("echo ready-$((1+1))")
        child.expect_exact("ready-2")
        (running,) = [s for s in sandbox.agent_sessions() if not s.finished]
        sandbox.state.sessions.terminate_session(running.session_id)
        child.expect_exact("the session ended without reporting the shell's exit status")
        child.expect(pexpect.EOF, timeout=15)
        assert b"container may have stopped" not in (child.before or b"")
    finally:
        child.close()
    assert child.exitstatus == 255
