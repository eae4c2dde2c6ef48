"""One task check for every running session of a fan-out.

A single session polls DescribeTasks for its task (``session.runner.watch_task``), because
a stopped task's agent dies silently and ECS would keep the session open until its idle
timeout. Hundreds of sessions each polling would add up to a call rate that ECS throttles,
so the fan-out polls once per interval for all running sessions, in batches of 100.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from ecs_exec.aws.ecs import EcsApi
from ecs_exec.errors import EcsExecError

logger = logging.getLogger("ecs_exec.fanout.watch")


class TaskWatcher:
    """Tells each waiting session when its task has stopped."""

    def __init__(self, api: EcsApi, cluster: str, interval: float, executor: Executor) -> None:
        self.api = api
        self.cluster = cluster
        self.interval = interval
        self.executor = executor
        self._waiting: dict[str, list[asyncio.Future[str]]] = {}

    async def stopped(self, task_arn: str) -> str:
        """Wait until the task is stopping or gone; returns ``": <stopped reason>"`` or ""."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(task_arn, []).append(future)
        try:
            return await future
        finally:
            waiters = self._waiting.get(task_arn, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiting.pop(task_arn, None)

    async def run(self) -> None:
        """Poll until cancelled; a failed check is skipped (it must not end sessions)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            arns = list(self._waiting)
            if not arns:
                continue
            try:
                found = await loop.run_in_executor(
                    self.executor, self.api.describe_tasks, self.cluster, arns
                )
            except EcsExecError as exc:
                logger.debug("task check failed: %s", exc)
                continue
            by_arn = {task.arn: task for task in found}
            for arn in arns:
                task = by_arn.get(arn)
                if task is not None and not task.stopping:
                    continue
                reason = f": {task.stopped_reason}" if task and task.stopped_reason else ""
                for future in self._waiting.get(arn, []):
                    if not future.done():
                        future.set_result(reason)
