"""The demo world has the shape the docs and the CLI's selection tests rely on."""

from __future__ import annotations

from ecs_exec.sandbox import demo
from ecs_exec.sandbox.state import Task


def _task(task_id: str) -> Task:
    state = demo.demo_state()
    return next(t for t in state.tasks if t.task_id == task_id)


def test_ids_are_distinct_32_hex() -> None:
    assert len(set(demo.ALL_TASK_IDS)) == len(demo.ALL_TASK_IDS)
    for task_id in demo.ALL_TASK_IDS:
        assert len(task_id) == 32
        int(task_id, 16)
    # Each id has a unique first character, so one-character prefixes work in docs.
    assert len({t[0] for t in demo.ALL_TASK_IDS}) == len(demo.ALL_TASK_IDS)


def test_web_task_definition_puts_the_sidecar_first() -> None:
    state = demo.demo_state()
    web = state.find_task_definition("web")
    assert web is not None
    assert [(c.name, c.essential) for c in web.container_definitions] == [
        ("log-router", False),
        ("app", True),
    ]


def test_readiness_of_each_web_task() -> None:
    for ready in (demo.WEB_READY_1, demo.WEB_READY_2):
        task = _task(ready)
        assert task.enable_execute_command
        assert [c.agent.last_status for c in task.containers if c.agent] == ["RUNNING"] * 2
    assert not _task(demo.WEB_EXEC_DISABLED).enable_execute_command
    pending = _task(demo.WEB_AGENT_PENDING)
    assert [c.agent.last_status for c in pending.containers if c.agent] == ["RUNNING", "PENDING"]
    stopping = _task(demo.WEB_STOPPING)
    assert (stopping.desired_status, stopping.last_status) == ("STOPPED", "RUNNING")


def test_worker_is_busybox_and_secure_has_a_key() -> None:
    worker = _task(demo.WORKER_READY)
    assert [(c.name, c.path_mode) for c in worker.containers] == [("worker", "busybox")]
    state = demo.demo_state()
    assert state.clusters["secure"].kms_key_id == demo.SECURE_KMS_KEY_ARN
    assert state.clusters["demo"].kms_key_id is None
    assert demo.SECURE_KMS_KEY_ARN in state.kms_keys


def test_demo_state_is_fresh_each_time() -> None:
    one, two = demo.demo_state(), demo.demo_state()
    one.tasks.clear()
    assert two.tasks
    data = demo.demo_state_dict()
    data["tasks"].clear()
    assert demo.DEMO_STATE["tasks"]
