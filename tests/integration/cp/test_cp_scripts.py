"""The container-side cp scripts run directly under dash (coreutils) and BusyBox: the
named errors, verification, the cleanup after SIGKILL, and what happens without the
optional tools. (The sandbox tests drive the same scripts through a session.)"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ecs_exec.cp.scripts import UploadSpec, download_argv, parse_report, upload_argv
from tests.integration.remote.conftest import busybox_dir

DATA = b"exact \xef\xbf\xbd bytes\n" * 1000


@pytest.fixture(scope="module", params=["dash", "busybox"])
def path_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "busybox":
        return busybox_dir(tmp_path_factory.mktemp("bb"))
    dash = shutil.which("dash")
    if dash is None:
        pytest.skip("dash is not installed")
    shim = tmp_path_factory.mktemp("dash")
    (shim / "sh").symlink_to(dash)
    return f"{shim}:{os.environ['PATH']}"


def run(argv: list[str], path: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv, input=stdin, capture_output=True, env={"PATH": path}, timeout=30, check=False
    )


def spec(dest: Path | str, data: bytes = DATA, **changes: object) -> UploadSpec:
    fields: dict[str, object] = {
        "dest": str(dest),
        "name": "copy.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "tree": False,
        "preserve": True,
        "mode": 0o640,
        "mtime": 1_400_000_000,
    }
    fields.update(changes)
    return UploadSpec(**fields)  # type: ignore[arg-type]


def watchdog_started(parent: int) -> bool:
    """A child of ``parent`` leads a session of its own (the watchdog after setsid)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and int(fields[3]) == int(entry):
            return True
    return False


def temps(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".ecs-exec-cp.")]


def receiving(directory: Path) -> bool:
    """The upload is under way: its temporary holds the first bytes (so the script is past
    its set-up, whose signals a shell would only handle once its next command ends)."""
    try:
        return any((directory / name).stat().st_size >= len(DATA) for name in temps(directory))
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("setup", "recursive", "kind"),
    [
        ("missing", False, "nofile"),
        ("dir", False, "isdir"),
        ("file/", False, "notdir"),
        ("dangling", False, "dangling"),
        ("missing", True, "nofile"),
    ],
)
def test_download_errors_are_named(path_env, tmp_path, setup, recursive, kind):
    (tmp_path / "file").write_bytes(b"x")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dangling").symlink_to("nowhere")
    result = run(download_argv(f"{tmp_path}/{setup}", recursive=recursive), path_env)
    assert result.returncode == 3
    assert parse_report(result.stderr).error is not None
    assert parse_report(result.stderr).error[0] == kind  # type: ignore[index]
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("dest", "name", "tree", "kind"),
    [
        ("no-dir/x", "copy", False, "nodir"),
        ("file/x", "copy", False, "notdir"),
        ("file/", "copy", False, "notdir"),
        ("dir", "", False, "isdir"),  # stdin has no name to create inside a directory
        ("dir", "sub", False, "isdir"),  # a file cannot replace the directory dir/sub
        ("file", "copy", True, "notdir"),
    ],
)
def test_upload_errors_are_named_and_leave_nothing(path_env, tmp_path, dest, name, tree, kind):
    (tmp_path / "file").write_bytes(b"old")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    argv = upload_argv(spec(f"{tmp_path}/{dest}", name=name, tree=tree))
    result = run(argv, path_env, DATA)
    report = parse_report(result.stderr)
    assert report.error is not None
    assert report.error[0] == kind
    assert (tmp_path / "file").read_bytes() == b"old"
    assert temps(tmp_path) == []


def test_a_mismatch_keeps_the_old_file(path_env, tmp_path):
    (tmp_path / "copy.bin").write_bytes(b"old")
    result = run(upload_argv(spec(tmp_path)), path_env, DATA[:-1] + b"?")
    report = parse_report(result.stderr)
    assert report.error == ("mismatch", "")
    assert not report.done
    assert (tmp_path / "copy.bin").read_bytes() == b"old"
    assert temps(tmp_path) == []


def test_a_short_stream_keeps_the_old_file(path_env, tmp_path):
    (tmp_path / "copy.bin").write_bytes(b"old")
    result = run(upload_argv(spec(tmp_path)), path_env, DATA[:100])
    assert parse_report(result.stderr).error is not None
    assert (tmp_path / "copy.bin").read_bytes() == b"old"
    assert temps(tmp_path) == []


def test_a_killed_upload_leaves_no_temporary(path_env, tmp_path):
    """TerminateSession SIGKILLs the process group: no trap runs, the watchdog (in a
    session of its own) removes the temporary once the pipe it watches ends."""
    proc = subprocess.Popen(
        upload_argv(spec(tmp_path, size=10**9)),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": path_env},
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(DATA)
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        while not receiving(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiving(tmp_path), "the upload never started"
        while not watchdog_started(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        while temps(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert temps(tmp_path) == []
        assert not (tmp_path / "copy.bin").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


def test_an_interrupted_upload_removes_its_temporary(path_env, tmp_path):
    """SIGINT to the group (the client's interrupt): the trap removes the temporary."""
    proc = subprocess.Popen(
        upload_argv(spec(tmp_path, size=10**9)),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": path_env},
        start_new_session=True,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(DATA)
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        while not receiving(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert receiving(tmp_path), "the upload never started"
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
        assert temps(tmp_path) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()


def test_without_checksum_tools_sizes_are_compared(tmp_path, tmp_path_factory):
    bare = busybox_dir(
        tmp_path_factory.mktemp("nohash"), without=("sha256sum", "sha1sum", "md5sum")
    )
    (tmp_path / "f").write_bytes(DATA)
    down = run(download_argv(f"{tmp_path}/f", recursive=False), bare)
    report = parse_report(down.stderr)
    assert (report.checker, report.value) == ("wc", str(len(DATA)))
    up = run(upload_argv(spec(tmp_path / "g")), bare, DATA)
    report = parse_report(up.stderr)
    assert report.done
    assert report.checker == "wc"
    assert (tmp_path / "g").read_bytes() == DATA
    short = run(upload_argv(spec(tmp_path / "g")), bare, DATA[:10])
    assert parse_report(short.stderr).error is not None


def test_a_tree_without_tar_says_so(tmp_path, tmp_path_factory):
    bare = busybox_dir(tmp_path_factory.mktemp("notar"), without=("tar",))
    (tmp_path / "d").mkdir()
    down = run(download_argv(f"{tmp_path}/d", recursive=True), bare)
    assert parse_report(down.stderr).error == ("notar", "")
    up = run(upload_argv(spec(tmp_path / "new", tree=True)), bare, b"")
    assert parse_report(up.stderr).error == ("notar", "")
    # a single file needs no tar, even with -r
    (tmp_path / "f").write_bytes(DATA)
    one = run(download_argv(f"{tmp_path}/f", recursive=True), bare)
    assert one.returncode == 0
    assert one.stdout.split(b"\n", 1)[1] == DATA
