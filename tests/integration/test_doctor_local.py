"""Doctor's local checks, its text output and exit statuses, against the sandbox API: for
each local check a scenario where it fails and one where it passes."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest

from ecs_exec.aws.clients import AwsClients, AwsSettings
from ecs_exec.sandbox import demo, demo_broken as b
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import clean_env, run_in_process
from tests.integration.doctor_helpers import Doctor, DoctorWorld, doctor_world

TASK = demo.WEB_READY_1
TARGET = {"cluster": "demo", "task": TASK}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for the module's CLI runs: botocore's trimmed ECS model is cached there once."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def world(home: Path) -> Iterator[DoctorWorld]:
    with doctor_world(demo.demo_state(), home) as w:
        yield w


@pytest.fixture(scope="module")
def api(world: DoctorWorld) -> SandboxHttpServer:
    return world.server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_region_fails_and_skips_what_needs_it(api, home):
    """Also: without a terminal the text is plain ASCII, statuses in words."""
    environ = clean_env(home)
    del environ["AWS_REGION"]
    result = run_in_process(["--endpoint-url", api.url, "doctor", "--cluster", "demo"], environ)
    assert result.code == 1, result.err
    assert "\x1b" not in result.out and result.out.isascii()
    lines = result.out.splitlines()
    assert lines[0] == "ecs-exec doctor: cluster demo"
    assert lines[1:3] == ["", "Local"]
    region = next(line for line in lines if " local.region " in line)
    assert region.startswith("  [FAILED]   local.region") and "no AWS region" in region
    assert "    fix: pass --region, set AWS_REGION" in result.out
    identity = next(line for line in lines if " local.identity " in line)
    assert identity.startswith("  [skipped]  local.identity ")
    assert identity.endswith(" needs local.region, which failed")
    assert "Task" in lines and "Network" in lines
    assert lines[-1].startswith("verdict: FAILED (1 failed, 0 warnings, ")


def test_no_credentials(api, home):
    environ = clean_env(home)
    del environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]
    result = run_in_process(["--endpoint-url", api.url, "doctor", "-o", "json"], environ)
    assert result.code == 1, result.err
    checks = {c["id"]: c for c in json.loads(result.out)["checks"]}
    assert checks["local.credentials"]["status"] == "failed"
    assert "AWS_PROFILE" in checks["local.credentials"]["fix"]
    assert checks["local.identity"]["status"] == "skipped"


def test_identity_refused(world):
    state = demo.demo_state()
    state.faults = {"api": {"GetCallerIdentity": {"error": "ExpiredToken", "times": -1}}}
    d = world.run(state=state, groups=("local", "cluster"), **TARGET)
    assert d.status("local.identity") == "failed"
    assert "expired" in d["local.identity"]["reason"]
    assert d.status("local.clock-skew") == "skipped"
    assert d.status("cluster.found") == "skipped"
    assert d.document["verdict"] == "failed"


def test_unreachable_endpoint(world):
    d = world.run(endpoint_url=f"http://127.0.0.1:{closed_port()}", groups=("local",), **TARGET)
    assert d.status("local.ssmmessages") == "failed"
    assert d["local.ssmmessages"]["details"]["step"] == "tcp"
    assert "is running" in d["local.ssmmessages"]["fix"]


def test_proxy_settings(world):
    environ = {"HTTPS_PROXY": "http://user:s3cret@proxy.example:3128", "NO_PROXY": "corp.example"}
    d = world.run(environ=environ, groups=("local",), **TARGET)
    assert d.status("local.proxy") == "ok"
    assert "s3cret" not in json.dumps(d.document)
    assert d["local.proxy"]["details"]["variables"]["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert d.status("local.ssmmessages") == "ok"  # loopback is never proxied
    bad = world.run(environ={"HTTPS_PROXY": "http://"}, groups=("local",), **TARGET)
    assert bad.status("local.proxy") == "failed"
    assert bad["local.proxy"]["fix"] == "fix or unset HTTPS_PROXY"


def test_plugin(world, monkeypatch, tmp_path):
    plugin = str(Path(sys.executable).with_name("ecs-exec-plugin"))
    monkeypatch.setenv("ECS_EXEC_PLUGIN", plugin)
    d = world.run(transport="plugin", groups=("local",), **TARGET)
    assert d.status("local.plugin") == "ok", d["local.plugin"]
    assert d["local.plugin"]["details"]["path"] == plugin
    assert d["local.plugin"]["details"]["version"]
    monkeypatch.setenv("ECS_EXEC_PLUGIN", str(tmp_path / "no-such-plugin"))
    missing = world.run(transport="plugin", groups=("local",), **TARGET)
    assert missing.status("local.plugin") == "failed"
    assert "no-such-plugin" in missing["local.plugin"]["reason"]


@pytest.mark.parametrize(
    ("offset", "status"), [(0, "ok"), (90, "warning"), (-90, "warning"), (600, "failed")]
)
def test_clock_skew(world, offset, status):
    d = world.run(clock=lambda: time.time() + offset, groups=("local",), **TARGET)
    assert d.status("local.clock-skew") == status
    assert abs(d["local.clock-skew"]["details"]["skewSeconds"] - offset) <= 5
    if status != "ok":
        assert "timedatectl" in d["local.clock-skew"]["fix"]


def test_credentials_expiry(world, tmp_path):
    """Credentials from a credential_process that expire in 30 minutes: fine now, a warning
    20 minutes later, a failure 40 minutes later (the clock is doctor's, injected)."""
    script = tmp_path / "creds.py"
    script.write_text(
        "import datetime, json\n"
        "t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)\n"
        'print(json.dumps({"Version": 1, "AccessKeyId": "sandbox", "SecretAccessKey": "x",\n'
        '                  "Expiration": t.isoformat()}))\n'
    )
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\ncredential_process = {sys.executable} {script}\n")
    environ = clean_env(tmp_path, AWS_CONFIG_FILE=str(config))
    del environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"]
    with mock.patch.dict(os.environ, environ, clear=True):
        clients = AwsClients(AwsSettings(region="us-east-1", endpoint_url=world.server.url))
        # botocore's models are already loaded by the module's clients: share them.
        clients.session.register_component(
            "data_loader", world.clients.session.get_component("data_loader")
        )
        clients.session.get_credentials()
    found = {}
    for minutes in (0, 20, 40):
        d = world.run(
            clients=clients,
            clock=lambda m=minutes: time.time() + 60 * m,
            groups=("local",),
            **TARGET,
        )
        found[minutes] = d["local.credentials"]
    assert [found[m]["status"] for m in (0, 20, 40)] == ["ok", "warning", "failed"]
    assert found[0]["details"]["source"] == "custom-process"
    assert found[0]["details"]["expiresAt"]
    assert "expired" in found[40]["summary"]


def test_refused_under_the_scope_lock_unless_allowed(api, home):
    gateway = clean_env(home, CLUSTER_NAME="demo", SERVICE_NAME="web", AWS_ENDPOINT_URL=api.url)
    before = len(api.log.records)
    refused = run_in_process(["doctor"], gateway)
    assert refused.code == 2
    assert "`doctor` refused" in refused.err and "ECS_EXEC_LOCK_ALLOW" in refused.err
    assert len(api.log.records) == before
    # Allowed, it checks the pinned service, the local checks passing.
    allowed = run_in_process(["doctor", "-o", "json"], {**gateway, "ECS_EXEC_LOCK_ALLOW": "doctor"})
    assert allowed.code in (0, 1), allowed.err
    d = Doctor(json.loads(allowed.out), allowed)
    for check in ("local.region", "local.credentials", "local.identity", "local.clock-skew"):
        assert d.status(check) == "ok", d[check]
    assert d["local.region"]["details"] == {"region": "us-east-1", "source": "AWS_REGION"}
    assert d["local.credentials"]["details"] == {"source": "env", "expiresAt": None}
    assert d["local.identity"]["details"]["arn"] == "arn:aws:iam::123456789012:user/sandbox"
    assert d.status("local.proxy") == "ok"
    assert d.status("local.ssmmessages") == "ok"
    assert d["local.ssmmessages"]["details"]["tls"] is False  # the sandbox: plain TCP
    assert d.status("local.plugin") == "skipped"
    assert "--transport native" in d["local.plugin"]["reason"]
    target = d.document["target"]
    assert (target["cluster"], target["service"], target["container"]) == ("demo", "web", "app")
    assert target["region"] == "us-east-1"


def test_doctor_itself_failing_exits_255(home):
    result = run_in_process(["doctor"], clean_env(home, AWS_ENDPOINT_URL="not a url"))
    assert result.code == 255
    assert result.out == ""
    assert "AWS_ENDPOINT_URL" in result.err


def test_help_lists_the_check_ids(home):
    from ecs_exec.doctor.catalog import CHECKS

    result = run_in_process(["doctor", "--help"], clean_env(home))
    assert result.code == 0
    for check in CHECKS:
        assert check.id in result.out


@pytest.mark.parametrize(
    ("task", "needle"),
    [
        (b.BROKEN_NO_SSMMESSAGES, "could not connect to the exec agent"),  # TargetNotConnected
        (b.BROKEN_EXEC_DISABLED, "is ready for ECS Exec"),  # found before ExecuteCommand
    ],
)
def test_exec_failures_name_the_doctor_line(api, home, task, needle):
    args = ["--endpoint-url", api.url, "--cluster", "broken", "--task", task, "--", "true"]
    result = run_in_process(args, clean_env(home))
    assert result.code == 255
    assert needle in result.err
    hint = next(line for line in result.err.splitlines() if line.startswith("hint: "))
    assert hint.endswith(
        f"`ecs-exec doctor --cluster broken --task {task}` checks every prerequisite"
    )


@pytest.mark.parametrize("no_color", [False, True])
def test_a_terminal_gets_symbols_and_colour_unless_no_color(api, home, no_color):
    """stdout on a pseudo-terminal: symbols and ANSI colour; NO_COLOR keeps it plain."""
    import pty
    import tempfile
    import threading

    from ecs_exec.cli import run
    from ecs_exec.local.terminal import Console

    environ = clean_env(home, **({"NO_COLOR": "1"} if no_color else {}))
    del environ["AWS_REGION"]  # a short report: the region check fails, the rest is skipped
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO once the slave side is closed
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    with (
        tempfile.TemporaryFile() as fin,
        tempfile.TemporaryFile() as ferr,
        mock.patch.dict(os.environ, environ, clear=True),
    ):
        console = Console(fin.fileno(), slave, ferr.fileno(), environ=environ)
        code = run(["--endpoint-url", api.url, "doctor", "--cluster", "demo"], console=console)
    os.close(slave)
    reader.join(10)
    os.close(master)
    out = b"".join(chunks).decode()
    assert code == 1
    if no_color:
        assert "\x1b[" not in out and "[FAILED]" in out
    else:
        assert "\x1b[31m\u2716\x1b[0m local.region" in out
        assert "\x1b[90m\u2013\x1b[0m local.identity" in out
        assert "\x1b[1;31mverdict: FAILED\x1b[0m" in out
