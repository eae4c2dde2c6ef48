"""The session-manager-plugin drop-in: its argv contract, and real sessions against the sandbox.

The argv cases run ``ecs-exec-plugin`` as a subprocess, as the AWS CLI does. The end-to-end
tests run ``aws ecs execute-command`` (AWS CLI v1) with the drop-in on PATH under the name
``session-manager-plugin``, and the drop-in on its own with piped stdin and on a terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import boto3
import pexpect
import pytest

from ecs_exec.datachannel.client import CLIENT_VERSION
from ecs_exec.dropin.args import (
    INSTALL_MESSAGE,
    ArgvError,
    PrintAndExit,
    StartSession,
    parse_argv,
    ssm_endpoint_for,
)
from ecs_exec.dropin.main import clients_for
from ecs_exec.sandbox.demo import SECURE_API_READY, WEB_READY_1
from ecs_exec.sandbox.server import Sandbox, running_sandbox

BIN = Path(sys.executable).parent
DROPIN = str(BIN / "ecs-exec-plugin")
AWS = str(BIN / "aws")
SESSION = {
    "sessionId": "sid-1",
    "streamUrl": "wss://example/v1/data-channel/sid-1",
    "tokenValue": "t",
}
PARAMS = json.dumps({"Target": "ecs:demo_task_runtime"})


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in ("ECS_EXEC_DEBUG", "ECS_EXEC_PLUGIN"):
        env.pop(name, None)
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def run_plugin(
    args: list[str], env: dict[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [DROPIN, *args], input=stdin, capture_output=True, env=env, timeout=30, check=False
    )


# -- the argv contract -----------------------------------------------------------------------


def test_no_arguments_prints_the_install_message():
    result = run_plugin([])
    assert (result.returncode, result.stdout, result.stderr) == (0, INSTALL_MESSAGE.encode(), b"")
    assert result.stdout == (
        b"\nThe Session Manager plugin was installed successfully. "
        b"Use the AWS CLI to start a session.\n\n"
    )


def test_version():
    result = run_plugin(["--version"])
    assert (result.returncode, result.stdout) == (0, f"{CLIENT_VERSION}\n".encode())


@pytest.mark.parametrize("args", [["bogus"], ["bogus", "more"], ["--help"]])
def test_unknown_operation(args):
    result = run_plugin(args)
    assert result.returncode == 0
    assert (
        result.stdout
        == (
            f"\nUnknown operation {args[0]}. \n"
            "Use session-manager-plugin --version to check the version.\n\n"
        ).encode()
    )


def test_invalid_operation():
    result = run_plugin([json.dumps(SESSION), "us-east-1", "StopSession", "", PARAMS, ""])
    assert (result.returncode, result.stdout) == (0, b"Invalid Operation")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{not json", "r", "StartSession", "", PARAMS, ""], "not valid JSON"),
        (["[]", "r", "StartSession", "", PARAMS, ""], "not a JSON object"),
        (
            ['{"sessionId": "s", "streamUrl": "u"}', "r", "StartSession", "", PARAMS, ""],
            "no string 'TokenValue'",
        ),
        ([json.dumps(SESSION), "r", "StartSession", "", "{", ""], "argv[5] is not valid JSON"),
        (
            [json.dumps(SESSION), "r", "StartSession", "", '{"target": "x"}', ""],
            "no string 'Target'",
        ),
        ([json.dumps(SESSION), "r", "StartSession", "", '{"Target": 3}', ""], "no string 'Target'"),
        (
            ["AWS_SSM_START_SESSION_RESPONSE", "r", "StartSession", "", PARAMS, ""],
            "AWS_SSM_START_SESSION_RESPONSE",
        ),
    ],
)
def test_malformed_input_is_one_line_on_stderr_and_status_255(args, message):
    env = {k: v for k, v in os.environ.items() if k != "AWS_SSM_START_SESSION_RESPONSE"}
    result = run_plugin(args, env=env)
    assert result.returncode == 255
    assert result.stdout == b""
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Cannot perform start session: ")
    assert message in lines[0]


def test_session_json_in_either_casing_and_from_the_environment():
    pascal = {"SessionId": "s", "StreamUrl": "wss://h/p", "TokenValue": "tok"}
    env = {"AWS_SSM_START_SESSION_RESPONSE": json.dumps(pascal), "OTHER": "1"}
    got = parse_argv(
        ["p", "AWS_SSM_START_SESSION_RESPONSE", "us-east-2", "StartSession", "prof", PARAMS, ""],
        version="v",
        environ=env,
    )
    assert isinstance(got, StartSession)
    assert (got.session.session_id, got.session.stream_url, got.session.token_value) == (
        "s",
        "wss://h/p",
        "tok",
    )
    assert (got.region, got.profile, got.target, got.legacy) == (
        "us-east-2",
        "prof",
        "ecs:demo_task_runtime",
        False,
    )
    assert env == {"OTHER": "1"}  # read, then unset, as the plugin does
    camel = parse_argv(
        ["p", json.dumps(SESSION), "r", "StartSession", "", PARAMS, "e"], version="v"
    )
    assert isinstance(camel, StartSession)
    assert camel.session.session_id == "sid-1" and camel.profile is None


def test_legacy_four_argument_form():
    got = parse_argv(["p", json.dumps(SESSION), "us-east-1", "StartSession"], version="v")
    assert isinstance(got, StartSession)
    assert got.legacy and got.target == "" and got.endpoint == "" and got.profile is None
    assert parse_argv(["p", "x", "r"], version="v") == PrintAndExit(
        "\nUnknown operation x. \nUse session-manager-plugin --version to check the version.\n\n"
    )
    with pytest.raises(ArgvError):
        parse_argv(["p", "{", "r", "StartSession"], version="v")


@pytest.mark.parametrize(
    ("endpoint", "ssm"),
    [
        ("https://ecs.us-east-1.amazonaws.com", None),  # what `aws ecs execute-command` passes
        ("https://ecs-fips.us-gov-west-1.amazonaws.com", None),
        ("https://ssm.eu-west-1.amazonaws.com", "https://ssm.eu-west-1.amazonaws.com"),
        (
            "https://vpce-1-abc.ssm.eu-west-1.vpce.amazonaws.com",
            "https://vpce-1-abc.ssm.eu-west-1.vpce.amazonaws.com",
        ),
        ("http://127.0.0.1:4566", "http://127.0.0.1:4566"),
        ("http://localhost:4566", "http://localhost:4566"),
        ("", None),
    ],
)
def test_ssm_endpoint_choice(endpoint, ssm):
    assert ssm_endpoint_for(endpoint) == ssm


def test_clients_use_the_regions_ssm_endpoint_for_an_ecs_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    start = parse_argv(
        [
            "p",
            json.dumps(SESSION),
            "eu-west-1",
            "StartSession",
            "",
            PARAMS,
            "https://ecs.eu-west-1.amazonaws.com",
        ],
        version="v",
    )
    assert isinstance(start, StartSession)
    clients = clients_for(start)
    assert clients.ssm.meta.endpoint_url == "https://ssm.eu-west-1.amazonaws.com"
    assert clients.kms.meta.endpoint_url == "https://kms.eu-west-1.amazonaws.com"
    sandbox = parse_argv(
        ["p", json.dumps(SESSION), "us-east-1", "StartSession", "", PARAMS, "http://127.0.0.1:9"],
        version="v",
    )
    assert isinstance(sandbox, StartSession)
    local = clients_for(sandbox)
    assert local.ssm.meta.endpoint_url == local.kms.meta.endpoint_url == "http://127.0.0.1:9"


def test_install_wrapper_and_module_entry_point(tmp_path):
    result = run_plugin(["--install-as-session-manager-plugin", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    wrapper = tmp_path / "session-manager-plugin"
    assert result.stdout.decode().strip() == str(wrapper)
    assert os.access(wrapper, os.X_OK)
    # From another directory, with a clean environment: the wrapper finds the package.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    ran = subprocess.run([str(wrapper)], capture_output=True, env=env, cwd="/", check=False)
    assert (ran.returncode, ran.stdout) == (0, INSTALL_MESSAGE.encode())
    module = subprocess.run(
        [sys.executable, "-m", "ecs_exec.dropin", "--version"], capture_output=True, check=False
    )
    assert module.stdout == f"{CLIENT_VERSION}\n".encode()
    missing = run_plugin(["--install-as-session-manager-plugin", str(tmp_path / "nope")])
    assert missing.returncode == 255 and b"no such directory" in missing.stderr


# -- end to end against the sandbox ----------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(fast=True) as sandbox:
        yield sandbox


@pytest.fixture
def plugin_path(tmp_path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    result = run_plugin(["--install-as-session-manager-plugin", str(bindir)])
    assert result.returncode == 0, result.stderr
    return bindir


def ready_task(sandbox: Sandbox) -> str:
    ecs = boto3.client(
        "ecs",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    arns = ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"]
    for task in tasks:
        agents = [
            agent
            for container in task["containers"]
            if container["name"] == "app"
            for agent in container.get("managedAgents", [])
        ]
        if (
            task.get("enableExecuteCommand")
            and task.get("desiredStatus") == "RUNNING"
            and any(a.get("lastStatus") == "RUNNING" for a in agents)
        ):
            return str(task["taskArn"]).rsplit("/", 1)[-1]
    raise AssertionError("no ready task in the demo world")


def start_session(sandbox: Sandbox, command: str) -> dict[str, str]:
    ecs = boto3.client(
        "ecs",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    response = ecs.execute_command(
        cluster="demo", task=WEB_READY_1, container="app", command=command, interactive=True
    )
    return dict(response["session"])


def test_aws_cli_execute_command_uses_the_dropin(sandbox, plugin_path, tmp_path):
    task = ready_task(sandbox)
    env = clean_env(tmp_path, PATH=f"{plugin_path}{os.pathsep}{os.environ['PATH']}")
    args = [
        "ecs",
        "execute-command",
        "--endpoint-url",
        sandbox.endpoint_url,
        "--cluster",
        "demo",
        "--task",
        task,
        "--container",
        "app",
        "--interactive",
        "--command",
        "echo hello-from-sandbox",
    ]
    child = pexpect.spawn(AWS, args, env=env, timeout=30, dimensions=(30, 100))
    try:
        child.expect_exact("The Session Manager plugin was installed successfully.")
        child.expect(r"Starting session with SessionId: (ecs-execute-command-\w+)")
        session_id = child.match.group(1).decode()
        child.expect_exact("hello-from-sandbox")
        child.expect_exact(f"Exiting session with sessionId: {session_id}.")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before


def test_piped_stdin_eof_keeps_the_session_until_it_ends(sandbox, tmp_path):
    # The official plugin exits at stdin EOF and loses this output; the drop-in sends the
    # input (before any output arrived) and then waits for the remote to finish.
    session = start_session(sandbox, "sh -c 'read line; sleep 0.5; echo got:$line; exit 0'")
    env = clean_env(tmp_path, AWS_SSM_START_SESSION_RESPONSE=json.dumps(session))
    result = run_plugin(
        [
            "AWS_SSM_START_SESSION_RESPONSE",
            "us-east-1",
            "StartSession",
            "",
            PARAMS,
            sandbox.endpoint_url,
        ],
        env=env,
        stdin=b"piped-input\n",
    )
    sid = session["sessionId"]
    assert result.returncode == 0, result.stderr
    out = result.stdout.replace(b"\r", b"")
    assert out.startswith(f"\nStarting session with SessionId: {sid}\n".encode())
    assert b"got:piped-input\n" in out
    assert out.endswith(f"\n\nExiting session with sessionId: {sid}.\n\n".encode())
    assert result.stderr == b""


def test_terminal_session_keys_signals_and_resize(sandbox, tmp_path):
    script = (
        "echo go; read a; stty size; echo ready; read line; echo line:$line; read x; stty size; "
        "trap 'echo got-int; exit 0' INT; echo armed; while :; do sleep 0.1; done"
    )
    session = start_session(sandbox, f'sh -c "{script}"')
    env = clean_env(tmp_path)
    args = [json.dumps(session), "us-east-1", "StartSession", "", PARAMS, sandbox.endpoint_url]
    child = pexpect.spawn(DROPIN, args, env=env, timeout=20, dimensions=(40, 132))
    try:
        child.expect_exact("Starting session with SessionId: ")
        # The remote starts before any size message can arrive (with the official plugin
        # too, which sends it after the first output): ask only once it has been sent.
        child.expect_exact("go")
        child.send("\n")
        child.expect_exact("40 132")
        child.expect_exact("ready")
        # cbreak -echo, as the plugin's `stty cbreak -echo`: ISIG and ICRNL stay on.
        iflag, _, _, lflag = termios.tcgetattr(child.child_fd)[:4]
        assert not lflag & (termios.ECHO | termios.ICANON)
        assert lflag & termios.ISIG and iflag & termios.ICRNL
        child.send("typed\n")
        child.expect_exact("line:typed")
        # Once, from the remote PTY's echo: the local terminal was in -echo.
        assert child.before.count(b"typed") == 1, child.before
        child.setwinsize(50, 100)  # SIGWINCH -> a size message
        child.send("\n")  # a lone Enter goes out as CR; the remote PTY maps it to LF
        child.expect_exact("50 100")
        child.expect_exact("armed")
        # Ctrl-C on the local terminal reaches the remote as byte 03, not as a local signal.
        child.sendintr()
        child.expect_exact("got-int")
        child.expect_exact(f"Exiting session with sessionId: {session['sessionId']}.")
        child.expect(pexpect.EOF)
        # The terminal was given back in the mode it was found in (echo, canonical).
        lflag = termios.tcgetattr(child.child_fd)[3]
        assert lflag & termios.ECHO and lflag & termios.ICANON
    finally:
        child.close()
    assert child.exitstatus == 0


def test_connection_failure_is_reported_and_nonzero(tmp_path):
    dead = {"sessionId": "s", "streamUrl": "ws://127.0.0.1:9/v1/data-channel/s", "tokenValue": "t"}
    result = run_plugin(
        [json.dumps(dead), "us-east-1", "StartSession", "", PARAMS, "http://127.0.0.1:9"],
        env=clean_env(tmp_path),
    )
    assert result.returncode == 255
    assert result.stdout == b"\nStarting session with SessionId: s\n"
    assert b"Cannot perform start session: cannot connect" in result.stderr


def secure_session(sandbox: Sandbox, command: str) -> tuple[dict[str, str], str]:
    ecs = boto3.client(
        "ecs",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    task = ecs.describe_tasks(cluster="secure", tasks=[SECURE_API_READY])["tasks"][0]
    target = f"ecs:secure_{SECURE_API_READY}_{task['containers'][0]['runtimeId']}"
    response = ecs.execute_command(
        cluster="secure", task=SECURE_API_READY, container="api", command=command, interactive=True
    )
    return dict(response["session"]), target


def test_kms_encrypted_session(sandbox, tmp_path):
    session, target = secure_session(sandbox, "echo secret-ok")
    result = run_plugin(
        [
            json.dumps(session),
            "us-east-1",
            "StartSession",
            "",
            json.dumps({"Target": target}),
            sandbox.endpoint_url,
        ],
        env=clean_env(tmp_path),
    )
    sid = session["sessionId"]
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == (
            f"\nStarting session with SessionId: {sid}\n"
            "This session is encrypted using AWS KMS.\n"
            "secret-ok\r\n"
            f"\n\nExiting session with sessionId: {sid}.\n\n"
        ).encode()
    )


def test_legacy_form_refuses_kms(sandbox, tmp_path):
    session, _ = secure_session(sandbox, "echo secret-ok")
    # No endpoint in the legacy form: point the SSM default at the sandbox for ResumeSession.
    env = clean_env(tmp_path, AWS_ENDPOINT_URL_SSM=sandbox.endpoint_url)
    result = run_plugin([json.dumps(session), "us-east-1", "StartSession"], env=env)
    assert result.returncode == 255
    assert b"secret-ok" not in result.stdout
    assert b"encrypted" not in result.stdout
    assert b"Cannot perform start session" in result.stderr
