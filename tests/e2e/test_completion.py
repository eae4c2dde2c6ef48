"""Shell completion through bash itself: the installed script is sourced in a fresh
``bash --norc`` and driven with COMP_WORDS/COMP_CWORD, as bash does on Tab."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecs_exec.sandbox import demo
from tests.clihelpers import DEMO_CLUSTERS, ROOT, clean_env, run_cli

needs = {
    shell: pytest.mark.skipif(shutil.which(shell) is None, reason=f"{shell} is not installed")
    for shell in ("bash", "zsh", "fish")
}
pytestmark = needs["bash"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with `ecs-exec` on PATH (this checkout) and completion installed for bash."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "ecs-exec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m ecs_exec "$@"\n')
    shim.chmod(0o755)
    return tmp_path


@pytest.fixture
def env(home: Path, fast_sandbox) -> dict[str, str]:
    return clean_env(
        home,
        PATH=f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}",
        AWS_ENDPOINT_URL=fast_sandbox.endpoint_url,
        # typer's flags take the shell as a value instead of detecting the parent shell
        _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1",
        # Each Tab is a fresh process; on a loaded machine its start-up alone can take the
        # default 3 s, after which completion (rightly) offers nothing.
        ECS_EXEC_COMPLETION_TIMEOUT="60",
    )


def install(env: dict[str, str]) -> None:
    result = run_cli(["--install-completion", "bash"], env)
    assert result.code == 0, result.err
    assert "bash completion installed" in result.out


def complete(env: dict[str, str], *words: str) -> list[str]:
    """The completions bash offers for ``words`` (the last one being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (
        'source "$HOME/.bashrc"\n'
        "complete -p ecs-exec >/dev/null || exit 3\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
        "_ecs_exec_completion ecs-exec\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        capture_output=True,
        env=env,
        timeout=60,
        cwd=ROOT,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


def test_install_then_complete_clusters_from_the_sandbox(env, home):
    install(env)
    assert "source" in (home / ".bashrc").read_text()
    assert complete(env, "ecs-exec", "--cluster", "") == DEMO_CLUSTERS
    assert complete(env, "ecs-exec", "--cluster", "st") == ["staging"]


def test_services_tasks_and_containers_use_the_flags_typed_so_far(env):
    install(env)
    assert complete(env, "ecs-exec", "--cluster", "demo", "--service", "") == ["web", "worker"]
    tasks = complete(env, "ecs-exec", "--cluster", "demo", "--service", "web", "--task", "")
    assert demo.WEB_READY_1 in tasks and demo.WORKER_READY not in tasks
    containers = complete(
        env, "ecs-exec", "--cluster", "demo", "--task", demo.WEB_READY_1, "--container", ""
    )
    assert containers == ["app", "log-router"]
    # after a subcommand, with the root's flags
    assert complete(env, "ecs-exec", "ls", "--cluster", "demo", "--service", "w") == [
        "web",
        "worker",
    ]


def test_flags_subcommands_and_context_names(env):
    install(env)
    assert "--cluster" in complete(env, "ecs-exec", "--clu")
    assert set(complete(env, "ecs-exec", "")) >= {"ls", "sandbox", "context"}
    assert complete(env, "ecs-exec", "context", "u") == ["update", "use"]
    for name in ("prod-eu", "prod-us", "dev"):
        assert run_cli(["context", "create", name], env).code == 0
    assert complete(env, "ecs-exec", "--context", "prod") == ["prod-eu", "prod-us"]
    assert complete(env, "ecs-exec", "context", "use", "d") == ["dev"]


def test_an_unreachable_endpoint_offers_nothing_and_no_error(env):
    install(env)
    env = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens on port 9
    assert complete(env, "ecs-exec", "--cluster", "") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion(env, shell):
    result = run_cli(["--show-completion", shell], env)
    assert result.code == 0, result.err
    assert "_ECS_EXEC_COMPLETE" in result.out
    assert f"complete_{shell}" in result.out


def run_shell(env: dict[str, str], argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, env=env, timeout=60, cwd=ROOT, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@needs["zsh"]
def test_zsh_install_and_complete(env, home):
    result = run_cli(["--install-completion", "zsh"], env)
    assert result.code == 0, result.err
    assert "compinit" in (home / ".zshrc").read_text()
    # compsys needs a line editor; stand-ins for compdef and _arguments print what the
    # installed function hands them, which is what zsh would offer.
    script = (
        "compdef() { :; }\n"
        '_arguments() { print -r -- "$@"; }\n'
        "_files() { print -r -- _files; }\n"
        'source "$HOME/.zfunc/_ecs-exec"\n'
        "words=(ecs-exec --cluster ''); CURRENT=3\n"
        "_ecs_exec_completion\n"
    )
    out = run_shell(env, ["zsh", "-f", "-c", script])
    assert re.findall(r'"([^"]*)"', out) == DEMO_CLUSTERS


@needs["fish"]
def test_fish_install_and_complete(env, home):
    result = run_cli(["--install-completion", "fish"], env)
    assert result.code == 0, result.err
    installed = home / ".config" / "fish" / "completions" / "ecs-exec.fish"
    script = f"source '{installed}'; complete --do-complete 'ecs-exec --cluster '"
    out = run_shell(env, ["fish", "--no-config", "-c", script])
    assert [line.split("\t")[0] for line in out.splitlines()] == DEMO_CLUSTERS
