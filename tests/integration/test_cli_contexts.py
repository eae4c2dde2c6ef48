"""Named contexts through the CLI, in process: the commands, --context and ECS_EXEC_CONTEXT,
the precedence, a broken file, the file mode."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.http import SandboxHttpServer
from tests.clihelpers import DEMO_CLUSTERS, Result, clean_env, run_in_process

USAGE = 2
TOOL = 255


@pytest.fixture
def api() -> Iterator[SandboxHttpServer]:
    with SandboxHttpServer(demo.demo_state()) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


def contexts_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_CONFIG_HOME"]) / "ecs-exec" / "contexts.toml"


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    return result


def ls_json(args: list[str], env: dict[str, str]) -> dict:
    return dict(json.loads(ok(run_in_process([*args, "-o", "json"], env)).out))


def test_create_ls_use_show_update_rm(env):
    ok(
        run_in_process(
            [
                "context",
                "create",
                "prod",
                "--profile",
                "p",
                "--region",
                "eu-west-1",
                "--cluster",
                "main",
                "--description",
                'the "real" one',
            ],
            env,
        )
    )
    ok(run_in_process(["context", "create", "dev", "--service-name", "web"], env))
    path = contexts_file(env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    table = ok(run_in_process(["context", "ls"], env)).out.splitlines()
    assert table[0].split()[:2] == ["CURRENT", "NAME"]
    assert [line.split()[0] for line in table[1:]] == ["prod", "dev"]  # none current yet

    ok(run_in_process(["context", "use", "dev"], env))
    document = ls_json(["context", "ls"], env)
    assert document["current"] == "dev"
    assert [(c["name"], c["current"]) for c in document["contexts"]] == [
        ("prod", False),
        ("dev", True),
    ]
    assert document["contexts"][0]["description"] == 'the "real" one'
    assert ok(run_in_process(["context", "ls"], env)).out.splitlines()[2].startswith("*")

    shown = ok(run_in_process(["context", "show"], env)).out  # the one in effect
    assert "name: dev" in shown and "service: web" in shown
    prod = ls_json(["context", "show", "prod"], env)
    assert (prod["region"], prod["cluster"], prod["locked"]) == ("eu-west-1", "main", False)

    ok(
        run_in_process(
            [
                "context",
                "update",
                "prod",
                "--region",
                "us-east-1",
                "--unset",
                "cluster",
                "--locked",
            ],
            env,
        )
    )
    prod = ls_json(["context", "show", "prod"], env)
    assert (prod["region"], "cluster" in prod, prod["locked"]) == ("us-east-1", False, True)

    ok(run_in_process(["context", "rm", "dev"], env))
    assert ls_json(["context", "ls"], env)["current"] is None
    ok(run_in_process(["context", "use", "prod"], env))
    # prod is locked now: leaving it takes ECS_EXEC_LOCK=0 (a gateway user cannot set it).
    refused = run_in_process(["context", "use", "-"], env)
    assert refused.code == USAGE
    assert "`context` refused under the scope lock" in refused.err
    assert "context 'prod' is locked; ECS_EXEC_LOCK=0 turns the lock off" in refused.err
    ok(run_in_process(["context", "use", "-"], {**env, "ECS_EXEC_LOCK": "0"}))
    assert ls_json(["context", "ls"], env) == {
        "current": None,
        "contexts": [
            {
                "name": "prod",
                "profile": "p",
                "region": "us-east-1",
                "description": 'the "real" one',
                "locked": True,
                "current": False,
            }
        ],
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["context", "use", "nope"], "no context named 'nope' (known: a, b)"),
        (["context", "show", "nope"], "no context named 'nope' (known: a, b)"),
        (["--context", "nope", "ls"], "no context named 'nope' (known: a, b)"),
        (["context", "create", "a"], "context 'a' already exists"),
        (["context", "create", "bad name"], "'bad name' cannot name a context"),
        (["context", "create", "c", "--transport", "pigeon"], "unknown transport 'pigeon'"),
        (["context", "create", "c", "--region", ""], "--region is empty"),
        (["context", "update", "a"], "nothing to change"),
    ],
)
def test_bad_context_arguments(env, args, needle):
    ok(run_in_process(["context", "create", "a"], env))
    ok(run_in_process(["context", "create", "b"], env))
    result = run_in_process(args, env)
    assert result.code == USAGE, result.err
    assert result.err.startswith("ecs-exec: error: ")
    assert needle in result.err


def test_unknown_context_from_the_environment(env):
    result = run_in_process(["ls"], {**env, "ECS_EXEC_CONTEXT": "ghost"})
    assert result.code == USAGE
    assert "no context named 'ghost' (known: none yet)" in result.err


def test_a_broken_file_is_named_with_its_line_and_kept(env):
    path = contexts_file(env)
    path.parent.mkdir(parents=True)
    text = 'current-context = "a"\n[contexts.a]\nregion = us-east-1\n'
    path.write_text(text)
    for args in (["context", "ls"], ["context", "create", "b"], ["context", "use", "-"], ["ls"]):
        result = run_in_process(args, env)
        assert result.code == TOOL, result.err
        first, *rest = result.err.splitlines()
        assert first.startswith(f"ecs-exec: error: {path} is not valid TOML: ")
        assert "line 3" in first
        assert all(line.startswith("hint: ") for line in rest)
        assert "Traceback" not in result.err
    assert path.read_text() == text


def test_context_selects_the_target_and_ls_says_which(api, env):
    ok(
        run_in_process(
            ["context", "create", "sb", "--endpoint-url", api.url, "--cluster", "demo"], env
        )
    )
    by_flag = ok(run_in_process(["--context", "sb", "ls", "-o", "json"], env))
    assert json.loads(by_flag.out)["context"] == "sb"
    assert [s["name"] for s in json.loads(by_flag.out)["services"]] == ["web", "worker"]
    after = ok(run_in_process(["ls", "--context", "sb"], env))  # after the subcommand too
    assert "ecs-exec: note: context 'sb' (--context)" in after.err
    by_env = ok(run_in_process(["ls"], {**env, "ECS_EXEC_CONTEXT": "sb"}))
    assert "context 'sb' (ECS_EXEC_CONTEXT)" in by_env.err
    assert by_env.out.startswith("SERVICE")
    ok(run_in_process(["context", "use", "sb"], env))
    current = ok(run_in_process(["ls"], env))
    assert "context 'sb' (current context)" in current.err
    quiet = ok(run_in_process(["ls", "-q"], env))
    assert quiet.err == ""


def test_precedence_flag_environment_context_default(api, env):
    ok(
        run_in_process(
            [
                "context",
                "create",
                "sb",
                "--endpoint-url",
                "http://127.0.0.1:9",
                "--cluster",
                "demo",
                "--service",
                "web",
            ],
            env,
        )
    )
    env = {**env, "ECS_EXEC_CONTEXT": "sb"}
    # The flag beats the context's (unreachable) endpoint; the context gives cluster+service.
    tasks = ls_json(["ls", "--endpoint-url", api.url], env)
    assert (tasks["cluster"], tasks["service"]) == ("demo", "web")
    # The environment beats the context (SERVICE_NAME alone does not lock).
    services = ls_json(["ls"], {**env, "AWS_ENDPOINT_URL": api.url, "SERVICE_NAME": ""})
    assert services["service"] == "web"  # an empty variable counts as unset
    worker = ls_json(["ls"], {**env, "AWS_ENDPOINT_URL": api.url, "SERVICE_NAME": "worker"})
    assert worker["service"] == "worker"
    # The flag beats the environment and the context.
    staging = ls_json(
        ["ls", "--cluster", "staging", "--service", "web"],
        {**env, "AWS_ENDPOINT_URL": api.url, "SERVICE_NAME": "worker"},
    )
    assert staging["cluster"] == "staging"
    # No context: the defaults (every cluster of the region).
    clusters = ls_json(["ls", "--endpoint-url", api.url], clean_env(Path(env["HOME"])))
    assert "context" not in clusters
    assert [c["name"] for c in clusters["clusters"]] == DEMO_CLUSTERS


@pytest.mark.parametrize("how", ["context", "ECS_EXEC_TRANSPORT"])
def test_the_transport_from_a_context_or_the_environment_unless_a_flag(api, env, how):
    create = ["context", "create", "sb", "--endpoint-url", api.url]
    if how == "context":
        create += ["--transport", "plugin"]
    else:
        env = {**env, "ECS_EXEC_TRANSPORT": "plugin"}
    ok(run_in_process(create, env))
    env = {**env, "ECS_EXEC_PLUGIN": "/nonexistent/session-manager-plugin"}
    target = ["--context", "sb", "--cluster", "demo", "--task", demo.WEB_READY_1]
    result = run_in_process([*target, "--", "true"], env)
    assert result.code == TOOL
    assert "session-manager-plugin" in result.err  # the plugin transport was chosen
    assert api.log.counts()["ExecuteCommand"] == 0  # (its binary is checked first)
    native = run_in_process([*target, "--transport", "native", "--", "true"], env)
    assert "session-manager-plugin" not in native.err
    assert api.log.counts()["ExecuteCommand"] == 1


def test_a_bad_transport_variable_is_named(env):
    result = run_in_process(["--", "true"], {**env, "ECS_EXEC_TRANSPORT": "pigeon"})
    assert result.code == TOOL
    assert "ECS_EXEC_TRANSPORT 'pigeon' is not a transport" in result.err


def test_a_bad_region_in_a_context_is_named(api, env):
    ok(run_in_process(["context", "create", "bad", "--region", "not a region"], env))
    env = {k: v for k, v in env.items() if k != "AWS_REGION"}  # which would win
    result = run_in_process(["--context", "bad", "--endpoint-url", api.url, "ls"], env)
    assert result.code == TOOL
    assert "the region of context 'bad' ('not a region') is not a valid AWS region" in result.err
    assert api.log.records == []


def test_managing_contexts_and_help_work_whatever_context_is_selected(env):
    env = {**env, "ECS_EXEC_CONTEXT": "dev"}
    refused = run_in_process(["ls"], env)
    assert (refused.code, "no context named 'dev'" in refused.err) == (USAGE, True)
    ok(run_in_process(["context", "create", "dev", "--cluster", "demo"], env))
    assert "name: dev" in ok(run_in_process(["context", "show"], env)).out
    path = contexts_file(env)
    path.write_text("[contexts.dev\n")
    assert "Usage:" in ok(run_in_process(["--help"], env)).out
    assert ok(run_in_process(["--version"], env)).out.startswith("ecs-exec ")
