"""The native client (NativeStream) against the sandbox: exact bytes under faults, KMS, resume."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import ExecTarget, Resolver, TargetSpec
from ecs_exec.errors import ConnectionLostError
from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.transports import native
from ecs_exec.transports.native import NativeStream

# Large enough for hundreds of data messages and dozens of drops; 20 MB ran the same paths
# for four times as long.
SIZE = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(fast=True) as sb:
        yield sb


@pytest.fixture(scope="module")
def blob(tmp_path_factory) -> Path:
    # No 0xEF bytes: the agent's UTF-8 loop turns EF BF BD into EF, which is the framing's
    # business (tests/e2e), not the data channel's. ASCII last bytes: the agent holds back a
    # read's last 3 bytes when any of them does not decode, and never sends what it holds
    # back at EOF (docs/agent.md#3-output).
    data = os.urandom(SIZE - 4).replace(b"\xef", b"\x00") + b"end\n"
    path = tmp_path_factory.mktemp("blob") / "blob"
    path.write_bytes(data)
    return path


def clients_for(sandbox: Sandbox, monkeypatch) -> AwsClients:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    return AwsClients(AwsSettings(region="us-east-1", endpoint_url=sandbox.endpoint_url))


def start(clients: AwsClients, spec: TargetSpec, command: str) -> tuple[ExecTarget, object]:
    api = EcsApi(clients.ecs, cache_task_definitions=False)
    target = Resolver(api).resolve(spec)
    session = api.execute_command(
        cluster=target.cluster,
        task_arn=target.task.arn,
        container=target.container.name,
        command=command,
    )
    return target, session


async def collect(stream: NativeStream, limit: float = 120) -> bytes:
    chunks = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        data = await asyncio.wait_for(stream.receive(), timeout=deadline - time.monotonic())
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


FAULTS = {
    "none": {},
    "duplicates": {"duplicateEvery": 3},
    "reordering": {"reorderEvery": 4},
    "50 ms latency": {"latencyMs": 50},
}


@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
def test_megabytes_exact_under_faults(sandbox, blob, monkeypatch, faults):
    clients = clients_for(sandbox, monkeypatch)
    sandbox.set_default_faults(faults)
    try:
        target, session = start(
            clients,
            TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
            f"sh -c 'stty raw -echo; sleep 0.2; cat {blob}'",
        )

        async def run() -> bytes:
            stream = NativeStream(session, clients=clients, target=target.ssm_target)
            await stream.start()
            try:
                return await collect(stream)
            finally:
                await stream.close()

        got = asyncio.run(run())
    finally:
        sandbox.set_default_faults({})
    assert len(got) == SIZE
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def faithful() -> Iterator[Sandbox]:
    with running_sandbox() as sb:
        yield sb


@pytest.mark.timeout(180)
def test_megabytes_exact_with_a_drop_every_200_messages(faithful, blob, monkeypatch):
    """With the agent's real pacing: a drop loses the frames in flight, and the agent resends
    only its oldest unacknowledged message every 100 ms, as the real agent does. Every drop is
    followed by ResumeSession and a new socket; sequence state carries over."""
    clients = clients_for(faithful, monkeypatch)
    faithful.set_default_faults({"dropAfterMessages": 200, "dropTimes": -1})
    try:
        target, session = start(
            clients,
            TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
            f"sh -c 'stty raw -echo; sleep 0.2; cat {blob}'",
        )

        async def run() -> tuple[bytes, int]:
            stream = NativeStream(session, clients=clients, target=target.ssm_target)
            await stream.start()
            try:
                return await collect(stream, limit=150), stream.reconnects
            finally:
                await stream.close()

        got, reconnects = asyncio.run(run())
    finally:
        faithful.set_default_faults({})
    assert reconnects >= 15
    assert len(got) == SIZE
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob.read_bytes()).hexdigest()


def test_input_before_output_reaches_cat(sandbox, monkeypatch):
    clients = clients_for(sandbox, monkeypatch)
    target, session = start(
        clients,
        TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
        "head -n 1",
    )

    async def run() -> bytes:
        stream = NativeStream(session, clients=clients, target=target.ssm_target)
        await stream.start()
        try:
            await stream.send(b"hello\n")  # before any output has arrived
            return await collect(stream, limit=20)
        finally:
            await stream.close()

    # The PTY echoes the line, then head prints it: the input was delivered.
    assert asyncio.run(run()).count(b"hello") == 2


def test_kms_encrypted_session(sandbox, monkeypatch):
    clients = clients_for(sandbox, monkeypatch)
    target, session = start(clients, TargetSpec(cluster="secure", service="api"), "echo secret-ok")

    async def run() -> tuple[bytes, object]:
        stream = NativeStream(session, clients=clients, target=target.ssm_target)
        await stream.start()
        try:
            return await collect(stream, limit=20), stream.started
        finally:
            await stream.close()

    output, started = asyncio.run(run())
    assert b"secret-ok" in output
    assert started is not None and started.encrypted


def test_unresumable_session_fails_clearly_within_the_bound(sandbox, monkeypatch):
    clients = clients_for(sandbox, monkeypatch)
    sandbox.set_default_faults({"dropAfterMessages": 3, "refuseResume": True})
    try:
        target, session = start(
            clients,
            TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
            "sh -c 'while :; do echo tick; sleep 0.01; done'",
        )

        async def run() -> None:
            stream = NativeStream(
                session, clients=clients, target=target.ssm_target, resume_timeout=5
            )
            await stream.start()
            try:
                await collect(stream, limit=30)
            finally:
                await stream.close()

        with pytest.raises(ConnectionLostError) as info:
            asyncio.run(run())
        assert "bytes of output received" in str(info.value)
    finally:
        sandbox.set_default_faults({})


def test_a_slow_consumer_stops_the_reads_instead_of_queueing(sandbox, blob, monkeypatch):
    """Flow control: while nobody takes the output, the stream buffers at most its high-water
    mark (plus the frame that crossed it) and stops reading the websocket; then every byte
    still arrives, in order."""
    clients = clients_for(sandbox, monkeypatch)
    high_water = 64 * 1024
    # Pings go unanswered while the socket is not read: that stall is ours, not a dead link.
    # The consumer stays away for several keepalive timeouts, which are still long enough
    # that a loaded machine answering a ping late is not taken for a dead link.
    monkeypatch.setattr(native, "KEEPALIVE_INTERVAL", 0.1)
    monkeypatch.setattr(native, "KEEPALIVE_TIMEOUT", 1.0)
    target, session = start(
        clients,
        TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
        f"sh -c 'stty raw -echo; sleep 0.2; cat {blob}'",
    )

    async def run() -> tuple[bytes, int, int]:
        stream = NativeStream(
            session, clients=clients, target=target.ssm_target, output_high_water=high_water
        )
        await stream.start()
        try:
            # A consumer that is away until the buffer is full, and then some more: an
            # unbounded queue would keep growing all that time (the fast agent sends 6 MB).
            for _ in range(3000):
                if stream.output_peak > high_water:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(3.0)
            return await collect(stream), stream.output_peak, stream.reconnects
        finally:
            await stream.close()

    got, peak, reconnects = asyncio.run(run())
    assert reconnects == 0
    assert high_water < peak <= high_water + 1024
    assert len(got) == SIZE
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(blob.read_bytes()).hexdigest()


def test_a_bug_in_the_resume_path_is_not_retried_as_a_network_error(sandbox, monkeypatch):
    """Only named network and AWS failures are retried; anything else surfaces at once."""
    from ecs_exec.aws import ssm as aws_ssm

    calls = []

    def broken_resume(*args, **kwargs):
        calls.append(1)
        raise KeyError("a bug, not the network")

    monkeypatch.setattr(aws_ssm, "resume_session", broken_resume)
    clients = clients_for(sandbox, monkeypatch)
    sandbox.set_default_faults({"dropAfterMessages": 3})
    try:
        target, session = start(
            clients,
            TargetSpec(cluster="demo", task=demo.WEB_READY_1, container="app"),
            "sh -c 'while :; do echo tick; sleep 0.01; done'",
        )

        async def run() -> None:
            stream = NativeStream(session, clients=clients, target=target.ssm_target)
            await stream.start()
            try:
                await collect(stream, limit=30)
            finally:
                await stream.close(terminate=True)

        with pytest.raises(KeyError, match="a bug"):
            asyncio.run(run())
    finally:
        sandbox.set_default_faults({})
    assert calls == [1]
