"""`ecs-exec sandbox --context NAME` writes a context that points at the running sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

from tests.clihelpers import DEMO_CLUSTERS, ECS_EXEC, ROOT, clean_env, run_cli


def test_sandbox_context_points_at_the_running_sandbox(tmp_path: Path):
    env = clean_env(tmp_path)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        del env[name]  # the context's loopback endpoint gets the sandbox's dummy keys
    proc = subprocess.Popen(
        [*ECS_EXEC, "sandbox", "--fast", "--context", "sb"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    timer = threading.Timer(60, proc.kill)  # bounded: a stuck sandbox cannot hang the suite
    timer.start()
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Context 'sb' points at it"):
                break
        assert lines and lines[-1].startswith("Context 'sb' points at it"), lines
        shown = json.loads(run_cli(["context", "show", "sb", "-o", "json"], env).out)
        assert shown["endpoint_url"].startswith("http://127.0.0.1:")
        assert shown["endpoint_url"] in lines[0]
        result = run_cli(["--context", "sb", "ls", "-o", "json"], env)
        assert result.code == 0, result.err
        document = json.loads(result.out)
        assert document["context"] == "sb"
        assert [c["name"] for c in document["clusters"]] == DEMO_CLUSTERS
        one_off = run_cli(
            ["--context", "sb", "--cluster", "demo", "--service", "web", "-q", "--", "echo", "hi"],
            env,
        )
        assert (one_off.code, one_off.stdout) == (0, b"hi\n"), one_off.err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        timer.cancel()
    assert proc.returncode == 0
