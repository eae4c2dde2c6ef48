"""Target resolution against botocore's Stubber (parameters validated by the service model)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from ecs_exec.aws.ecs import EcsApi
from ecs_exec.aws.resolve import Resolver, TargetSpec
from ecs_exec.errors import (
    AmbiguousTargetError,
    ExecNotReadyError,
    TargetNotFoundError,
    UsageError,
)

ARN = "arn:aws:ecs:us-east-1:123456789012"
TD3 = f"{ARN}:task-definition/web:3"
TD2 = f"{ARN}:task-definition/web:2"


def task(
    tid: str,
    *,
    td: str = TD3,
    started: int = 0,
    agent: str = "RUNNING",
    exec_on=True,
    desired="RUNNING",
    containers=("log-router", "app"),
) -> dict:
    return {
        "taskArn": f"{ARN}:task/demo/{tid}",
        "clusterArn": f"{ARN}:cluster/demo",
        "taskDefinitionArn": td,
        "lastStatus": "RUNNING",
        "desiredStatus": desired,
        "enableExecuteCommand": exec_on,
        "startedAt": datetime(2024, 5, 1, 12, started, tzinfo=UTC),
        "containers": [
            {
                "name": name,
                "containerArn": f"{ARN}:container/demo/{tid}/{name}",
                "runtimeId": f"{tid}-{i}",
                "lastStatus": "RUNNING",
                "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": agent}],
            }
            for i, name in enumerate(containers)
        ],
    }


DEFS = {
    "taskDefinition": {
        "containerDefinitions": [
            {"name": "log-router", "essential": False},
            {"name": "app", "essential": True},
        ]
    }
}


def test_full_task_id_needs_no_list_tasks_and_skips_the_log_router(ecs):
    client, stub = ecs
    tid = "a" * 32
    stub.add_response("describe_tasks", {"tasks": [task(tid)]}, {"cluster": "demo", "tasks": [tid]})
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD3})
    target = Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task=tid))
    assert target.container.name == "app"
    assert target.ssm_target == f"ecs:demo_{tid}_{tid}-1"


def test_task_definitions_are_cached_on_disk(ecs):
    client, stub = ecs
    tid = "b" * 32
    stub.add_response("describe_tasks", {"tasks": [task(tid)]}, {"cluster": "demo", "tasks": [tid]})
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD3})
    stub.add_response("describe_tasks", {"tasks": [task(tid)]}, {"cluster": "demo", "tasks": [tid]})
    Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task=tid))
    # A new process (new EcsApi) reads the cache: no second DescribeTaskDefinition.
    assert (
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task=tid)).container.name
        == "app"
    )


def test_describe_tasks_in_batches_of_100_and_deterministic_choice(ecs):
    client, stub = ecs
    ids = [f"{i:032x}" for i in range(250)]
    arns = [f"{ARN}:task/demo/{i}" for i in ids]
    stub.add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": "demo", "serviceName": "web", "desiredStatus": "RUNNING"},
    )
    tasks = [task(t, td=TD2, started=1) for t in ids]
    tasks[7] = task(ids[7], td=TD3, started=5)  # newest revision wins...
    tasks[9] = task(ids[9], td=TD3, started=3)  # ...then the earliest started
    tasks[11] = task(ids[11], td=TD3, started=3, desired="STOPPED")  # never a stopping task
    for start in range(0, 250, 100):
        stub.add_response(
            "describe_tasks",
            {"tasks": tasks[start : start + 100]},
            {"cluster": "demo", "tasks": arns[start : start + 100]},
        )
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD3})
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD2})
    target = Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", service="web"))
    assert target.task.id == ids[9]


def test_picker_gets_ready_tasks_in_order(ecs):
    client, stub = ecs
    ids = ["c" * 32, "d" * 32]
    arns = [f"{ARN}:task/demo/{i}" for i in ids]
    stub.add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": "demo", "serviceName": "web", "desiredStatus": "RUNNING"},
    )
    stub.add_response(
        "describe_tasks",
        {"tasks": [task(ids[0], containers=("app",)), task(ids[1], containers=("app",))]},
        {"cluster": "demo", "tasks": arns},
    )
    seen = []

    def picker(candidates):
        seen.extend(t.id for t in candidates)
        return candidates[-1]

    target = Resolver(EcsApi(client), picker=picker).resolve(
        TargetSpec(cluster="demo", service="web")
    )
    assert seen == ids and target.task.id == ids[1]


def test_not_ready_reasons_name_each_task(ecs):
    client, stub = ecs
    ids = ["e" * 32, "f" * 32]
    arns = [f"{ARN}:task/demo/{i}" for i in ids]
    stub.add_response(
        "list_tasks",
        {"taskArns": arns},
        {"cluster": "demo", "serviceName": "web", "desiredStatus": "RUNNING"},
    )
    stub.add_response(
        "describe_tasks",
        {
            "tasks": [
                task(ids[0], exec_on=False, containers=("app",)),
                task(ids[1], agent="STOPPED", containers=("app",)),
            ]
        },
        {"cluster": "demo", "tasks": arns},
    )
    with pytest.raises(ExecNotReadyError) as info:
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", service="web"))
    reasons = "\n".join(info.value.reasons)
    assert f"task {ids[0]}: exec was not enabled" in reasons
    assert f"task {ids[1]}: the ExecuteCommandAgent of container 'app' is STOPPED" in reasons


def test_cluster_choice(ecs):
    client, stub = ecs
    stub.add_response(
        "list_clusters", {"clusterArns": [f"{ARN}:cluster/a", f"{ARN}:cluster/b"]}, {}
    )
    stub.add_response(
        "describe_clusters",
        {"clusters": [{"clusterName": "a"}, {"clusterName": "b"}]},
        {"clusters": [f"{ARN}:cluster/a", f"{ARN}:cluster/b"], "include": ["CONFIGURATIONS"]},
    )
    with pytest.raises(AmbiguousTargetError) as info:
        Resolver(EcsApi(client)).resolve(TargetSpec(service="web"))
    assert info.value.candidates == ("a", "b")


def test_ambiguous_and_unknown_prefix(ecs):
    client, stub = ecs
    arns = [f"{ARN}:task/demo/ab{'0' * 30}", f"{ARN}:task/demo/ab{'1' * 30}"]
    for _ in range(2):
        stub.add_response(
            "list_tasks", {"taskArns": arns}, {"cluster": "demo", "desiredStatus": "RUNNING"}
        )
    with pytest.raises(AmbiguousTargetError):
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task="ab"))
    with pytest.raises(TargetNotFoundError):
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task="zz"))


def test_a_task_of_another_service_is_refused_before_exec(ecs):
    client, stub = ecs
    tid = "c" * 32
    worker = {**task(tid), "group": "service:worker"}
    stub.add_response("describe_tasks", {"tasks": [worker]}, {"cluster": "demo", "tasks": [tid]})
    with pytest.raises(UsageError, match="belongs to service 'worker', not to service 'web'"):
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", service="web", task=tid))
    standalone = {**task(tid), "group": "family:web"}
    stub.add_response(
        "describe_tasks", {"tasks": [standalone]}, {"cluster": "demo", "tasks": [tid]}
    )
    with pytest.raises(UsageError, match="belongs to no service"):
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", service="web", task=tid))


def test_the_cache_is_keyed_by_endpoint(ecs, tmp_path):
    client, stub = ecs
    other = boto3.client(
        "ecs",
        region_name="us-east-1",
        endpoint_url="https://elsewhere.example",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    poisoned = {
        "taskDefinition": {
            "containerDefinitions": [
                {"name": "app", "essential": False},
                {"name": "log-router", "essential": True},
            ]
        }
    }
    with Stubber(other) as other_stub:
        other_stub.add_response("describe_task_definition", poisoned, {"taskDefinition": TD3})
        assert EcsApi(other).container_definitions(TD3)[1].name == "log-router"
    # The real endpoint does not read what the other endpoint's answer left on disk.
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD3})
    assert [d.essential for d in EcsApi(client).container_definitions(TD3)] == [False, True]


def test_a_cached_definition_that_disagrees_with_the_live_task_is_described_again(ecs):
    client, stub = ecs
    stub.add_response("describe_task_definition", DEFS, {"taskDefinition": TD3})
    EcsApi(client).container_definitions(TD3)
    # Same key, live containers differ from the cached list: the cache is not trusted.
    new_defs = {
        "taskDefinition": {
            "containerDefinitions": [
                {"name": "app", "essential": True},
                {"name": "sidecar", "essential": False},
            ]
        }
    }
    stub.add_response("describe_task_definition", new_defs, {"taskDefinition": TD3})
    found = EcsApi(client).container_definitions(TD3, live=["app", "sidecar"])
    assert [d.name for d in found] == ["app", "sidecar"]
    # Agreeing live names: the cache answers (no pending stub response is needed).
    assert [d.name for d in EcsApi(client).container_definitions(TD3, live=["sidecar", "app"])] == [
        "app",
        "sidecar",
    ]


def test_hint_fits_the_problem():
    from ecs_exec.aws.resolve import HINTS, NotReady, hint_for

    assert hint_for([NotReady.STOPPING]) == HINTS[NotReady.STOPPING]
    assert hint_for([NotReady.NO_CONTAINER]) == HINTS[NotReady.NO_CONTAINER]
    assert hint_for([NotReady.STOPPING, NotReady.EXEC_DISABLED]) == HINTS[NotReady.EXEC_DISABLED]
    assert "enable-execute-command" not in (hint_for([NotReady.STOPPING]) or "")
    assert "enable-execute-command" not in (hint_for([NotReady.AGENT_NOT_RUNNING]) or "")
    assert hint_for([]) is None


def test_stopping_task_gets_the_stopping_hint(ecs):
    client, stub = ecs
    tid = "a" * 32
    stub.add_response(
        "describe_tasks",
        {"tasks": [task(tid, desired="STOPPED", containers=("app",))]},
        {"cluster": "demo", "tasks": [tid]},
    )
    with pytest.raises(ExecNotReadyError) as info:
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", task=tid))
    assert "stopping" in (info.value.hint or "")
    assert "enable-execute-command" not in (info.value.hint or "")


def test_not_found_errors_name_the_cluster_and_list_what_exists(ecs):
    from ecs_exec.errors import ClusterNotFoundError, ServiceNotFoundError

    client, stub = ecs
    stub.add_client_error(
        "list_tasks", "ClusterNotFoundException", "Cluster not found.", expected_params=None
    )
    stub.add_response(
        "list_clusters", {"clusterArns": [f"{ARN}:cluster/demo", f"{ARN}:cluster/staging"]}
    )
    with pytest.raises(ClusterNotFoundError) as info:
        EcsApi(client).list_task_arns("nope", "web")
    assert str(info.value) == "cluster 'nope' not found in us-east-1"
    assert info.value.hint == "clusters in us-east-1: demo, staging"
    stub.add_client_error(
        "list_tasks", "ServiceNotFoundException", "Service not found.", expected_params=None
    )
    stub.add_response("list_services", {"serviceArns": [f"{ARN}:service/demo/web"]})
    with pytest.raises(ServiceNotFoundError) as info2:
        EcsApi(client).list_task_arns("demo", "api")
    assert str(info2.value) == "service 'api' not found in cluster 'demo'"
    assert info2.value.hint == "services in cluster 'demo': web"


def test_execute_command_refusal_hint_covers_a_racing_stop(ecs):
    client, stub = ecs
    message = (
        "The execute command failed because execute command was not enabled when the task "
        "was run or the execute command agent isn't running. Wait and try again or run a new "
        "task with execute command enabled and try again."
    )
    stub.add_client_error(
        "execute_command", "InvalidParameterException", message, expected_params=None
    )
    with pytest.raises(ExecNotReadyError) as info:
        EcsApi(client).execute_command(
            cluster="demo", task_arn=f"{ARN}:task/demo/{'a' * 32}", container="app", command="sh"
        )
    assert "retry in a few seconds" in (info.value.hint or "")
    assert "enable-execute-command" in (info.value.hint or "")


def test_a_task_of_another_cluster_is_refused(ecs):
    client, stub = ecs
    tid = "d" * 32
    elsewhere = {**task(tid), "clusterArn": f"{ARN}:cluster/staging", "group": "service:web"}
    stub.add_response("describe_tasks", {"tasks": [elsewhere]}, {"cluster": "demo", "tasks": [tid]})
    with pytest.raises(UsageError, match="belongs to cluster 'staging', not to cluster 'demo'"):
        Resolver(EcsApi(client)).resolve(TargetSpec(cluster="demo", service="web", task=tid))
