"""`ecs-exec cp` through the CLI, in process: usage errors, named failures with one line and
exit 255, the scope lock, and a container without tar."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.sandbox.state import SandboxState
from tests.clihelpers import Result, clean_env, run_in_process
from tests.integration.remote.conftest import busybox_dir

APP = f"{demo.WEB_READY_1}/app"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The demo world, but `app` of web's tasks has busybox without tar on its PATH."""
    no_tar = busybox_dir(tmp_path_factory.mktemp("no-tar"), without=("tar",))
    data = demo.demo_state_dict()
    for definition in data["taskDefinitions"]:
        for container in definition["containerDefinitions"]:
            if container["name"] == "app":
                container.setdefault("environment", []).append({"name": "PATH", "value": no_tar})
    with running_sandbox(state=SandboxState.from_dict(data), fast=True) as sb:
        yield sb


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path / "home", AWS_ENDPOINT_URL=sandbox.endpoint_url)


def cp(env: dict[str, str], *args: str) -> Result:
    return run_in_process(["cp", "--cluster", "demo", *args], env)


def one_error(result: Result, code: int, start: str) -> None:
    assert result.code == code, result.err
    lines = result.err.splitlines()
    assert lines[0].startswith(f"ecs-exec: error: {start}"), result.err
    assert all(line.startswith("hint: ") for line in lines[1:]), result.err


def test_usage_errors_exit_2(env, tmp_path):
    one_error(cp(env, "a", "b"), 2, "both paths are local")
    one_error(cp(env, ":a", f"{demo.WEB_READY_1}:b"), 2, "both paths are remote")
    one_error(cp(env, "-r", "-", ":x"), 2, "-r cannot read a directory from stdin")
    one_error(cp(env, str(tmp_path), f"{APP}:/tmp"), 2, f"'{tmp_path}' is a directory")


def test_named_failures_exit_255(env, tmp_path):
    missing = tmp_path / "missing"
    one_error(
        cp(env, f"{APP}:{missing}", str(tmp_path)),
        255,
        "no such file or directory in the container",
    )
    one_error(
        cp(env, f"{APP}:{tmp_path}", str(tmp_path / "x")),
        255,
        f"{tmp_path} in the container is a directory",
    )
    one_error(
        cp(env, str(missing), f"{APP}:{tmp_path}/"), 255, f"no such file or directory: {missing}"
    )
    (tmp_path / "file").write_bytes(b"x")
    one_error(
        cp(env, str(tmp_path / "file"), f"{APP}:{tmp_path}/file/x"),
        255,
        "not a directory in the container",
    )
    one_error(
        cp(env, str(tmp_path / "file"), f"{APP}:{missing}/x"),
        255,
        "no such directory in the container",
    )
    one_error(
        cp(env, f"{APP}:{tmp_path}/file", f"{missing}/x"), 255, f"no such directory: {missing}"
    )
    assert sorted(os.listdir(tmp_path)) == ["file", "home"]


def test_a_directory_copy_without_tar_says_so(env, tmp_path):
    (tmp_path / "d").mkdir()
    result = cp(env, "-r", f"{APP}:{tmp_path}/d", str(tmp_path / "back"))
    one_error(result, 255, "the container has no tar, which copying a directory needs")
    result = cp(env, "-r", str(tmp_path / "d"), f"{APP}:{tmp_path}/up")
    one_error(result, 255, "the container has no tar")
    # a single file needs no tar
    (tmp_path / "f").write_bytes(b"data")
    assert cp(env, str(tmp_path / "f"), f"{APP}:{tmp_path}/g").code == 0
    assert (tmp_path / "g").read_bytes() == b"data"


def test_cp_is_refused_under_the_lock(sandbox, tmp_path):
    gateway = clean_env(
        tmp_path, CLUSTER_NAME="demo", SERVICE_NAME="web", AWS_ENDPOINT_URL=sandbox.endpoint_url
    )
    result = run_in_process(["cp", ":/etc/hostname", str(tmp_path)], gateway)
    one_error(result, 2, "`cp` refused")
    allowed = dict(gateway, ECS_EXEC_LOCK_ALLOW="cp", CONTAINER="app")
    result = run_in_process(
        ["cp", f"{demo.WEB_READY_1}/log-router:/etc/hostname", str(tmp_path)], allowed
    )
    one_error(result, 2, "the container 'log-router' in the path")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (needs root and the right to mount: skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_is_named_on_both_sides(env, tmp_path, small_disk):
    data = os.urandom(2 * 1024 * 1024)
    (tmp_path / "big").write_bytes(data)
    (small_disk / "big").write_bytes(b"old")
    one_error(
        cp(env, str(tmp_path / "big"), f"{APP}:{small_disk}/"), 255, "the container's disk is full"
    )
    one_error(cp(env, f"{APP}:{tmp_path}/big", str(small_disk)), 255, "the local disk is full")
    assert os.listdir(small_disk) == ["big"]
    assert (small_disk / "big").read_bytes() == b"old"


def test_permission_denied_is_named_on_both_sides(env, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "f").write_bytes(b"data")
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        if os.access(locked, os.W_OK) and os.geteuid() != 0:
            pytest.skip("the immutable flag is not enforced")
        one_error(
            cp(env, str(tmp_path / "f"), f"{APP}:{locked}/"),
            255,
            "permission denied in the container",
        )
        one_error(cp(env, f"{APP}:{tmp_path}/f", str(locked)), 255, "permission denied")
        assert os.listdir(locked) == []
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


def test_no_preserve_gives_new_times_and_masked_modes(env, tmp_path):
    worker = f"{demo.WORKER_READY}/worker"
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"x")
    os.chmod(tree / "f", 0o777)
    os.utime(tree / "f", (1_000_000_000, 1_000_000_000))
    old = umask = os.umask(0o022)
    try:
        assert cp(env, "--no-preserve", str(tree / "f"), f"{worker}:{tmp_path}/up").code == 0
        assert cp(env, "--no-preserve", "-r", str(tree), f"{worker}:{tmp_path}/up-tree").code == 0
        assert cp(env, "--no-preserve", f"{worker}:{tree}/f", str(tmp_path / "down")).code == 0
    finally:
        os.umask(old)
    for copy in (tmp_path / "up", tmp_path / "up-tree" / "f", tmp_path / "down"):
        info = copy.stat()
        assert info.st_mode & 0o777 == 0o777 & ~umask, copy
        assert info.st_mtime > 1_000_000_000, copy


def run_with_tty_stderr(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """The CLI in process with stderr on a pseudo-terminal; returns the status and what the
    terminal showed."""
    from unittest import mock

    from ecs_exec.cli import run
    from ecs_exec.local.terminal import Console

    master, slave = os.openpty()
    shown = bytearray()
    try:
        with (
            open(os.devnull, "rb") as fin,
            open(os.devnull, "wb") as fout,
            mock.patch.dict(os.environ, env, clear=True),
        ):
            code = run(args, console=Console(fin.fileno(), fout.fileno(), slave, environ=env))
        os.close(slave)
        slave = -1
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return code, bytes(shown)


def test_a_terminal_shows_progress_and_the_checker(env, tmp_path):
    worker = f"{demo.WORKER_READY}/worker"
    (tmp_path / "f").write_bytes(os.urandom(100_000))
    code, shown = run_with_tty_stderr(
        ["cp", "--cluster", "demo", str(tmp_path / "f"), f"{worker}:{tmp_path}/g"], env
    )
    assert code == 0
    assert b"\r\x1b[K" in shown
    assert shown.rstrip().endswith(b"(verified with sha256sum)")
    assert b"copied 100.0 kB" in shown
    code, shown = run_with_tty_stderr(
        ["cp", "--quiet", "--cluster", "demo", str(tmp_path / "f"), f"{worker}:{tmp_path}/h"], env
    )
    assert (code, shown) == (0, b"")
