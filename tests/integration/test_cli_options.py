"""The command line a user expects, in process: global options before or after a subcommand,
empty and malformed values, non-UTF-8 arguments, --help."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ecs_exec.cli import run
from ecs_exec.local.terminal import Console
from ecs_exec.sandbox import demo
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import DEMO_CLUSTERS, Result, clean_env, run_in_process

TOOL = 255
USAGE = 2


@pytest.fixture
def api() -> Iterator[SandboxHttpServer]:
    with SandboxHttpServer(demo.demo_state()) as server:
        yield server


def one_error(result: Result, code: int, *needles: str) -> None:
    """Exit ``code``, nothing on stdout, and stderr the error line (plus hint/list lines)."""
    assert result.code == code, (result.code, result.err)
    assert result.stdout == b""
    lines = result.err.splitlines()
    assert lines and lines[0].startswith("ecs-exec: error: "), result.err
    assert all(line.startswith(("hint: ", "  - ")) for line in lines[1:]), result.err
    assert "unexpected" not in result.err
    for needle in needles:
        assert needle in result.err, (needle, result.err)


def ls_json(result: Result) -> dict:
    assert result.code == 0, result.err
    return dict(json.loads(result.out))


@pytest.mark.parametrize(
    "args",
    [
        ["--endpoint-url", "URL", "--cluster", "demo", "ls", "-o", "json"],
        ["ls", "--cluster", "demo", "--endpoint-url", "URL", "-o", "json"],
        ["--cluster", "demo", "ls", "--endpoint-url", "URL", "--region", "us-east-1", "-o", "json"],
        ["--cluster", "nope", "ls", "--cluster", "demo", "--endpoint-url", "URL", "-o", "json"],
    ],
    ids=["before", "after", "mixed", "after-wins"],
)
def test_global_options_before_or_after_ls(api, tmp_path, args):
    args = [api.url if a == "URL" else a for a in args]
    document = ls_json(run_in_process(args, clean_env(tmp_path)))
    assert document["cluster"] == "demo"
    assert [s["name"] for s in document["services"]] == ["web", "worker"]


def test_service_and_container_after_ls(api, tmp_path):
    args = ["ls", "--endpoint-url", api.url, "--cluster", "demo", "--service", "web"]
    document = ls_json(
        run_in_process(
            [*args, "--container", "log-router", "-o", "json"], env := clean_env(tmp_path)
        )
    )
    assert document["service"] == "web"
    assert {t["defaultContainer"] for t in document["tasks"]} == {"log-router"}
    table = run_in_process([*args, "-q", "--debug"], env)
    assert table.code == 0 and "TASK" in table.out


def test_sandbox_flag_after_ls(tmp_path):
    result = run_in_process(
        ["ls", "--sandbox", "--cluster", "demo", "-o", "json"], clean_env(tmp_path)
    )
    assert [s["name"] for s in ls_json(result)["services"]] == ["web", "worker"]


def test_remote_ls_is_not_the_subcommand(api, tmp_path):
    # Everything after `--` is the remote command: here it reaches target resolution.
    result = run_in_process(
        ["--endpoint-url", api.url, "--cluster", "nope", "--", "ls", "--cluster", "x"],
        clean_env(tmp_path),
    )
    one_error(result, TOOL, "cluster 'nope' not found in us-east-1")


def test_help_after_a_subcommand_lists_global_options(tmp_path):
    result = run_in_process(["ls", "--help"], clean_env(tmp_path))
    assert result.code == 0
    for flag in ("--endpoint-url", "--region", "--profile", "--sandbox", "--debug", "--cluster"):
        assert flag in result.out


def test_named_errors_on_ls(api, tmp_path):
    env = clean_env(tmp_path)
    one_error(
        run_in_process(["ls", "--endpoint-url", api.url, "--cluster", "nope"], env),
        TOOL,
        "ecs-exec: error: cluster 'nope' not found in us-east-1",
        f"hint: clusters in us-east-1: {', '.join(DEMO_CLUSTERS)}",
    )
    one_error(
        run_in_process(
            ["ls", "--endpoint-url", api.url, "--cluster", "demo", "--service", "api"], env
        ),
        TOOL,
        "ecs-exec: error: service 'api' not found in cluster 'demo'",
        "hint: services in cluster 'demo': web, worker",
    )


def test_not_found_hint_with_no_clusters(tmp_path):
    state = demo.demo_state()
    state.clusters.clear()
    with SandboxHttpServer(state) as server:
        result = run_in_process(
            ["--endpoint-url", server.url, "--cluster", "demo", "--task", "f" * 32, "--", "true"],
            clean_env(tmp_path),
        )
    one_error(result, TOOL, "cluster 'demo' not found", "hint: there are no clusters in us-east-1")


# -- empty values ----------------------------------------------------------------------------

EMPTY_FLAGS = [
    "--cluster",
    "--service-name",
    "--service",
    "--task",
    "--container",
    "--region",
    "--profile",
    "--endpoint-url",
]


@pytest.mark.parametrize(
    ("flag", "where"),
    [
        (flag, where)
        for flag in EMPTY_FLAGS
        for where in ("exec", "before ls", "after ls")
        if not (where == "after ls" and flag == "--task")  # ls has no --task
    ],
)
def test_an_empty_flag_is_a_usage_error(api, tmp_path, flag, where):
    base = ["--endpoint-url", api.url] if flag != "--endpoint-url" else []
    args = {
        "exec": [*base, flag, "", "--", "true"],
        "before ls": [*base, flag, "", "ls"],
        "after ls": ["ls", *base, flag, ""],
    }[where]
    shown = "--service-name" if flag == "--service" else flag
    one_error(run_in_process(args, clean_env(tmp_path)), USAGE, f"{shown} is empty", "hint: ")
    assert sum(api.log.counts().values()) == 0  # refused before any AWS call


def test_empty_flag_spaces_only(api, tmp_path):
    result = run_in_process(
        ["--endpoint-url", api.url, "--cluster", "  ", "ls"], clean_env(tmp_path)
    )
    one_error(result, USAGE, "--cluster is empty")


def test_empty_environment_variables_count_as_unset(api, tmp_path):
    # An unset gateway variable expands to an empty one: it must mean "not given".
    env = clean_env(tmp_path, CLUSTER_NAME="", SERVICE_NAME="", CONTAINER="", AWS_REGION="")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    # No cluster: the several-clusters error, not "cluster '' not found".
    one_error(
        run_in_process(["--endpoint-url", api.url, "--", "true"], env),
        TOOL,
        "several clusters",
    )
    # No service: the cluster's services are listed, not a service's tasks.
    document = ls_json(
        run_in_process(["--endpoint-url", api.url, "--cluster", "demo", "ls", "-o", "json"], env)
    )
    assert "services" in document


def test_gateway_connection_command_with_empty_variables(api, tmp_path):
    # `--cluster=$CLUSTER_NAME --service-name=$SERVICE_NAME` with SERVICE_NAME empty.
    env = clean_env(tmp_path, SERVICE_NAME="")
    args = ["--cluster=demo", "--service-name=", "--container=", "--endpoint-url", api.url]
    document = ls_json(run_in_process([*args, "ls", "-o", "json"], env))
    assert [s["name"] for s in document["services"]] == ["web", "worker"]
    # ... but an explicitly empty value, and an empty endpoint in any form, are errors.
    for bad in (["--service-name", ""], ["--endpoint-url="], ["--region="], ["--task="]):
        one_error(run_in_process([*args, *bad, "ls"], env), USAGE, "is empty")


# -- malformed endpoint URLs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
        ("http://[::1]x:80", "has a malformed host or port"),
        ("http://exa mple.com", "has a malformed host or port"),
        ("http://h:", "has a malformed host or port"),
        ("http://127.0.0.1:99999", "is not a valid URL (Port out of range"),
        ("http://127.0.0.1:port", "is not a valid URL"),
        ("http://", "has no host"),
        ("https://", "has no host"),
        ("http:", "has no scheme"),
        ("localhost:4566", "has no scheme"),
        ("127.0.0.1:4566", "has no scheme"),
        ("ftp://example.com", "is not an http(s) URL"),
    ],
)
def test_malformed_endpoint_url_flag(tmp_path, url, needle):
    for args in (["--endpoint-url", url, "ls"], ["ls", "--endpoint-url", url]):
        one_error(run_in_process(args, clean_env(tmp_path)), USAGE, f"'{url}' {needle}")


def test_malformed_endpoint_url_in_environment(tmp_path):
    env = clean_env(tmp_path, AWS_ENDPOINT_URL="http://[::1")
    one_error(
        run_in_process(["ls"], env), TOOL, "AWS_ENDPOINT_URL 'http://[::1' is not a valid URL"
    )
    env = clean_env(tmp_path, AWS_ENDPOINT_URL_ECS="http://[::1")
    one_error(run_in_process(["ls"], env), TOOL, "the ECS endpoint is not a valid URL")


def test_malformed_region(tmp_path):
    result = run_in_process(["ls", "--region", "us east"], clean_env(tmp_path))
    one_error(result, USAGE, "--region 'us east' is not a valid AWS region name")
    result = run_in_process(["ls"], clean_env(tmp_path, AWS_REGION="us_east"))
    one_error(result, TOOL, "AWS_REGION 'us_east' is not a valid AWS region name")
    # AWS_DEFAULT_REGION is botocore's to read: still one named line.
    env = clean_env(tmp_path, AWS_DEFAULT_REGION="us east")
    del env["AWS_REGION"]
    one_error(run_in_process(["ls"], env), TOOL, "'us east' is not a valid AWS region name")


# -- non-UTF-8 arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--cluster", "demo", "--", "echo", "caf\udce9"],
        ["--cluster", "d\udcffmo", "--", "true"],
        ["ls", "--cluster", "d\udcffmo"],
    ],
    ids=["remote argv", "option value", "ls option"],
)
def test_non_utf8_arguments_are_refused_by_name(api, tmp_path, args):
    result = run_in_process(["--endpoint-url", api.url, *args], clean_env(tmp_path))
    one_error(result, USAGE, "is not valid UTF-8", "\\x")
    assert sum(api.log.counts().values()) == 0


def test_non_utf8_environment_value(api, tmp_path):
    env = clean_env(tmp_path, CLUSTER_NAME="d\udcffmo")
    one_error(
        run_in_process(["--endpoint-url", api.url, "ls"], env),
        TOOL,
        "CLUSTER_NAME is not valid UTF-8",
    )


def test_stdout_on_a_full_disk_in_process(api, tmp_path):
    env = clean_env(tmp_path)
    with (
        open("/dev/full", "wb") as full,
        open(tmp_path / "err", "w+b") as err,
        open("/dev/null", "rb") as null,
    ):
        import os
        from unittest import mock

        with mock.patch.dict(os.environ, env, clear=True):
            code = run(
                ["--endpoint-url", api.url, "ls"],
                console=Console(null.fileno(), full.fileno(), err.fileno(), environ=env),
            )
        err.seek(0)
        text = err.read().decode()
    assert code == TOOL
    assert text.startswith("ecs-exec: error: cannot write to stdout: No space left on device")
