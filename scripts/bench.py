#!/usr/bin/env python3
"""ecs-exec benchmark (not a timed test): speed and memory against the sandbox on loopback.

    .venv/bin/python scripts/bench.py            # everything (several minutes)
    .venv/bin/python scripts/bench.py --quick    # smaller sizes, same figures

Targets (issue text): data channel, faithful pacing: output within 5% of the agent's own
ceiling (~0.93 MB/s), input >= 5 MB/s; pacing off: output >= 20 MB/s, input >= 10 MB/s; peak
RSS <= 100 MB for 1 GB each way. CLI: --help <= 0.3 s; one-off `--pipe 'echo ok'` total
<= 1.6 s with only ListTasks, DescribeTasks, ExecuteCommand; pipe-path input >= 5 MB/s,
incompressible output >= 0.6 MB/s; keystroke echo <= 5 ms over the sandbox's own latency.
Flow control (--slow-consumer runs only this): 1 GB of one-off output into a pipe whose reader
sleeps 60 s first keeps ecs-exec under 100 MB peak RSS, byte-exact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecs_exec.sandbox.server import Sandbox, running_sandbox  # noqa: E402

MB = 1_000_000
WEB = ["--cluster", "demo", "--service-name", "web", "--container", "app"]
# A named task: with a terminal, two ready tasks would bring up the picker.
ONE_TASK = ["--cluster", "demo", "--task", "0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11", "--container", "app"]

# Runs in a child process: drives NativeStream directly over a raw `cat`/`head` so the
# figures are the data channel's, without the one-off framing. Prints one JSON line.
CHANNEL_CLIENT = r"""
import asyncio, json, os, resource, sys, time
from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.transports.native import NativeStream

direction, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"]))
api = EcsApi(clients.ecs)
task = api.describe_tasks("demo", [os.environ["TASK"]])[0]
if direction == "out":
    command = f"cat {path}"
else:
    command = f"sh -c 'stty raw -echo; echo go; head -c {size} > /dev/null; echo done'"
session = api.execute_command(cluster="demo", task_arn=task.arn, container="app", command=command)
target = f"ecs:demo_{task.id}_{task.container('app').runtime_id}"

async def main():
    stream = NativeStream(session, clients=clients, target=target)
    await stream.start()
    got = 0
    start = None
    if direction == "out":
        while True:
            data = await stream.receive()
            if not data:
                break
            if start is None:
                start = time.perf_counter()
            got += len(data)
    else:
        buf = b""
        while b"go" not in buf:
            buf += await stream.receive()
        start = time.perf_counter()
        chunk = os.urandom(64 * 1024)
        sent = 0
        while sent < size:
            piece = chunk[: min(len(chunk), size - sent)]
            await stream.send(piece)
            sent += len(piece)
        while b"done" not in buf:
            data = await stream.receive()
            if not data:
                break
            buf += data
        got = sent
    elapsed = time.perf_counter() - start
    await stream.close()
    return got, elapsed

t0 = time.process_time()
got, elapsed = asyncio.run(main())
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"bytes": got, "seconds": elapsed, "cpu": time.process_time() - t0,
                  "rss_mb": usage.ru_maxrss / 1024}))
"""


@contextmanager
def sandbox(**kwargs: object) -> Iterator[Sandbox]:
    with running_sandbox(**kwargs) as sb:  # type: ignore[arg-type]
        yield sb


def env_for(sb: Sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=sb.endpoint_url,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
        TASK="0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11",
        **extra,
    )
    return env


def channel(sb: Sandbox, direction: str, size: int, tmp: Path) -> dict[str, float]:
    path = tmp / "blob"
    if direction == "out" and (not path.exists() or path.stat().st_size != size):
        with path.open("wb") as handle:
            left = size
            while left:
                piece = os.urandom(min(left, 4 * MB))
                handle.write(piece)
                left -= len(piece)
    out = subprocess.run(
        [sys.executable, "-c", CHANNEL_CLIENT, direction, str(size), str(path)],
        env=env_for(sb),
        capture_output=True,
        timeout=3600,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"channel client failed: {out.stderr.decode()[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    result["mb_s"] = result["bytes"] / MB / result["seconds"]
    result["cpu_per_100mb"] = result["cpu"] / (result["bytes"] / (100 * MB))
    return result


def cli(sb: Sandbox, args: list[str], stdin: bytes = b"", **extra: str) -> tuple[float, bytes, int]:
    seconds, out, code, _ = cli_measured(sb, args, stdin, **extra)
    return seconds, out, code


def cli_measured(
    sb: Sandbox, args: list[str], stdin: bytes = b"", **extra: str
) -> tuple[float, bytes, int, float]:
    """Run ecs-exec; wall seconds, stdout, exit status and the child's peak RSS in MB."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as in_file:
        in_file.write(stdin)
        in_file.seek(0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecs_exec", *args],
            stdin=in_file,
            stdout=out_file,
            stderr=subprocess.DEVNULL,
            env=env_for(sb, **extra),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out_file.seek(0)
        return seconds, out_file.read(), proc.returncode, usage.ru_maxrss / 1024


def help_time() -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ecs_exec", "--help"],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def oneoff(sb: Sandbox, tmp: Path) -> dict[str, object]:
    totals, phases = [], []
    timings = tmp / "timings.jsonl"
    for _ in range(10):
        timings.unlink(missing_ok=True)
        sb.requests.clear()
        total, out, code = cli(sb, [*WEB, "--pipe", "echo ok"], ECS_EXEC_TIMINGS=str(timings))
        assert (out, code) == (b"ok\n", 0), (out, code)
        totals.append(total)
        phases.append(json.loads(timings.read_text().splitlines()[-1]))
    calls = dict(sb.requests.counts())
    median = {k: statistics.median(p[k] for p in phases if k in p) for k in phases[0]}
    return {"total_median_s": statistics.median(totals), "phases_s": median, "aws_calls": calls}


def drain(child: object) -> None:
    """Empty pexpect's buffer and the pty so the next match is the next echo."""
    import pexpect

    child.buffer = b""  # type: ignore[attr-defined]
    while True:
        try:
            child.read_nonblocking(65536, timeout=0.05)  # type: ignore[attr-defined]
        except pexpect.TIMEOUT:
            return


def echo_latency(sb: Sandbox, latency_ms: int) -> dict[str, float]:
    import pexpect

    env = env_for(sb)
    sb.set_default_faults({"latencyMs": latency_ms} if latency_ms else {})
    child = pexpect.spawn(
        sys.executable,
        ["-m", "ecs_exec", *ONE_TASK, "--interactive", "--", "sh"],
        env=env,
        timeout=30,
    )
    child.delaybeforesend = None  # pexpect sleeps 50 ms before every send by default
    try:
        child.sendline("stty raw -echo; PS1=; cat")
        time.sleep(2.0)
        child.read_nonblocking(65536, timeout=1)
        samples = []
        for i in range(60):
            key = chr(ord("a") + i % 26).encode()
            drain(child)
            start = time.perf_counter()
            child.send(key)
            child.expect_exact(key.decode(), timeout=5)
            samples.append((time.perf_counter() - start) * 1000)
        child.sendcontrol("c")
    finally:
        child.close(force=True)
        sb.set_default_faults({})
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
    }


# The slow consumer of slow_consumer(): sleeps first (a pipe into a program that is busy), then
# reads everything, and prints the size and SHA-256 of what it got.
SLOW_CONSUMER = r"""
import hashlib, json, sys, time
time.sleep(float(sys.argv[1]))
digest, size = hashlib.sha256(), 0
while chunk := sys.stdin.buffer.read(1 << 20):
    digest.update(chunk)
    size += len(chunk)
print(json.dumps({"bytes": size, "sha256": digest.hexdigest()}))
"""


def slow_consumer(sb: Sandbox, tmp: Path, size: int, pause: float) -> dict[str, object]:
    """Flow control: `ecs-exec -- cat FILE` (size bytes) piped into a consumer that sleeps
    `pause` seconds before reading. Target: peak RSS of ecs-exec < 100 MB, every byte."""
    path = tmp / "slow-consumer-blob"
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(left, 4 * MB))
            digest.update(piece)
            handle.write(piece)
            left -= len(piece)
    consumer = subprocess.Popen(
        [sys.executable, "-c", SLOW_CONSUMER, str(pause)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecs_exec", *ONE_TASK, "--", "cat", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=consumer.stdin,
            stderr=errors,
            env=env_for(sb),
        )
        assert consumer.stdin is not None
        assert consumer.stdout is not None
        consumer.stdin.close()  # ecs-exec holds the only write end now
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out = consumer.stdout.read()
        consumer.wait(timeout=60)
        path.unlink()
        got = json.loads(out.decode())
        errors.seek(0)
        stderr = errors.read().decode(errors="replace").strip()
    return {
        "exit_status": code,
        "stderr": stderr[-500:],
        "bytes": got["bytes"],
        "exact": code == 0 and got["bytes"] == size and got["sha256"] == digest.hexdigest(),
        "rss_mb": usage.ru_maxrss / 1024,
        "seconds": seconds,
        "pause_s": pause,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--slow-consumer",
        action="store_true",
        help="only the flow-control figure: 1 GB (100 MB with --quick) into a slow pipe",
    )
    opts = parser.parse_args()
    if opts.slow_consumer:
        with tempfile.TemporaryDirectory() as name, sandbox(fast=True) as sb:
            size, pause = (100 * MB, 10.0) if opts.quick else (1000 * MB, 60.0)
            result = {"slow_consumer": slow_consumer(sb, Path(name), size, pause)}
        print(json.dumps(result, indent=2))
        return
    faithful_size = 5 * MB if opts.quick else 20 * MB
    fast_size = 20 * MB if opts.quick else 100 * MB
    big = 100 * MB if opts.quick else 1000 * MB
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        report["help_s"] = help_time()
        with sandbox() as sb:
            report["channel_faithful_out"] = channel(sb, "out", faithful_size, tmp)
            report["channel_faithful_in"] = channel(sb, "in", faithful_size, tmp)
            report["oneoff"] = oneoff(sb, tmp)
            data = os.urandom(faithful_size)
            seconds, out, code, rss = cli_measured(sb, [*WEB, "--pipe", "sha256sum"], data)
            ok = out.split()[0].decode() == hashlib.sha256(data).hexdigest() if out else False
            report["pipe_in"] = {
                "mb_s": len(data) / MB / seconds,
                "exact": ok and code == 0,
                "rss_mb": rss,
            }
            (tmp / "rand").write_bytes(data)
            seconds, out, code, rss = cli_measured(sb, [*WEB, "--", "cat", str(tmp / "rand")])
            report["pipe_out_incompressible"] = {
                "mb_s": len(data) / MB / seconds,
                "exact": out == data and code == 0,
                "rss_mb": rss,
            }
            report["echo_0ms"] = echo_latency(sb, 0)
            report["echo_50ms"] = echo_latency(sb, 50)
        with sandbox(fast=True) as sb:
            report["channel_fast_out"] = channel(sb, "out", fast_size, tmp)
            report["channel_fast_in"] = channel(sb, "in", fast_size, tmp)
            report["channel_fast_out_big"] = channel(sb, "out", big, tmp)
            report["channel_fast_in_big"] = channel(sb, "in", big, tmp)
            report["slow_consumer"] = slow_consumer(sb, tmp, big, 10.0 if opts.quick else 60.0)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
