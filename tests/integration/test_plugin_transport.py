"""PluginStream: the plugin transport, with our drop-in standing in for the official binary.

The sandbox runs the remote commands; ``ECS_EXEC_PLUGIN`` points at ``.venv/bin/ecs-exec-plugin``
(the official binary is not installed here). Fake plugins written as shell scripts cover the
failure texts of the official one. The banner filter is tested on its own, table-driven.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.aws.ecs import EcsApi, ExecSession
from ecs_exec.errors import PluginError
from ecs_exec.sandbox.demo import WEB_READY_1
from ecs_exec.sandbox.server import Sandbox, running_sandbox
from ecs_exec.transports.official_plugin import BannerFilter, PluginStream, find_plugin, plugin_argv

DROPIN = Path(sys.executable).parent / "ecs-exec-plugin"
SID = "ecs-execute-command-0123456789abcdef0"
START = f"\nStarting session with SessionId: {SID}\n".encode()
EXIT = f"\n\nExiting session with sessionId: {SID}.\n\n".encode()
KMS = b"This session is encrypted using AWS KMS.\n"


# -- BannerFilter ---------------------------------------------------------------------------


def filtered(chunks: list[bytes]) -> tuple[bytes, BannerFilter]:
    banner = BannerFilter(SID)
    out = b"".join(banner.feed(c) for c in chunks)
    return out + banner.finish(), banner


def split_everywhere(data: bytes) -> Iterator[list[bytes]]:
    yield [data]
    yield [bytes([b]) for b in data]
    for cut in range(1, len(data), 7):
        yield [data[:cut], data[cut:]]


@pytest.mark.parametrize(
    ("stream", "output", "ended", "failure"),
    [
        (START + b"hello\n" + EXIT, b"hello\n", True, None),
        (START + KMS + b"secret\r\n" + EXIT, b"secret\r\n", True, None),
        (START + b"no newline" + EXIT, b"no newline", True, None),
        (
            START + b"x\n\nSessionId: " + SID.encode() + b" : Session timed out\n\n",
            b"x",
            True,
            None,
        ),
        (START + b"Cannot perform start session: EOF\n", b"", False, "EOF"),
        (
            START + b"partial\nCannot perform start session: dial tcp: refused\n",
            b"partial\n",
            False,
            "dial tcp: refused",
        ),
        (START + f"Session: {SID} timed out.\n".encode(), b"", False, "timed out"),
        # Look-alikes followed by more output are the remote's, passed on unchanged.
        (START + EXIT + b"more", EXIT + b"more", False, None),
        (
            START + b"Cannot perform start session: x\nmore\n",
            b"Cannot perform start session: x\nmore\n",
            False,
            None,
        ),
        (START + START + b"y", START + b"y", False, None),
        (b"", b"", False, None),
        (START, b"", False, None),
        (START[:10], b"", False, None),
        (b"\n\n\n" + EXIT, b"\n\n\n", True, None),
        (START + b"\n\n\n" + EXIT, b"\n\n\n", True, None),
    ],
)
def test_banner_filter(stream, output, ended, failure):
    for chunks in split_everywhere(stream):
        got, banner = filtered(chunks)
        assert got == output, chunks
        assert banner.ended is ended
        if failure is None:
            assert banner.failure is None
        else:
            assert banner.failure is not None and failure in banner.failure


def test_banner_filter_releases_a_held_newline_when_output_pauses():
    banner = BannerFilter(SID)
    assert banner.feed(START + b"line\n") == b"line"
    assert banner.holding
    assert banner.release_partial() == b"\n"
    assert banner.feed(EXIT) == b""
    assert banner.finish() == b""
    assert banner.ended


def test_banner_filter_keeps_channel_closed_output():
    _, banner = filtered([START + b"\n\nSessionId: " + SID.encode() + b" : bye now\n\n"])
    assert banner.closed_output == "bye now"


# -- argv and discovery ---------------------------------------------------------------------


def test_plugin_argv_is_the_aws_cli_form():
    session = ExecSession("sid", "wss://x/v1/data-channel/sid?role=publish_subscribe", "tok")
    argv = plugin_argv(
        session,
        region="eu-west-1",
        profile=None,
        target="ecs:c_t_r",
        ssm_endpoint="https://ssm.eu-west-1.amazonaws.com",
    )
    assert argv == [
        '{"sessionId": "sid", "streamUrl": "wss://x/v1/data-channel/sid?role=publish_subscribe", '
        '"tokenValue": "tok"}',
        "eu-west-1",
        "StartSession",
        "",
        '{"Target": "ecs:c_t_r"}',
        "https://ssm.eu-west-1.amazonaws.com",
    ]


def test_missing_plugin_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("ECS_EXEC_PLUGIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PluginError, match="not found on PATH") as info:
        find_plugin()
    assert info.value.hint and "install" in info.value.hint


def test_ecs_exec_plugin_names_the_binary(monkeypatch, tmp_path):
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(tmp_path / "nope"))
    with pytest.raises(PluginError, match="ECS_EXEC_PLUGIN"):
        find_plugin()
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(DROPIN))
    assert find_plugin() == str(DROPIN)


# -- fake plugins: the official binary's failure modes ---------------------------------------


def fake_plugin(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake-plugin"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


async def drain(stream: PluginStream, limit: float = 20) -> bytes:
    out = b""
    async with asyncio.timeout(limit):
        while data := await stream.receive():
            out += data
    return out


def test_cannot_perform_start_session_becomes_plugin_error(monkeypatch, tmp_path):
    plugin = fake_plugin(
        tmp_path,
        f"printf '\\nStarting session with SessionId: {SID}\\n'; "
        "printf 'Cannot perform start session: EOF\\n'; exit 0",
    )
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(plugin))

    async def main() -> None:
        stream = PluginStream(
            ExecSession(SID, "wss://x", "t"),
            region="us-east-1",
            profile=None,
            target="t",
            ssm_endpoint="",
        )
        await stream.start()
        with pytest.raises(PluginError, match="Cannot perform start session: EOF"):
            await drain(stream)
        await stream.close()

    asyncio.run(main())


def test_a_crashing_plugin_reports_its_status(monkeypatch, tmp_path):
    plugin = fake_plugin(tmp_path, "echo 'panic: runtime error' >&2; exit 2")
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(plugin))

    async def main() -> None:
        stream = PluginStream(
            ExecSession(SID, "wss://x", "t"),
            region="us-east-1",
            profile=None,
            target="t",
            ssm_endpoint="",
        )
        await stream.start()
        with pytest.raises(PluginError, match=r"status 2: panic: runtime error"):
            await drain(stream)
        await stream.close()

    asyncio.run(main())


def test_the_plugin_gets_a_raw_pty_and_the_seven_arguments(monkeypatch, tmp_path):
    # The fake plugin reports its argv count and the PTY's modes, then echoes 8 bytes back.
    plugin = fake_plugin(
        tmp_path,
        'echo "argc=$#"; stty -a | tr " " "\\n" | grep -E "^-?(icanon|echo|isig|opost|icrnl)$"'
        " | tr '\\n' ' '; echo; head -c 8",
    )
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(plugin))

    async def main() -> bytes:
        stream = PluginStream(
            ExecSession(SID, "wss://x", "t"),
            region="us-east-1",
            profile=None,
            target="t",
            ssm_endpoint="",
        )
        await stream.start()
        await stream.send(b"\x03\r\n\x00\xff\x1a\x04z")
        out = await drain(stream)
        await stream.close()
        return out

    out = asyncio.run(main())
    assert out.startswith(b"argc=6\n")  # + argv[0]: the AWS CLI's 7
    modes = out.split(b"\n")[1].split()
    assert sorted(modes) == sorted([b"-icanon", b"-echo", b"-isig", b"-opost", b"-icrnl"])
    assert out.endswith(b"\x03\r\n\x00\xff\x1a\x04z")


# -- against the sandbox, with our drop-in as the plugin -------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(fast=True) as sandbox:
        yield sandbox


@pytest.fixture
def aws_env(monkeypatch, tmp_path, sandbox):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(DROPIN))
    monkeypatch.delenv("ECS_EXEC_DEBUG", raising=False)
    return AwsClients(AwsSettings(region="us-east-1", endpoint_url=sandbox.endpoint_url))


def open_stream(clients: AwsClients, command: str) -> PluginStream:
    api = EcsApi(clients.ecs, cache_task_definitions=False)
    session = api.execute_command(
        cluster="demo", task_arn=WEB_READY_1, container="app", command=command
    )
    return PluginStream(
        session,
        region="us-east-1",
        profile=None,
        target=f"ecs:demo_{WEB_READY_1}_runtime",
        ssm_endpoint=clients.settings.endpoint_url,
        clients=clients,
    )


async def receive_until(stream: PluginStream, marker: bytes, limit: float = 20) -> bytes:
    out = b""
    async with asyncio.timeout(limit):
        while marker not in out:
            data = await stream.receive()
            assert data, f"the session ended before {marker!r}: {out!r}"
            out += data
    return out


def test_bytes_pass_exactly_and_banners_are_stripped(aws_env):
    payload = bytes(range(256)) * 4  # every byte value; ends in 0xff, never a lone LF
    payload = payload[:1000]

    async def main() -> bytes:
        stream = open_stream(
            aws_env, "sh -c 'stty raw -echo; echo READY; head -c 1000 | od -An -v -tx1'"
        )
        await stream.start()
        out = await receive_until(stream, b"READY\n")
        await stream.send(payload)
        out += await drain(stream)
        await stream.close()
        return out

    out = asyncio.run(main())
    assert out.startswith(b"READY\n"), out[:200]
    assert b"Starting session" not in out and b"Exiting session" not in out
    echoed = bytes.fromhex(out[len(b"READY\n") :].decode())
    assert echoed == payload


def test_input_larger_than_the_pty_buffer(aws_env):
    payload = bytes(range(1, 256)) * 400  # ~100 KB, several times the PTY's 4 KB buffer
    size = len(payload)

    async def main() -> bytes:
        stream = open_stream(aws_env, f"sh -c 'stty raw -echo; echo READY; head -c {size} | cksum'")
        await stream.start()
        await receive_until(stream, b"READY\n")
        await stream.send(payload)
        out = await drain(stream, limit=40)
        await stream.close()
        return out

    expected = subprocess.run(["cksum"], input=payload, capture_output=True, check=True).stdout
    assert asyncio.run(main()).strip() == expected.strip()


def test_resize_reaches_the_remote(aws_env):
    async def main() -> bytes:
        stream = open_stream(
            aws_env, "sh -c 'stty raw -echo; echo READY; head -c 1 >/dev/null; stty size'"
        )
        await stream.start()
        await receive_until(stream, b"READY\n")
        await stream.resize(123, 45)
        # The official plugin polls every 500 ms; the drop-in reacts to SIGWINCH at once.
        await asyncio.sleep(0.8)
        await stream.send(b"x")
        out = await drain(stream)
        await stream.close()
        return out

    assert re.search(rb"\b45 123\b", asyncio.run(main()))


def test_close_terminates_the_plugin_and_the_session(aws_env, sandbox):
    async def main() -> tuple[int, bool]:
        stream = open_stream(aws_env, "sh -c 'echo READY; exec sleep 60'")
        await stream.start()
        await receive_until(stream, b"READY")
        child = stream._child
        started = time.monotonic()
        await stream.close(terminate=True)
        assert time.monotonic() - started < 10
        return child.pid, child.isalive()

    pid, alive = asyncio.run(main())
    assert not alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sandbox.requests.counts()["TerminateSession"] >= 1


def test_a_session_that_ends_returns_empty(aws_env):
    async def main() -> bytes:
        stream = open_stream(aws_env, "echo done")
        await stream.start()
        out = await drain(stream)
        assert await stream.receive() == b""
        await stream.close()
        return out

    out = asyncio.run(main())
    assert out.replace(b"\r", b"") == b"done\n"


@pytest.mark.skipif(
    shutil.which("session-manager-plugin") is None,
    reason="the official session-manager-plugin is not installed",
)
def test_with_the_official_plugin(aws_env, monkeypatch):
    monkeypatch.delenv("ECS_EXEC_PLUGIN")

    async def main() -> bytes:
        stream = open_stream(aws_env, "sh -c 'stty raw -echo; echo READY; head -c 6'")
        await stream.start()
        head = await receive_until(stream, b"READY\n")
        await stream.send(b"abc\ndz")
        out = head + await drain(stream)
        await stream.close()
        return out

    assert asyncio.run(main()) == b"READY\nabc\ndz"


def test_kms_session_line_is_stripped(aws_env):
    from ecs_exec.sandbox.demo import SECURE_API_READY

    clients = aws_env
    task = clients.ecs.describe_tasks(cluster="secure", tasks=[SECURE_API_READY])["tasks"][0]
    target = f"ecs:secure_{SECURE_API_READY}_{task['containers'][0]['runtimeId']}"
    api = EcsApi(clients.ecs, cache_task_definitions=False)
    session = api.execute_command(
        cluster="secure", task_arn=SECURE_API_READY, container="api", command="echo secret-ok"
    )

    async def main() -> bytes:
        stream = PluginStream(
            session,
            region="us-east-1",
            profile=None,
            target=target,
            ssm_endpoint=clients.settings.endpoint_url,
            clients=clients,
        )
        await stream.start()
        out = await drain(stream)
        await stream.close()
        return out

    assert asyncio.run(main()) == b"secret-ok\r\n"
