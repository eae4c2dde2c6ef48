"""An interrupted `ecs-exec cp` leaves the old destination or nothing, and no temporary file,
on either side: Ctrl-C in both directions, and a connection lost for good."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.state import SessionStatus
from tests.clihelpers import ECS_EXEC, ROOT, clean_env, run_in_process

TERMINATED = SessionStatus.TERMINATED
WHERE = {"coreutils": f"{demo.WEB_READY_1}/app", "busybox": f"{demo.WORKER_READY}/worker"}


def temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".ecs-exec-cp.")]


def receiving(directory: Path) -> bool:
    """A temporary there holds data: the copy is under way."""
    try:
        return any((directory / name).stat().st_size > 0 for name in temps(directory))
    except FileNotFoundError:
        return False


def wait_for(condition, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def interrupt_when_temp_appears(args: list[str], env: dict[str, str], watched: Path) -> int:
    proc = subprocess.Popen(
        [*ECS_EXEC, "cp", "--cluster", "demo", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert wait_for(lambda: receiving(watched) or proc.poll() is not None)
        assert proc.poll() is None, "the copy ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
        assert "interrupted" in err, err
        return code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_ctrl_c_during_an_upload_keeps_the_old_file(fast_sandbox, env_for, tmp_path):
    source, remote = tmp_path / "big", tmp_path / "remote"
    remote.mkdir()
    with open(source, "wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: cheap to make, slow enough to send
    (remote / "big").write_bytes(b"old")
    code = interrupt_when_temp_appears(
        [str(source), f"{WHERE['busybox']}:{remote}/"], env_for(fast_sandbox), remote
    )
    assert code == 130
    assert (remote / "big").read_bytes() == b"old"
    assert wait_for(lambda: temps(remote) == [])


def test_ctrl_c_during_a_download_keeps_the_old_file(fast_sandbox, env_for, tmp_path):
    remote, local = tmp_path / "remote", tmp_path / "local"
    remote.mkdir()
    local.mkdir()
    (remote / "data").write_bytes(os.urandom(48 * 1024 * 1024))
    (local / "data").write_bytes(b"old")
    code = interrupt_when_temp_appears(
        [f"{WHERE['coreutils']}:{remote}/data", str(local)], env_for(fast_sandbox), local
    )
    assert code == 130
    assert (local / "data").read_bytes() == b"old"
    assert temps(local) == []


def test_a_session_lost_mid_upload_leaves_no_temporary_in_the_container(fast_sandbox, tmp_path):
    """The session ends mid-upload; the agent kills the script with SIGKILL (no trap runs);
    the watchdog removes the file."""
    env = clean_env(tmp_path / "home", AWS_ENDPOINT_URL=fast_sandbox.endpoint_url)
    source, remote = tmp_path / "big", tmp_path / "remote"
    remote.mkdir()
    with open(source, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    seen: list[str] = []
    ended: list[str] = []
    done = threading.Event()

    def watch() -> None:
        # Once the upload is under way (its temporary holds data, or the test proves
        # nothing), the session is lost: ended by the service, as after a connection that
        # cannot be resumed. Ended at that moment, not after a count of the agent's frames
        # (its acks are not counted, so a count could fall after the exit record).
        while not done.is_set() and not seen:
            if receiving(remote):
                seen.extend(temps(remote))
                sessions = fast_sandbox.state.sessions
                (session,) = [s for s in sessions.sessions() if s.status is not TERMINATED]
                ended.append(session.session_id)
                sessions.terminate_session(session.session_id)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run_in_process(
            ["cp", "--cluster", "demo", str(source), f"{WHERE['busybox']}:{remote}/"], env
        )
    finally:
        done.set()
        watcher.join()
    assert seen, "the upload never created its temporary"
    assert result.code == 255, result.err
    assert "session" in result.err or "connection" in result.err, result.err
    # It learned of the end from channel_closed, mid-upload: not from a dead connection it
    # then tried to resume (the sandbox once stopped reading, sent nothing and closed late).
    resumed = fast_sandbox.requests.bodies("ResumeSession")
    assert not [body for body in resumed if body.get("SessionId") in ended]
    assert not (remote / "big").exists()
    assert wait_for(lambda: temps(remote) == [])
