"""The local side without a session: sources, sinks, the temporary-then-rename rule, and
archives from a container that try to write outside the copy."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ecs_exec.cp.local import (
    FileSink,
    Progress,
    TreeSink,
    download_destination,
    measure,
    open_source,
)
from ecs_exec.errors import CopyError, UsageError


def tar_of(members: list[tuple[tarfile.TarInfo, bytes]]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer, mode="r|")


def entry(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1_600_000_000
    return info


def test_a_file_appears_only_on_commit(tmp_path):
    (tmp_path / "f").write_bytes(b"old")
    sink = FileSink(str(tmp_path / "f"), mode=0o600, mtime=1_600_000_000, preserve=True)
    sink.write(b"new data")
    sink.finish()
    assert (tmp_path / "f").read_bytes() == b"old"
    sink.commit()
    assert (tmp_path / "f").read_bytes() == b"new data"
    info = (tmp_path / "f").stat()
    assert (info.st_mode & 0o777, int(info.st_mtime)) == (0o600, 1_600_000_000)
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_a_discarded_file_leaves_the_old_one(tmp_path):
    (tmp_path / "f").write_bytes(b"old")
    sink = FileSink(str(tmp_path / "f"), mode=None, mtime=None, preserve=True)
    sink.write(b"partial")
    sink.discard()
    sink.discard()
    assert os.listdir(tmp_path) == ["f"]
    assert (tmp_path / "f").read_bytes() == b"old"


def test_a_tree_is_renamed_or_merged(tmp_path):
    members = [
        (entry(".", tarfile.DIRTYPE, mode=0o750), b""),
        (entry("./a", mode=0o600), b"A"),
        (entry("./sub", tarfile.DIRTYPE, mode=0o755), b""),
        (entry("./sub/b"), b"B"),
        (entry("./link", tarfile.SYMTYPE, "sub/b"), b""),
    ]
    sink = TreeSink(str(tmp_path / "t"), preserve=True, progress=Progress())
    sink.extract(tar_of(members))
    sink.commit()
    assert (tmp_path / "t" / "sub" / "b").read_bytes() == b"B"
    assert os.readlink(tmp_path / "t" / "link") == "sub/b"
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o750
    (tmp_path / "t" / "keep").write_bytes(b"K")
    members[1] = (entry("./a"), b"A2")
    sink = TreeSink(str(tmp_path / "t"), preserve=True, progress=None)
    sink.extract(tar_of(members))
    sink.commit()
    assert (tmp_path / "t" / "a").read_bytes() == b"A2"
    assert (tmp_path / "t" / "keep").read_bytes() == b"K"
    assert sorted(os.listdir(tmp_path)) == ["t"]


@pytest.mark.parametrize(
    "members",
    [
        [(entry("../escape"), b"x")],
        [(entry("/abs"), b"x")],
        [(entry("./l", tarfile.SYMTYPE, "/etc"), b""), (entry("./l/passwd"), b"x")],
        [(entry("./h", tarfile.LNKTYPE, "../../outside"), b"")],
    ],
    ids=["dotdot", "absolute", "through-a-symlink", "hard-link-outside"],
)
def test_archives_that_escape_are_refused(tmp_path, members):
    sink = TreeSink(str(tmp_path / "t"), preserve=True, progress=None)
    with pytest.raises(CopyError, match="outside the copy"):
        sink.extract(tar_of(members))
    sink.discard()
    assert os.listdir(tmp_path) == []


def test_kinds_cannot_be_swapped(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(CopyError, match="cannot overwrite directory"):
        FileSink(str(tmp_path / "d"), mode=None, mtime=None, preserve=True)
    with pytest.raises(CopyError, match="cannot overwrite non-directory"):
        TreeSink(str(tmp_path / "f"), preserve=True, progress=None)


def test_download_destination(tmp_path):
    (tmp_path / "d").mkdir()
    assert download_destination(str(tmp_path / "d"), "x") == str(tmp_path / "d" / "x")
    assert download_destination(str(tmp_path / "new"), "x") == str(tmp_path / "new")
    with pytest.raises(CopyError, match="no such directory"):
        download_destination(str(tmp_path / "missing" / "x"), "x")
    with pytest.raises(CopyError, match="no such directory"):
        download_destination(str(tmp_path / "missing") + "/", "x")


def test_sources_are_measured_and_sent_the_same(tmp_path):
    (tmp_path / "t" / "s").mkdir(parents=True)
    (tmp_path / "t" / "s" / "f").write_bytes(b"x" * 1000)
    source = open_source(str(tmp_path / "t"), recursive=True, preserve=True, stdin_fd=0)
    assert (source.name, source.tree) == ("t", True)
    sent: list[bytes] = []
    progress = Progress()
    source.write_to(sent.append, progress)
    digests = measure(source)
    assert digests.size == len(b"".join(sent)) == progress.done
    assert progress.files == 1
    with pytest.raises(UsageError, match="is a directory"):
        open_source(str(tmp_path / "t"), recursive=False, preserve=True, stdin_fd=0)
    with pytest.raises(CopyError, match="no such file"):
        open_source(str(tmp_path / "nope"), recursive=False, preserve=True, stdin_fd=0)


def test_stdin_is_spooled_and_removed(tmp_path):
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"from stdin")
    os.close(write_fd)
    source = open_source("-", recursive=False, preserve=True, stdin_fd=read_fd)
    os.close(read_fd)
    chunks: list[bytes] = []
    source.write_to(chunks.append, None)
    assert (source.name, b"".join(chunks)) == ("", b"from stdin")
    source.cleanup()
    with pytest.raises(FileNotFoundError):
        source.write_to(chunks.append, None)
