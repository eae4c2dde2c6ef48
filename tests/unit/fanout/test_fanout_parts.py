"""The fan-out's parts without AWS: line-atomic prefixed output, labels, the token bucket,
the stdin spool, the request's checks, the JSON document and the exit-status rule."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ecs_exec.errors import UsageError
from ecs_exec.fanout import spool as spool_module
from ecs_exec.fanout.output import CaptureSink, LineSink, OrderedOutput, labels, short_ids
from ecs_exec.fanout.request import DEFAULT_PARALLEL, parse_duration, parse_task_refs, plan_fanout
from ecs_exec.fanout.results import Status, TaskResult, exit_status, summary_lines
from ecs_exec.fanout.spool import StdinSpool
from ecs_exec.fanout.throttle import MIN_RATE, StartThrottle
from ecs_exec.session.runner import ExecRequest

ONEOFF = ExecRequest(argv=("true",), interactive=False, attach_stdin=False)


def test_prefixed_lines_are_whole_and_never_interleaved(tmp_path: Path) -> None:
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)

    async def main() -> None:
        output = OrderedOutput()
        a, b = LineSink(output, fd, b"a | "), LineSink(output, fd, b"b | ")
        await a.write(b"one ")
        await b.write(b"x\ny")
        await a.write(b"two\nthree\n")
        await b.write(b"z")
        await a.write(b"no newline at the end")
        await a.close()
        await b.close()
        await output.close()

    asyncio.run(main())
    os.close(fd)
    assert path.read_bytes().splitlines() == [
        b"b | x",
        b"a | one two",
        b"a | three",
        b"a | no newline at the end",
        b"b | yz",
    ]


def test_a_line_longer_than_the_limit_is_cut(tmp_path: Path, monkeypatch) -> None:
    from ecs_exec.fanout import output as output_module

    monkeypatch.setattr(output_module, "MAX_LINE", 8)
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)

    async def main() -> None:
        output = OrderedOutput()
        sink = LineSink(output, fd, b"t | ")
        await sink.write(b"0123456789abc")
        await sink.write(b"d\n")
        await sink.close()
        await output.close()

    asyncio.run(main())
    os.close(fd)
    assert path.read_bytes() == b"t | 0123456789abc\nt | d\n"


def test_capture_moves_to_a_file_and_reads_back() -> None:
    async def main() -> bytes:
        sink = CaptureSink()
        for _ in range(40):
            await sink.write(b"x" * 4096)
        try:
            return b"".join([chunk async for chunk in sink.chunks()])
        finally:
            sink.discard()

    assert asyncio.run(main()) == b"x" * 4096 * 40


def test_short_ids_and_labels() -> None:
    ids = ["abcdef0123", "abcdef0199", "ffffffff00"]
    assert short_ids(ids) == {
        "abcdef0123": "abcdef012",
        "abcdef0199": "abcdef019",
        "ffffffff00": "ffffffff",
    }
    plain = labels(
        [("abcdef0123", "app"), ("ffffffff00", "web")], show_container=True, colour=False
    )
    assert plain[("abcdef0123", "app")] == b"abcdef01/app | "
    assert plain[("ffffffff00", "web")] == b"ffffffff/web | "
    coloured = labels([("abcdef0123", "app")], show_container=False, colour=True)
    assert coloured[("abcdef0123", "app")] == b"\x1b[32mabcdef01\x1b[0m | "


def test_the_bucket_halves_on_throttling_and_spreads_calls() -> None:
    now = [0.0]
    bucket = StartThrottle(burst=2, rate=4, clock=lambda: now[0], rand=lambda: 0.5)

    async def take() -> None:
        await bucket.acquire()

    asyncio.run(take())
    asyncio.run(take())
    assert bucket.tokens == 0
    bucket.throttled()
    assert (bucket.rate, bucket.throttled_calls) == (2, 1)
    bucket.throttled()  # the calls in flight come back throttled too: one halving
    assert (bucket.rate, bucket.throttled_calls) == (2, 2)
    for _ in range(10):
        now[0] += 1.0
        bucket.throttled()
    assert bucket.rate == MIN_RATE
    bucket.succeeded()
    assert bucket.rate == MIN_RATE + 1
    now[0] += 10.0  # the bucket refills up to its size
    asyncio.run(take())
    assert bucket.tokens == 1
    assert bucket.backoff(0) == 0.05 and bucket.backoff(3) == 0.4 and bucket.backoff(30) == 2.5


def test_stdin_spool_spills_to_disk_and_every_reader_gets_it_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_module, "MEMORY_LIMIT", 100_000)
    data = os.urandom(300_000)
    path = tmp_path / "in"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)

    async def main() -> tuple[bool, list[bytes]]:
        spool = await StdinSpool.read(fd)
        try:
            readers = [spool.reader() for _ in range(3)]
            got = [b"".join([c async for c in reader]) for reader in readers]
            return spool.on_disk, got
        finally:
            spool.close()

    on_disk, got = asyncio.run(main())
    os.close(fd)
    assert on_disk
    assert got == [data, data, data]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90", 90.0), ("1.5", 1.5), ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h", 3600)],
)
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds


def test_requests() -> None:
    assert parse_task_refs("a, b,a") == ("a", "b")
    request = plan_fanout(ONEOFF, all_tasks=True, tasks=None, task=None)
    assert (request.parallel, request.output, request.timeout) == (DEFAULT_PARALLEL, "prefix", None)
    request = plan_fanout(
        ONEOFF,
        all_tasks=False,
        tasks="a,b",
        task=None,
        parallel=0,
        output="json",
        timeout="2m",
        fail_fast=True,
    )
    assert (request.task_refs, request.parallel, request.output) == (("a", "b"), 0, "json")
    assert (request.timeout, request.fail_fast) == (120, True)
    with pytest.raises(UsageError, match="-o 'yaml' is not an output format"):
        plan_fanout(ONEOFF, all_tasks=True, tasks=None, task=None, output="yaml")


def result(status: Status, code: int | None = None) -> TaskResult:
    return TaskResult(
        "0" * 32,
        "arn:task",
        "app",
        status,
        exit_status=code,
        error=None if status is Status.EXITED else "why",
    )


def test_exit_status_rule() -> None:
    ok, bad = result(Status.EXITED, 0), result(Status.EXITED, 3)
    assert exit_status([ok, ok], signal=None, stdout_closed=False) == 0
    assert exit_status([ok, bad], signal=None, stdout_closed=False) == 1
    assert exit_status([ok, result(Status.TIMED_OUT)], signal=None, stdout_closed=False) == 1
    assert exit_status([bad, result(Status.CANCELLED)], signal=None, stdout_closed=False) == 1
    for unreached in (Status.ERROR, Status.NOT_READY):
        assert exit_status([bad, result(unreached)], signal=None, stdout_closed=False) == 255
    assert exit_status([result(Status.ERROR)], signal=2, stdout_closed=False) == 130
    assert exit_status([ok], signal=None, stdout_closed=True) == 141


def test_json_document_is_stable() -> None:
    item = TaskResult(
        "t" * 32,
        "arn:t",
        "app",
        Status.EXITED,
        exit_status=0,
        started_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        duration=1.23456,
    )
    doc = json.loads(item.to_json(b"\xff\x00", "é\n".encode()))
    assert doc == {
        "taskId": "t" * 32,
        "taskArn": "arn:t",
        "container": "app",
        "status": "exited",
        "exitStatus": 0,
        "error": None,
        "startedAt": "2026-01-02T03:04:05.678Z",
        "durationSeconds": 1.235,
        "stdout": base64.b64encode(b"\xff\x00").decode(),
        "stdoutEncoding": "base64",
        "stderr": "é\n",
        "stderrEncoding": "utf-8",
    }


def test_summary_names_each_task_that_did_not_succeed() -> None:
    bad = TaskResult("a" * 32, "arn:a", "app", Status.EXITED, exit_status=3)
    lost = TaskResult("b" * 32, "arn:b", "app", Status.ERROR, error="session lost")
    lines = summary_lines(
        [bad, lost, result(Status.EXITED, 0)], {"a" * 32: "aaaaaaaa"}, elapsed=1.0, signal=None
    )
    assert lines[0] == (
        "ecs-exec: 3 tasks in 1.0 s: 1 succeeded, 1 failed, 1 could not start "
        "or were lost, 0 skipped as not ready"
    )
    assert lines[1:] == [
        "  failed      aaaaaaaa: exit 3",
        f"  not reached {'b' * 32}: session lost",
    ]


def test_a_full_output_queue_makes_writers_wait_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)

    async def main() -> None:
        output = OrderedOutput(max_bytes=4)
        for index in range(200):
            await output.write(fd, b"%03d" % index)
        await output.close()

    asyncio.run(main())
    os.close(fd)
    assert path.read_bytes() == b"".join(b"%03d" % i for i in range(200))
