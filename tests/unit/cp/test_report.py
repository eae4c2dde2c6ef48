"""The scripts' reports, headers and argv, the error names, and the progress line."""

from __future__ import annotations

import pytest

from ecs_exec.cp.local import Digests, Progress
from ecs_exec.cp.outcome import remote_error, verify
from ecs_exec.cp.progress import human_size, render
from ecs_exec.cp.scripts import (
    Header,
    UploadSpec,
    check_remote_word,
    parse_header,
    parse_report,
    upload_argv,
)
from ecs_exec.errors import CopyError, UsageError


def test_parse_report():
    report = parse_report(
        b"tar: ./x: Cannot open: Permission denied\n"
        b"ecs-exec-cp: E read\n"
        b"ecs-exec-cp: E later ignored\n"
        b"ecs-exec-cp: W mtime\n"
        b"ecs-exec-cp: H sha256sum abc\n"
        b"ecs-exec-cp: D\n"
    )
    assert report.error == ("read", "")
    assert (report.checker, report.value, report.done) == ("sha256sum", "abc", True)
    assert report.warnings == ["mtime"]
    assert report.tool_lines == ["tar: ./x: Cannot open: Permission denied"]


@pytest.mark.parametrize(
    ("line", "header"),
    [
        (b"d\n", Header("d")),
        (b"f 10 644 1700000000\n", Header("f", 10, 0o644, 1_700_000_000)),
        (b"f - - -\n", Header("f")),
    ],
)
def test_parse_header(line, header):
    assert parse_header(line) == header


def test_a_bad_header_is_refused():
    with pytest.raises(ValueError, match="not a cp header"):
        parse_header(b"garbage\n")


@pytest.mark.parametrize(
    ("stderr", "kind", "start"),
    [
        (b"ecs-exec-cp: E nofile\n", "no-such-file", "no such file or directory in the container"),
        (b"ecs-exec-cp: E perm /x\n", "permission", "permission denied in the container: /x"),
        (b"ecs-exec-cp: E notdir /x\n", "not-a-directory", "not a directory in the container"),
        (b"ecs-exec-cp: E isdir\n", "is-a-directory", "/p in the container is a directory"),
        (b"ecs-exec-cp: E notar\n", "no-tar", "the container has no tar"),
        (b"ecs-exec-cp: E mismatch\n", "verify-failed", "the checksum of the copy of /p"),
        (
            b"tee: /x/.ecs-exec-cp.1: No space left on device\necs-exec-cp: E write\n",
            "disk-full",
            "the container's disk is full",
        ),
        (b"mv: cannot move: Permission denied\necs-exec-cp: E write\n", "permission", "perm"),
        (
            b"weird: thing\necs-exec-cp: E merge\n",
            "remote",
            "the copy failed in the container: weird",
        ),
    ],
)
def test_remote_errors_are_named(stderr, kind, start):
    error = remote_error(parse_report(stderr), "/p", upload=False)
    assert isinstance(error, CopyError)
    assert error.kind == kind
    assert error.message.startswith(start)
    assert "\n" not in error.message


def testverify():
    digests = Digests()
    digests.update(b"abc")
    sha = digests.value("sha256sum")
    assert (
        verify(parse_report(f"ecs-exec-cp: H sha256sum {sha}\n".encode()), digests, False)
        == "sha256sum"
    )
    assert verify(parse_report(b"ecs-exec-cp: H wc 3\n"), digests, False) == "wc"
    assert verify(parse_report(b"ecs-exec-cp: H none\n"), digests, False) == "none"
    with pytest.raises(CopyError, match="md5sum differs"):
        verify(parse_report(b"ecs-exec-cp: H md5sum 00\n"), digests, False)


def test_upload_argv_carries_metadata():
    spec = UploadSpec("/d", "n", 3, "s", "m", tree=False, preserve=False, mode=0o100755, mtime=0)
    argv = upload_argv(spec)
    assert argv[4:] == ["f", "/d", "n", "3", "s", "m", "-", "755", "0", "197001010000.00"]


def test_non_utf8_remote_words_are_refused():
    assert check_remote_word("/ok/é", "remote path") == "/ok/é"
    with pytest.raises(UsageError, match="not valid UTF-8"):
        check_remote_word("bad\udcff", "file name")


def test_progress_line():
    progress = Progress(total=20_000_000, done=5_000_000, started=0.0, current="a/b.bin")
    line = render(progress, 5.0, 100)
    assert line == "a/b.bin  5.0 MB / 20.0 MB (25%)  1.0 MB/s  ETA 0:15"
    assert len(render(progress, 5.0, 30)) <= 30
    assert human_size(999) == "999 B"
    assert human_size(1500) == "1.5 kB"
