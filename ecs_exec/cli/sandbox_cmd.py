"""`ecs-exec sandbox`: serve the emulator in the foreground until Ctrl-C."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from ecs_exec.cli.settings import Invocation, Settings
from ecs_exec.errors import ExitStatus


def run_sandbox(
    invocation: Invocation,
    settings: Settings,
    *,
    state_file: Path | None,
    port: int,
    fast: bool,
    frame_log: Path | None,
) -> int:
    """Serve until SIGTERM or Ctrl-C; ``settings`` matter for --debug only (handled by run)."""
    from ecs_exec.sandbox.server import running_sandbox

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_sandbox(state_file=state_file, port=port, fast=fast, frame_log=frame_log) as sb:
        url = sb.endpoint_url
        invocation.console.write_out(
            f"ecs-exec sandbox: ECS, SSM and KMS APIs at {url}"
            f" (data channel {sb.websocket_url}); no real AWS account is used.\n"
            f"Point ecs-exec at it:\n"
            f"  ecs-exec --endpoint-url {url} --region us-east-1 ls\n"
            f"or any AWS client, with dummy credentials:\n"
            f"  export AWS_ENDPOINT_URL={url} AWS_REGION=us-east-1 "
            f"AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox\n"
            f"  ecs-exec --cluster demo --service-name web --interactive\n"
            f"Ctrl-C stops it.\n"
        )
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return ExitStatus.SUCCESS
