#!/usr/bin/env python3
"""ecs-exec benchmark (not a timed test): speed and memory against the sandbox on loopback.

    .venv/bin/python scripts/bench.py            # everything (several minutes)
    .venv/bin/python scripts/bench.py --quick    # smaller sizes, same figures

Targets (issue text): data channel, faithful pacing: output within 5% of the agent's own
ceiling (~0.93 MB/s), input >= 5 MB/s; pacing off: output >= 20 MB/s, input >= 10 MB/s; peak
RSS <= 100 MB for 1 GB each way. CLI: --help <= 0.3 s; one-off `--pipe 'echo ok'` total
<= 1.6 s with only ListTasks, DescribeTasks, ExecuteCommand; pipe-path input >= 5 MB/s,
incompressible output >= 0.85 MB/s of data (raw output records, issue 10), log text output
faster than the agent's raw pace; keystroke echo <= 5 ms over the sandbox's own latency.
Fixed overhead (issue 7): a one-off <= 1.25 s on the faithful sandbox (<= 0.25 s above the
agent's 1 s wait); through `aws ecs execute-command` on a fast sandbox, the drop-in
(`ecs-exec-plugin`) within 0.1 s of AWS's Go session-manager-plugin on `echo x`, measured
when a session-manager-plugin binary is on PATH (otherwise skipped, saying so).

Run it with byte-code caching on (PYTHONDONTWRITEBYTECODE unset): installed packages come
with compiled modules, so a run that compiles ecs_exec on every start measures nothing a
user sees. The children's environment drops that variable for the same reason.

Sandbox fidelity: the faithful agent's first output ~1.0 s after the websocket opens, a command
that cannot start closes the session after ~2 s, output paced at ~0.93 MB/s (the channel figure).

Fan-out (issue 9; --only fanout): 200 tasks running `echo` with --all --parallel 0 in under
3x the time of one task, ecs-exec's peak RSS under 300 MB; the same 200 with ExecuteCommand
rate-limited by the sandbox (ThrottlingException) all complete.
cp (issue 10; --only cp): upload of 100 MB random >= 5 MB/s on the faithful sandbox (upload is
not paced by the agent); download of 20 MB random and of 20 MB log text measured there (their
speed is the one-off output encoding's); a 1 GB upload and download (on the fast sandbox, where
they take minutes instead of half an hour) under 100 MB peak RSS; every copy checked byte-exact.

Flow control (--slow-consumer runs only this): 1 GB of one-off output into a pipe whose reader
sleeps 60 s first keeps ecs-exec under 100 MB peak RSS, byte-exact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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

from ecs_exec.sandbox.agent import AgentOptions  # noqa: E402
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


def base_env() -> dict[str, str]:
    skip = ("PYTHONDONTWRITEBYTECODE", "ECS_EXEC_DEBUG", "ECS_EXEC_PLUGIN", "ECS_EXEC_TIMINGS")
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in skip}


def env_for(sb: Sandbox, **extra: str) -> dict[str, str]:
    env = base_env()
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
        write_random(path, size)
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


LAST_CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last cli_measured child


def cli_measured(
    sb: Sandbox, args: list[str], stdin: bytes = b"", **extra: str
) -> tuple[float, bytes, int, float]:
    """Run ecs-exec; wall seconds, stdout, exit status and the child's peak RSS in MB.

    The child's CPU time is left in ``LAST_CPU[0]``.
    """
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
        LAST_CPU[0] = usage.ru_utime + usage.ru_stime
        out_file.seek(0)
        return seconds, out_file.read(), proc.returncode, usage.ru_maxrss / 1024


def cli_output_timed(sb: Sandbox, args: list[str]) -> dict[str, object]:
    """Run ecs-exec with stdout on a pipe read as it comes: total seconds, and the data rate
    between the first and the last output byte (without the fixed start-up and the agent's
    1 s initial wait), exit status, CPU; ``out`` holds the bytes. (No RSS here: the child's
    peak counts the bench's own pages from before its exec; --slow-consumer measures RSS.)"""
    import threading

    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecs_exec", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env_for(sb),
    )
    chunks: list[bytes] = []
    marks: list[float] = []

    def read() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read1(1 << 20):
            marks.append(time.perf_counter())
            chunks.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    reader.join()
    seconds = time.perf_counter() - start
    out = b"".join(chunks)
    span = marks[-1] - marks[0] if len(marks) > 1 else 0.0
    return {
        "seconds": seconds,
        "mb_s": len(out) / MB / seconds,
        "data_mb_s": (len(out) - len(chunks[0])) / MB / span if span else 0.0,
        "code": os.waitstatus_to_exitcode(status),
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "out": out,
    }


def log_text(size: int, seed: int = 7) -> bytes:
    """Application-log-like text (timestamps, levels, paths, numbers), about 10x for bzip2."""
    import random

    rnd = random.Random(seed)
    levels = ["INFO"] * 8 + ["DEBUG"] * 4 + ["WARN", "ERROR"]
    paths = ["/api/v1/users", "/api/v1/orders", "/healthz", "/api/v1/items/search"]
    lines, total, now = [], 0, 1_700_000_000.0
    while total < size:
        now += rnd.random() * 0.05
        line = (
            f"2024-05-{int(now // 86400) % 28 + 1:02d}T{int(now // 3600) % 24:02d}:"
            f"{int(now // 60) % 60:02d}:{now % 60:06.3f}Z {rnd.choice(levels):5} "
            f"{rnd.choice(['GET', 'POST'])} {rnd.choice(paths)}?page={rnd.randint(1, 50)} "
            f"-> {rnd.choice([200, 200, 201, 404])} in {rnd.random() * 120:.1f}ms "
            f"user={rnd.randint(1, 500)}\n"
        )
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def help_time() -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "ecs_exec", "--help"],
            capture_output=True,
            check=True,
            env={**base_env(), "PYTHONPATH": str(ROOT)},
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def oneoff(sb: Sandbox, tmp: Path, runs: int) -> dict[str, object]:
    """`--pipe 'echo ok'` on the faithful sandbox: median total, phases and AWS calls.

    ``overhead_s`` is the total less the agent's 1 s wait before it first reads the PTY
    (shell.go ``processStdoutData``), which no client can avoid.
    """
    totals, phases, cpus = [], [], []
    timings = tmp / "timings.jsonl"
    for _ in range(runs):
        timings.unlink(missing_ok=True)
        sb.requests.clear()
        spawned = time.perf_counter()
        total, out, code = cli(sb, [*WEB, "--pipe", "echo ok"], ECS_EXEC_TIMINGS=str(timings))
        assert (out, code) == (b"ok\n", 0), (out, code)
        totals.append(total)
        cpus.append(LAST_CPU[0])
        marks = json.loads(timings.read_text().splitlines()[-1])
        # Seconds since the spawn: the interpreter and the CLI's imports come before "start".
        offset = marks.pop("origin", spawned) - spawned
        phases.append({"imported": offset} | {k: v + offset for k, v in marks.items()})
        phases[-1]["exited"] = total
    calls = dict(sb.requests.counts())
    median = {k: statistics.median(p[k] for p in phases if k in p) for k in phases[0]}
    median = dict(sorted(median.items(), key=lambda item: item[1]))
    total = statistics.median(totals)
    return {
        "total_median_s": total,
        "total_min_s": min(totals),
        "overhead_s": total - AgentOptions().initial_read_delay,
        "cpu_median_s": statistics.median(cpus),
        "phases_s": median,
        "aws_calls": calls,
    }


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


# -- the drop-in against AWS's Go session-manager-plugin, through the AWS CLI -------------

#: Output of the data-phase command: 3 MB of text through the PTY and the data channel.
DATA_COMMAND = (
    "sh -c 'yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY | head -c 3000000'"
)
DATA_BYTES = 3_000_000


def official_plugin() -> str | None:
    """The Go session-manager-plugin on PATH, or None (absent, or our own wrapper)."""
    found = shutil.which("session-manager-plugin")
    if found is None:
        return None
    with open(found, "rb") as handle:
        if b"ecs_exec.dropin" in handle.read(4096):
            return None  # `ecs-exec-plugin --install-as-session-manager-plugin` wrote it
    return found


def aws_cli_session(sb: Sandbox, bindir: Path, command: str, home: Path) -> dict[str, float]:
    """`aws ecs execute-command` on a terminal, the plugin taken from ``bindir``.

    Returns the wall seconds from spawn to exit, the CPU seconds of the AWS CLI and the
    plugin together (steadier than wall time on a loaded machine) and the output bytes.
    """
    import fcntl
    import pty
    import struct
    import termios

    env = base_env()
    env.update(
        PATH=f"{bindir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}",
        HOME=str(home),
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    args = ["ecs", "execute-command", "--endpoint-url", sb.endpoint_url, "--cluster", "demo"]
    args += ["--task", ONE_TASK[3], "--container", "app", "--interactive", "--command", command]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "aws"), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    got = 0
    tail = b""
    try:
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: every holder of the terminal has exited
                break
            if not data:
                break
            got += len(data)
            tail = (tail + data)[-200:]
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        os.close(master)
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or b"Exiting session" not in tail:
        raise SystemExit(f"aws ecs execute-command failed ({proc.returncode}): {tail!r}")
    return {"wall": seconds, "cpu": usage.ru_utime + usage.ru_stime, "bytes": got}


def plugin_comparison(tmp: Path, runs: int) -> dict[str, object]:
    """Median wall time of `echo x` and of 3 MB of output, Go plugin vs drop-in, alternated."""
    go = official_plugin()
    if go is None:
        message = (
            "skipped: no session-manager-plugin binary on PATH (build AWS's from its public "
            "source, github.com/aws/session-manager-plugin, to compare)"
        )
        print(message, file=sys.stderr)
        return {"skipped": message}
    sys.path.insert(0, str(ROOT))
    from ecs_exec.dropin.main import install_wrapper

    go_dir, dropin_dir, home = tmp / "go-bin", tmp / "dropin-bin", tmp / "aws-home"
    for directory in (go_dir, dropin_dir, home):
        directory.mkdir(exist_ok=True)
    (go_dir / "session-manager-plugin").unlink(missing_ok=True)
    (go_dir / "session-manager-plugin").symlink_to(go)
    install_wrapper(dropin_dir)
    runs_of: dict[tuple[str, str], list[dict[str, float]]] = {}
    with sandbox(fast=True) as sb:
        for bindir in (go_dir, dropin_dir):
            aws_cli_session(sb, bindir, "echo x", home)  # warm the page cache and byte code
        for kind, command, count in (
            ("echo", "echo x", runs),
            ("data", DATA_COMMAND, max(3, runs // 2)),
        ):
            for _ in range(count):
                # Alternated, so that load from elsewhere falls on both alike.
                for name, bindir in (("go", go_dir), ("dropin", dropin_dir)):
                    result = aws_cli_session(sb, bindir, command, home)
                    if kind == "data" and result["bytes"] < DATA_BYTES:
                        raise SystemExit(f"{name}: {result['bytes']} bytes of {DATA_BYTES}")
                    runs_of.setdefault((name, kind), []).append(result)

    def median(name: str, kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs_of[name, kind])

    report: dict[str, object] = {"official_plugin": go, "runs": runs}
    for name in ("go", "dropin"):
        report[name] = {
            "echo_s": median(name, "echo", "wall"),
            "echo_cpu_s": median(name, "echo", "cpu"),
            "data_3mb_s": median(name, "data", "wall"),
            "data_phase_s": median(name, "data", "wall") - median(name, "echo", "wall"),
        }
    report["dropin_minus_go_echo_s"] = median("dropin", "echo", "wall") - median(
        "go", "echo", "wall"
    )
    report["dropin_minus_go_echo_cpu_s"] = median("dropin", "echo", "cpu") - median(
        "go", "echo", "cpu"
    )
    return report


def pipe_figures(sb: Sandbox, size: int, tmp: Path) -> dict[str, object]:
    """The one-off pipe path on the faithful sandbox: stdin in; incompressible output and log
    text out (``mb_s`` over the whole run, ``data_mb_s`` from the first output byte to the
    last: the agent paces at ~0.93 MB/s; output records are described in
    docs/output-records.md)."""
    report: dict[str, object] = {}
    data = os.urandom(size)
    seconds, out, code, rss = cli_measured(sb, [*WEB, "--pipe", "sha256sum"], data)
    ok = out.split()[0].decode() == hashlib.sha256(data).hexdigest() if out else False
    report["pipe_in"] = {
        "mb_s": len(data) / MB / seconds,
        "exact": ok and code == 0,
        "rss_mb": rss,
        "cpu_s": LAST_CPU[0],
    }
    for name, content in (("incompressible", data), ("log_text", log_text(size))):
        (tmp / name).write_bytes(content)
        figures = cli_output_timed(sb, [*WEB, "--", "cat", str(tmp / name)])
        figures["exact"] = figures.pop("out") == content and figures.pop("code") == 0
        report[f"pipe_out_{name}"] = figures
    return report


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        left = size
        while left:
            piece = os.urandom(min(left, 4 * MB))
            handle.write(piece)
            left -= len(piece)


def same_file(a: Path, b: Path) -> bool:
    if not b.exists() or a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(4 * MB), fb.read(4 * MB)
            if x != y:
                return False
            if not x:
                return True


# Runs ecs-exec as a grandchild and reports its own peak RSS: Linux folds the RSS peak of the
# process image an exec replaces into the new one's, so a child forked from this (large)
# process would report this process's size.
LAUNCHER = r"""
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "ecs_exec", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "rss_mb": usage.ru_maxrss / 1024,
                  "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


def cp_figure(
    sb: Sandbox, src: str, dst: str, size: int, local: Path, copy: Path
) -> dict[str, object]:
    """One ``ecs-exec cp``: data rate (whole command, session set-up included), peak RSS."""
    copy.unlink(missing_ok=True)
    task = f"{ONE_TASK[3]}/app"
    args = ["cp", "--cluster", "demo", src.replace("@", task), dst.replace("@", task)]
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env_for(sb),
        timeout=7200,
        check=False,
    )
    seconds = time.perf_counter() - start
    child = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return {
        "mb": size / MB,
        "mb_s": size / MB / seconds,
        "seconds": seconds,
        "exact": child["code"] == 0 and same_file(local, copy),
        "rss_mb": child["rss_mb"],
        "cpu_s": child["cpu_s"],
    }


def cp_figures(tmp: Path, quick: bool) -> dict[str, object]:
    """`ecs-exec cp` up and down: rates on the faithful sandbox, RSS of 1 GB on the fast one."""
    report: dict[str, object] = {}
    up_size, down_size = (20 * MB, 5 * MB) if quick else (100 * MB, 20 * MB)
    big = 100 * MB if quick else 1000 * MB
    remote = tmp / "remote"
    remote.mkdir(exist_ok=True)
    with sandbox() as sb:
        src = tmp / "cp-up"
        write_random(src, up_size)
        report["cp_upload_random"] = cp_figure(
            sb, str(src), f"@:{remote}/up", up_size, src, remote / "up"
        )
        write_random(src, down_size)
        shutil.copyfile(src, remote / "down")
        report["cp_download_random"] = cp_figure(
            sb, f"@:{remote}/down", str(tmp / "cp-down"), down_size, src, tmp / "cp-down"
        )
        line = b"2026-01-01T00:00:00Z INFO request id=%08d path=/api/v1/items status=200 ms=12\n"
        with src.open("wb") as handle:
            for i in range(down_size // len(line % 0)):
                handle.write(line % i)
        shutil.copyfile(src, remote / "log")
        report["cp_download_log_text"] = cp_figure(
            sb, f"@:{remote}/log", str(tmp / "cp-log"), src.stat().st_size, src, tmp / "cp-log"
        )
    src.unlink()
    with sandbox(fast=True) as sb:
        write_random(src, big)
        report["cp_upload_big_fast"] = cp_figure(
            sb, str(src), f"@:{remote}/big", big, src, remote / "big"
        )
        report["cp_download_big_fast"] = cp_figure(
            sb, f"@:{remote}/big", str(tmp / "cp-big"), big, src, tmp / "cp-big"
        )
    return report


def agent_fidelity(sb: Sandbox) -> dict[str, float]:
    """The faithful sandbox agent's own timings (the tests check its behaviour, not its
    clock): the initial wait before the first output (the real agent's 1 s) and the close of
    a session whose command cannot start (2 s), from the websocket's open."""
    import asyncio

    from ecs_exec.aws.clients import AwsClients, AwsSettings
    from ecs_exec.aws.ecs import EcsApi
    from ecs_exec.transports.native import NativeStream

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=sb.endpoint_url))
    api = EcsApi(clients.ecs)
    task = api.describe_tasks("demo", ["0b3c9d7e5f1a4b2c8d6e0f9a7b5c3d11"])[0]
    target = f"ecs:demo_{task.id}_{task.container('app').runtime_id}"

    async def first_and_last(command: str) -> tuple[float | None, float]:
        session = api.execute_command(
            cluster="demo", task_arn=task.arn, container="app", command=command
        )
        stream = NativeStream(session, clients=clients, target=target)
        await stream.start()
        opened = time.perf_counter()
        first: float | None = None
        while await stream.receive():
            if first is None:
                first = time.perf_counter() - opened
        end = time.perf_counter() - opened
        await stream.close()
        return first, end

    first, _ = asyncio.run(first_and_last("echo hello"))
    _, closed = asyncio.run(first_and_last("no-such-command-xyz --flag"))
    return {"first_output_s": first or 0.0, "start_failure_close_s": closed}


FLEET_SIZE = 200
FLEET_WORLD = {"fleets": [{"cluster": "demo", "serviceName": "fleet", "count": FLEET_SIZE}]}
#: ExecuteCommand rate limit of the throttled fan-out figure (calls a second, bucket size).
FLEET_RATE = {"error": "ThrottlingException", "ratePerSecond": 20, "burst": 20}


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fanout_figures(runs: int) -> dict[str, object]:
    """200 tasks running `echo` with --all --parallel 0 against one task, on the faithful
    sandbox: the wall-time ratio (target < 3) and ecs-exec's peak RSS (target < 300 MB);
    then the same 200 with ExecuteCommand rate-limited to 20 calls a second, which must
    all complete."""
    from ecs_exec.sandbox.fleet import fleet_task_id
    from ecs_exec.sandbox.state import SandboxState

    first = fleet_task_id("demo", "fleet", 0)
    one_args = ["--cluster", "demo", "--task", first, "--pipe", "echo ok"]
    all_args = ["--cluster", "demo", "--service", "fleet", "--all", "--parallel", "0", "-q"]
    all_args += ["--pipe", "echo ok"]
    ones, alls, rss, cpus, containers = [], [], [], [], []
    with sandbox(state=SandboxState.from_dict(FLEET_WORLD)) as sb:
        for _ in range(runs):
            seconds, out, code, _ = cli_measured(sb, one_args)
            assert (out, code) == (b"ok\n", 0), (out, code)
            ones.append(seconds)
            before = _children_cpu()
            seconds, out, code, peak = cli_measured(sb, all_args)
            lines = out.decode().splitlines()
            assert code == 0, (code, out[-500:])
            assert len(lines) == FLEET_SIZE, out[-500:]
            assert all(line.endswith(" | ok") for line in lines), out[-500:]
            alls.append(seconds)
            rss.append(peak)
            cpus.append(LAST_CPU[0])
            # The sandbox's "containers" (the commands and their framing scripts) are its
            # children too: on one small host they compete with the client for the CPU.
            containers.append(_children_cpu() - before - LAST_CPU[0])
    world = dict(FLEET_WORLD, faults={"api": {"ExecuteCommand": dict(FLEET_RATE)}})
    with sandbox(state=SandboxState.from_dict(world)) as sb:
        seconds, out, code, peak = cli_measured(sb, all_args)
        throttled = sum(
            1 for r in sb.requests.records if r.operation == "ExecuteCommand" and r.status != 200
        )
        completed = code == 0 and len(out.decode().splitlines()) == FLEET_SIZE
    one, many = statistics.median(ones), statistics.median(alls)
    return {
        "tasks": FLEET_SIZE,
        "one_task_s": one,
        "all_tasks_s": many,
        "ratio": many / one,
        "ratio_target": 3.0,
        "peak_rss_mb": max(rss),
        "rss_target_mb": 300,
        "client_cpu_s": statistics.median(cpus),
        "sandbox_containers_cpu_s": statistics.median(containers),
        "cores": os.cpu_count(),
        "throttled": {
            "rate_per_s": FLEET_RATE["ratePerSecond"],
            "seconds": seconds,
            "throttled_calls": throttled,
            "all_completed": completed,
            "peak_rss_mb": peak,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--slow-consumer",
        action="store_true",
        help="only the flow-control figure: 1 GB (100 MB with --quick) into a slow pipe",
    )
    parser.add_argument(
        "--only",
        choices=["overhead", "oneoff", "plugin", "pipe", "fanout", "cp"],
        help="only some figures: the fixed overhead (the one-off and the drop-in against the "
        "plugin), either of those, the one-off pipe path, the fan-out (200 tasks), or cp",
    )
    parser.add_argument("--runs", type=int, default=10, help="runs per timed figure")
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
        if opts.only:
            if opts.only in ("overhead", "oneoff"):
                with sandbox() as sb:
                    report["oneoff"] = oneoff(sb, tmp, opts.runs)
            if opts.only in ("overhead", "plugin"):
                report["plugin_vs_dropin"] = plugin_comparison(tmp, opts.runs)
            if opts.only == "pipe":
                with sandbox() as sb:
                    report.update(pipe_figures(sb, faithful_size, tmp))
            if opts.only == "fanout":
                report["fanout"] = fanout_figures(min(opts.runs, 3))
            if opts.only == "cp":
                report.update(cp_figures(tmp, opts.quick))
            print(json.dumps(report, indent=2))
            return
        report["help_s"] = help_time()
        with sandbox() as sb:
            report["agent_fidelity"] = agent_fidelity(sb)
            report["channel_faithful_out"] = channel(sb, "out", faithful_size, tmp)
            report["channel_faithful_in"] = channel(sb, "in", faithful_size, tmp)
            report["oneoff"] = oneoff(sb, tmp, opts.runs)
            report.update(pipe_figures(sb, faithful_size, tmp))
            report["echo_0ms"] = echo_latency(sb, 0)
            report["echo_50ms"] = echo_latency(sb, 50)
        report["plugin_vs_dropin"] = plugin_comparison(tmp, opts.runs)
        report["fanout"] = fanout_figures(min(opts.runs, 3))
        report.update(cp_figures(tmp, opts.quick))
        with sandbox(fast=True) as sb:
            report["channel_fast_out"] = channel(sb, "out", fast_size, tmp)
            report["channel_fast_in"] = channel(sb, "in", fast_size, tmp)
            report["channel_fast_out_big"] = channel(sb, "out", big, tmp)
            report["channel_fast_in_big"] = channel(sb, "in", big, tmp)
            report["slow_consumer"] = slow_consumer(sb, tmp, big, 10.0 if opts.quick else 60.0)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
