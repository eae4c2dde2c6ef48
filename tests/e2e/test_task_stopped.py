"""A task stopped mid-session: the agent goes silent (as on AWS) and ecs-exec notices."""

from __future__ import annotations

import subprocess

import boto3

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.server import running_sandbox
from tests.clihelpers import ECS_EXEC, ROOT, clean_env


def test_session_ends_when_its_task_stops(tmp_path):
    with running_sandbox(fast=True) as sandbox:
        env = clean_env(tmp_path, AWS_ENDPOINT_URL=sandbox.endpoint_url, ECS_EXEC_TASK_POLL="0.5")
        args = ["--cluster", "demo", "--task", demo.WEB_READY_1, "--container", "app"]
        with subprocess.Popen(
            [*ECS_EXEC, *args, "--", "sh", "-c", "echo started; exec sleep 60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            assert proc.stdout.readline() == b"started\n"
            ecs = boto3.client(
                "ecs",
                endpoint_url=sandbox.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="x",
            )
            ecs.stop_task(cluster="demo", task=demo.WEB_READY_1, reason="scaled in")
            assert proc.wait(timeout=20) == 255
            err = proc.stderr.read().decode()
        assert err.startswith(
            f"ecs-exec: error: task {demo.WEB_READY_1} stopped during the session"
        )
        assert "Traceback" not in err
