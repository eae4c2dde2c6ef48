"""`ecs-exec cp` against the sandbox, in BusyBox-only and coreutils containers: round trips
(up, down, compare) of an empty file, 20 MB of random bytes, a tree with odd names, and
stdin/stdout; named errors; the scope lock."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from tests.clihelpers import clean_env, run_in_process
from tests.integration.cp.treeutil import make_tree, snapshot

#: (task/container prefix of a remote path, what the container has)
CONTAINERS = [
    pytest.param(f"{demo.WEB_READY_1}/app", id="coreutils"),
    pytest.param(f"{demo.WORKER_READY}/worker", id="busybox"),
]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(fast=True) as sb:
        yield sb


@pytest.fixture(scope="module")
def env(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(tmp_path_factory.mktemp("home"), AWS_ENDPOINT_URL=sandbox.endpoint_url)


def cp(env: dict[str, str], *args: str, stdin: bytes = b"") -> tuple[int, bytes, str]:
    result = run_in_process(["cp", "--cluster", "demo", *args], env, stdin=stdin)
    return result.code, result.stdout, result.err


def leftovers(*dirs: Path) -> list[str]:
    return [p.name for d in dirs for p in d.iterdir() if p.name.startswith(".ecs-exec-cp.")]


@pytest.mark.parametrize("where", CONTAINERS)
def test_files_round_trip_exactly(env, tmp_path, where):
    local, remote = tmp_path / "local", tmp_path / "remote"
    local.mkdir()
    remote.mkdir()
    (local / "empty").write_bytes(b"")
    big = os.urandom(20 * 1024 * 1024)
    (local / "big.bin").write_bytes(big)
    os.chmod(local / "big.bin", 0o640)
    os.utime(local / "big.bin", (1_500_000_000, 1_500_000_000))
    for name in ("empty", "big.bin"):
        code, _, err = cp(env, str(local / name), f"{where}:{remote}/")
        assert (code, err) == (0, "")
        code, _, err = cp(env, f"{where}:{remote}/{name}", str(tmp_path / f"back-{name}"))
        assert (code, err) == (0, "")
    assert (tmp_path / "back-empty").read_bytes() == b""
    back = tmp_path / "back-big.bin"
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(big).digest()
    for copy in (remote / "big.bin", back):
        info = copy.stat()
        assert (info.st_mode & 0o7777, int(info.st_mtime)) == (0o640, 1_500_000_000)
    assert leftovers(local, remote, tmp_path) == []


@pytest.mark.parametrize("where", CONTAINERS)
def test_a_tree_round_trips_with_modes_links_and_odd_names(env, tmp_path, where):
    src = tmp_path / "src"
    make_tree(src)
    remote = tmp_path / "remote"
    remote.mkdir()
    code, _, err = cp(env, "-r", str(src), f"{where}:{remote}")  # into the existing dir
    assert (code, err) == (0, "")
    assert snapshot(remote / "src") == snapshot(src)
    code, _, err = cp(env, "-r", f"{where}:{remote}/src", str(tmp_path / "back"))
    assert (code, err) == (0, "")
    assert snapshot(tmp_path / "back") == snapshot(src)
    assert leftovers(tmp_path, remote) == []


@pytest.mark.parametrize("where", CONTAINERS)
def test_stdin_to_a_remote_file_and_back_to_stdout(env, tmp_path, where):
    data = os.urandom(300_000) + b"\xef\xbf\xbd\r\n\x00"
    code, _, err = cp(env, "-", f"{where}:{tmp_path}/from-stdin", stdin=data)
    assert (code, err) == (0, "")
    code, out, err = cp(env, f"{where}:{tmp_path}/from-stdin", "-")
    assert (code, err) == (0, "")
    assert out == data
