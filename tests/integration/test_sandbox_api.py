"""The sandbox AWS endpoint against real boto3 clients, the botocore models and AWS CLI v1.

Every successful response is checked, as raw JSON, against the output shape of the
operation in botocore's service model: an extra key, a wrong type or a value outside an enum
fails the test, so what the sandbox answers is what the real SDKs can parse.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.model import ListShape, MapShape, Shape, StructureShape

from ecs_exec.sandbox import kmsfake
from ecs_exec.sandbox.demo import (
    SECURE_API_READY,
    SECURE_KMS_KEY_ARN,
    WEB_AGENT_PENDING,
    WEB_EXEC_DISABLED,
    WEB_READY_1,
    WEB_READY_2,
    WEB_STOPPING,
    WORKER_READY,
    demo_state,
)
from ecs_exec.sandbox.http import SandboxHttpServer
from ecs_exec.sandbox.state import SandboxState

ARN = "arn:aws:ecs:us-east-1:123456789012"
_MODELS = botocore.session.get_session()
# One boto3 session for every client: it caches the loaded models, which keeps tests fast.
_BOTO = boto3.session.Session()


# -- shape validation ------------------------------------------------------------------------


def validate(value: Any, shape: Shape, path: str = "$") -> None:
    """Fail unless ``value`` (raw JSON) fits ``shape``."""
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        assert isinstance(value, dict), f"{path}: expected object, got {value!r}"
        for key, item in value.items():
            assert key in shape.members, f"{path}: {key!r} is not a member of {shape.name}"
            validate(item, shape.members[key], f"{path}.{key}")
    elif isinstance(shape, ListShape):
        assert isinstance(value, list), f"{path}: expected list, got {value!r}"
        for i, item in enumerate(value):
            validate(item, shape.member, f"{path}[{i}]")
    elif isinstance(shape, MapShape):
        assert isinstance(value, dict), f"{path}: expected map, got {value!r}"
        for key, item in value.items():
            validate(key, shape.key, f"{path}<key>")
            validate(item, shape.value, f"{path}[{key!r}]")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected string, got {value!r}"
        enum = getattr(shape, "enum", None)
        assert not enum or value in enum, f"{path}: {value!r} not in {enum}"
    elif kind in ("integer", "long"):
        assert type(value) is int, f"{path}: expected integer, got {value!r}"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected bool, got {value!r}"
    elif kind == "timestamp":
        # The JSON protocol sends epoch seconds.
        assert type(value) in (int, float), f"{path}: expected epoch seconds, got {value!r}"
    elif kind in ("double", "float"):
        assert type(value) in (int, float), f"{path}: expected number, got {value!r}"
    elif kind == "blob":
        assert isinstance(value, str), f"{path}: blobs travel as base64 strings"
        base64.b64decode(value, validate=True)
    else:  # pragma: no cover - a model type this validator does not know yet
        pytest.fail(f"{path}: unhandled shape type {kind}")


class RawCapture:
    """Keeps the raw JSON body of each response, keyed by operation name."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[Any]] = {}

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        if response_dict["status_code"] == 200:
            body = json.loads(response_dict["body"] or b"{}")
            self.bodies.setdefault(operation_model.name, []).append(body)

    def check(self, service: str, operation: str) -> Any:
        """Validate every captured body of ``operation``; return the last."""
        model = _MODELS.get_service_model(service).operation_model(operation)
        bodies = self.bodies.get(operation)
        assert bodies, f"no successful {operation} response captured"
        assert model.output_shape is not None
        for body in bodies:
            validate(body, model.output_shape)
        return bodies[-1]


def test_validator_rejects_what_botocore_does_not_model() -> None:
    shape = _MODELS.get_service_model("ecs").operation_model("ListTasks").output_shape
    assert shape is not None
    validate({"taskArns": ["a"], "nextToken": "t"}, shape)
    bad: dict[str, Any]
    for bad in ({"taskArns": "a"}, {"tasks": []}, {"taskArns": [1]}):
        with pytest.raises(AssertionError):
            validate(bad, shape)
    task = _MODELS.get_service_model("ecs").shape_for("Task")
    with pytest.raises(AssertionError):
        validate({"launchType": "LAMBDA"}, task)  # not in the enum
    with pytest.raises(AssertionError):
        validate({"version": True}, task)  # a bool is not a long


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def state() -> SandboxState:
    world = demo_state()
    world.ws_base_url = "ws://127.0.0.1:9"
    return world


@pytest.fixture
def server(state: SandboxState) -> Iterator[SandboxHttpServer]:
    srv = SandboxHttpServer(state).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def raw() -> RawCapture:
    return RawCapture()


def _client(service: str, server: SandboxHttpServer, raw: RawCapture, **config: Any) -> Any:
    # boto3-stubs types client() per literal service name; this helper takes any.
    client = cast(Any, _BOTO).client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )
    client.meta.events.register("before-parse", raw)
    return client


@pytest.fixture
def ecs(server: SandboxHttpServer, raw: RawCapture) -> Any:
    return _client("ecs", server, raw)


@pytest.fixture
def ssm(server: SandboxHttpServer, raw: RawCapture) -> Any:
    return _client("ssm", server, raw)


@pytest.fixture
def kms(server: SandboxHttpServer, raw: RawCapture) -> Any:
    return _client("kms", server, raw)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = exc.value.response["Error"]
    return error["Code"], error["Message"]


# -- ECS -------------------------------------------------------------------------------------


def test_list_and_describe_clusters(ecs: Any, raw: RawCapture) -> None:
    arns = ecs.list_clusters()["clusterArns"]
    names = ["demo", "secure", "staging", "broken", "broken-kms", "broken-logs", "broken-s3"]
    names.append("broken-s3-encryption")
    assert arns == [f"{ARN}:cluster/{name}" for name in names]
    raw.check("ecs", "ListClusters")

    out = ecs.describe_clusters(
        clusters=["demo", f"{ARN}:cluster/secure", "nope"],
        include=["CONFIGURATIONS", "SETTINGS", "STATISTICS", "TAGS"],
    )
    raw.check("ecs", "DescribeClusters")
    demo, secure = out["clusters"]
    assert "kmsKeyId" not in demo["configuration"]["executeCommandConfiguration"]
    assert secure["configuration"]["executeCommandConfiguration"]["kmsKeyId"] == SECURE_KMS_KEY_ARN
    assert out["failures"] == [{"arn": f"{ARN}:cluster/nope", "reason": "MISSING"}]
    # Without `include`, ECS leaves the configuration out.
    assert "configuration" not in ecs.describe_clusters(clusters=["secure"])["clusters"][0]


def test_list_and_describe_services(ecs: Any, raw: RawCapture) -> None:
    arns = ecs.list_services(cluster="demo")["serviceArns"]
    assert arns == [f"{ARN}:service/demo/web", f"{ARN}:service/demo/worker"]
    raw.check("ecs", "ListServices")
    out = ecs.describe_services(cluster="demo", services=["web", "ghost"])
    raw.check("ecs", "DescribeServices")
    (web,) = out["services"]
    assert web["enableExecuteCommand"] is True
    assert web["taskDefinition"] == f"{ARN}:task-definition/web:3"
    assert out["failures"][0]["reason"] == "MISSING"
    with pytest.raises(ClientError) as exc:
        ecs.describe_services(cluster="demo", services=[f"s{i}" for i in range(11)])
    assert _code(exc) == ("InvalidParameterException", "service names can have at most 10 items.")


def test_list_tasks_filters(ecs: Any, raw: RawCapture) -> None:
    def ids(**kwargs: Any) -> list[str]:
        return [a.rsplit("/", 1)[1] for a in ecs.list_tasks(**kwargs)["taskArns"]]

    # The STOPPING task has desiredStatus STOPPED, so the default RUNNING filter hides it.
    assert ids(cluster="demo", serviceName="web") == [
        WEB_READY_1,
        WEB_READY_2,
        WEB_EXEC_DISABLED,
        WEB_AGENT_PENDING,
    ]
    assert ids(cluster="demo", desiredStatus="STOPPED") == [WEB_STOPPING]
    assert ids(cluster="demo", family="worker") == [WORKER_READY]
    assert ids(cluster="secure") == [SECURE_API_READY]
    assert ids(cluster="demo", startedBy="ecs-svc/2234567890123456789") == [WORKER_READY]
    raw.check("ecs", "ListTasks")


def test_list_tasks_pagination(ecs: Any, raw: RawCapture) -> None:
    first = ecs.list_tasks(cluster="demo", maxResults=2)
    assert len(first["taskArns"]) == 2
    assert first["nextToken"]
    pages = ecs.get_paginator("list_tasks").paginate(
        cluster="demo", PaginationConfig={"PageSize": 1}
    )
    arns = [arn for page in pages for arn in page["taskArns"]]
    assert len(arns) == 5 == len(set(arns))
    raw.check("ecs", "ListTasks")
    # A token is bound to its query.
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", family="worker", nextToken=first["nextToken"])
    assert _code(exc)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", maxResults=101)
    assert _code(exc)[0] == "InvalidParameterException"


def test_list_tasks_errors(ecs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="nope")
    assert _code(exc) == ("ClusterNotFoundException", "Cluster not found.")
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", serviceName="ghost")
    assert _code(exc) == ("ServiceNotFoundException", "Service not found.")
    with pytest.raises(ClientError) as exc:
        ecs.list_tasks(cluster="demo", serviceName="web", startedBy="me")
    assert _code(exc) == (
        "InvalidParameterException",
        "cannot specify startedBy with other arguments",
    )


def test_describe_tasks(ecs: Any, raw: RawCapture) -> None:
    out = ecs.describe_tasks(
        cluster="demo",
        tasks=[WEB_READY_1, f"{ARN}:task/demo/{WEB_AGENT_PENDING}", "f" * 32, WEB_STOPPING],
    )
    body = raw.check("ecs", "DescribeTasks")
    ready, pending, stopping = out["tasks"]
    assert [c["name"] for c in ready["containers"]] == ["log-router", "app"]
    assert all(
        c["managedAgents"][0] == {**c["managedAgents"][0], "name": "ExecuteCommandAgent"}
        for c in ready["containers"]
    )
    assert pending["containers"][1]["managedAgents"][0]["lastStatus"] == "PENDING"
    assert (stopping["desiredStatus"], stopping["lastStatus"]) == ("STOPPED", "RUNNING")
    assert out["failures"] == [{"arn": f"{ARN}:task/demo/{'f' * 32}", "reason": "MISSING"}]
    assert ready["containers"][1]["runtimeId"].startswith(WEB_READY_1 + "-")
    assert isinstance(body["tasks"][0]["startedAt"], float)
    # Sandbox-only fields never leak into the API.
    assert "sandbox" not in json.dumps(body)
    disabled = ecs.describe_tasks(cluster="demo", tasks=[WEB_EXEC_DISABLED])["tasks"][0]
    assert disabled["enableExecuteCommand"] is False
    assert all("managedAgents" not in c for c in disabled["containers"])


def test_describe_tasks_limits(ecs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ecs.describe_tasks(cluster="demo", tasks=["a" * 32] * 101)
    assert _code(exc) == ("InvalidParameterException", "taskIds can have at most 100 items.")
    with pytest.raises(ClientError) as exc:
        ecs.describe_tasks(cluster="demo", tasks=[])
    assert _code(exc) == ("InvalidParameterException", "Tasks cannot be empty.")


def test_describe_task_definition(ecs: Any, raw: RawCapture) -> None:
    td = ecs.describe_task_definition(taskDefinition="web:3")["taskDefinition"]
    raw.check("ecs", "DescribeTaskDefinition")
    assert [(c["name"], c["essential"]) for c in td["containerDefinitions"]] == [
        ("log-router", False),
        ("app", True),
    ]
    assert ecs.describe_task_definition(taskDefinition="worker")["taskDefinition"]["revision"] == 1
    with pytest.raises(ClientError) as exc:
        ecs.describe_task_definition(taskDefinition="ghost:1")
    assert _code(exc) == ("ClientException", "Unable to describe task definition.")


def test_execute_command(ecs: Any, raw: RawCapture, state: SandboxState) -> None:
    out = ecs.execute_command(
        cluster="demo", task=WEB_READY_1, container="app", command="/bin/sh", interactive=True
    )
    raw.check("ecs", "ExecuteCommand")
    session = out["session"]
    assert out["containerName"] == "app"
    assert out["taskArn"] == f"{ARN}:task/demo/{WEB_READY_1}"
    assert session["streamUrl"] == (
        f"ws://127.0.0.1:9/v1/data-channel/{session['sessionId']}"
        "?role=publish_subscribe&cell-number=sandbox"
    )
    registered = state.sessions.session_by_token(session["tokenValue"])
    assert registered is not None
    assert registered.command == "/bin/sh"
    assert registered.kms_key_id is None
    assert registered.environment["APP_ENV"] == "demo"
    assert registered.working_directory == "/srv/app"
    assert registered.target_id.startswith(f"ecs:demo_{WEB_READY_1}_{WEB_READY_1}-")

    worker = ecs.execute_command(cluster="demo", task=WORKER_READY, command="ls", interactive=True)
    found = state.sessions.session_by_id(worker["session"]["sessionId"])
    assert found is not None
    assert found.path_mode == "busybox"

    secure = ecs.execute_command(
        cluster="secure", task=SECURE_API_READY, command="id", interactive=True
    )
    found = state.sessions.session_by_id(secure["session"]["sessionId"])
    assert found is not None
    assert found.kms_key_id == SECURE_KMS_KEY_ARN


@pytest.mark.parametrize(
    ("kwargs", "code", "message_start"),
    [
        ({"task": WEB_READY_1, "interactive": False}, "InvalidParameterException", "Interactive"),
        ({"task": WEB_EXEC_DISABLED}, "InvalidParameterException", "The execute command failed"),
        ({"task": WEB_AGENT_PENDING}, "InvalidParameterException", "The execute command failed"),
        ({"task": "abc"}, "InvalidParameterException", "task length should be one of [32,36]"),
        ({"task": "e" * 32}, "InvalidParameterException", "The referenced task was not found."),
        ({"task": WEB_READY_1, "container": "nope"}, "InvalidParameterException", "The container"),
        ({"task": WEB_READY_1, "cluster": "nope"}, "ClusterNotFoundException", "Cluster not found"),
    ],
)
def test_execute_command_errors(
    ecs: Any, kwargs: dict[str, Any], code: str, message_start: str
) -> None:
    params = {"cluster": "demo", "container": "app", "command": "sh", "interactive": True}
    params.update(kwargs)
    with pytest.raises(ClientError) as exc:
        ecs.execute_command(**params)
    got_code, message = _code(exc)
    assert got_code == code
    assert message.startswith(message_start)


# -- SSM and KMS -----------------------------------------------------------------------------


def test_resume_and_terminate_session(ecs: Any, ssm: Any, raw: RawCapture) -> None:
    session = ecs.execute_command(
        cluster="demo", task=WEB_READY_2, container="app", command="sh", interactive=True
    )["session"]
    resumed = ssm.resume_session(SessionId=session["sessionId"])
    raw.check("ssm", "ResumeSession")
    assert resumed["TokenValue"] != session["tokenValue"]
    assert resumed["StreamUrl"] == session["streamUrl"]

    assert ssm.terminate_session(SessionId=session["sessionId"])["SessionId"]
    raw.check("ssm", "TerminateSession")
    ended = ssm.resume_session(SessionId=session["sessionId"])
    raw.check("ssm", "ResumeSession")
    assert "TokenValue" not in ended
    assert ended["SessionId"] == session["sessionId"]

    with pytest.raises(ClientError) as exc:
        ssm.resume_session(SessionId="ecs-execute-command-00000000000000000")
    assert _code(exc)[0] == "DoesNotExistException"


def test_generate_data_key(kms: Any, raw: RawCapture) -> None:
    context = {"aws:ssm:SessionId": "s-1", "aws:ssm:TargetId": "ecs:secure_x_y"}
    out = kms.generate_data_key(
        KeyId=SECURE_KMS_KEY_ARN, NumberOfBytes=64, EncryptionContext=context
    )
    raw.check("kms", "GenerateDataKey")
    assert len(out["Plaintext"]) == 64
    assert out["KeyId"] == SECURE_KMS_KEY_ARN
    # The agent side opens the blob with the context it expects.
    assert kmsfake.decrypt(out["CiphertextBlob"], context).plaintext == out["Plaintext"]
    with pytest.raises(kmsfake.InvalidCiphertextError):
        kmsfake.decrypt(out["CiphertextBlob"], {**context, "aws:ssm:SessionId": "other"})
    decrypted = kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context)
    raw.check("kms", "Decrypt")
    assert decrypted["Plaintext"] == out["Plaintext"]

    assert (
        len(
            kms.generate_data_key(KeyId=SECURE_KMS_KEY_ARN.rsplit("/")[-1], KeySpec="AES_256")[
                "Plaintext"
            ]
        )
        == 32
    )
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId="0000", NumberOfBytes=64)
    assert _code(exc)[0] == "NotFoundException"
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=SECURE_KMS_KEY_ARN)
    assert _code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=b"garbage")
    assert _code(exc)[0] == "InvalidCiphertextException"


# -- faults, authentication and the request log ----------------------------------------------


def test_access_denied_fault(ecs: Any, state: SandboxState) -> None:
    state.faults["api"] = {"ExecuteCommand": {"error": "AccessDeniedException", "times": -1}}
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            ecs.execute_command(
                cluster="demo", task=WEB_READY_1, container="app", command="sh", interactive=True
            )
        assert _code(exc) == (
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/sandbox is not authorized to perform:"
            f" ecs:ExecuteCommand on resource: {ARN}:task/demo/{WEB_READY_1} because no"
            " identity-based policy allows the ecs:ExecuteCommand action",
        )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ("ThrottlingException", "Rate exceeded"),
        ("UnrecognizedClientException", "The security token included in the request is invalid."),
        ("ExpiredTokenException", "The security token included in the request is expired"),
        ("TargetNotConnectedException", "The execute command failed due to an internal error."),
    ],
)
def test_counted_faults(ecs: Any, state: SandboxState, error: str, message: str) -> None:
    state.faults["api"] = {"ListTasks": {"error": error, "times": 2}}
    for _ in range(2):
        with pytest.raises(ClientError) as exc:
            ecs.list_tasks(cluster="demo")
        code, got = _code(exc)
        assert code == error
        assert got.startswith(message)
    assert ecs.list_tasks(cluster="demo")["taskArns"]


def test_server_fault_is_500_and_retried(
    server: SandboxHttpServer, state: SandboxState, raw: RawCapture
) -> None:
    state.faults["api"] = {"*": {"error": "ServerException", "times": 1}}
    client = _BOTO.client(
        "ecs",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "total_max_attempts": 2}),
    )
    # Standard retry mode backs off well under a second before the first retry.
    assert client.list_clusters()["clusterArns"]
    assert [r.status for r in server.log.records] == [500, 200]


def test_request_log_counts(ecs: Any, server: SandboxHttpServer) -> None:
    ecs.list_tasks(cluster="demo")
    ecs.describe_tasks(cluster="demo", tasks=[WEB_READY_1])
    ecs.describe_tasks(cluster="demo", tasks=[WEB_READY_2])
    assert server.log.counts() == {"ListTasks": 1, "DescribeTasks": 2}
    assert server.log.bodies("DescribeTasks")[1] == {"cluster": "demo", "tasks": [WEB_READY_2]}
    assert server.log.requests()[0][0] == "AmazonEC2ContainerServiceV20141113.ListTasks"
    server.log.clear()
    assert server.log.counts() == {}


def _post(server: SandboxHttpServer, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_missing_authorization_and_unknown_target(server: SandboxHttpServer) -> None:
    target = {"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters"}
    status, body = _post(server, target, b"{}")
    assert status == 400
    assert body["__type"] == "MissingAuthenticationTokenException"
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=x/y, Signature=z"}
    status, body = _post(server, {**signed, "X-Amz-Target": "AmazonSSM.StartSession"}, b"{}")
    assert status == 400
    assert body["__type"] == "UnknownOperationException"
    status, body = _post(server, {**signed, **target}, b"[1")
    assert status == 400
    assert body["__type"] == "SerializationException"
    status, body = _post(server, {**signed, **target}, b"")
    assert status == 200
    assert len(body["clusterArns"]) == 8


def test_server_binds_loopback_and_stops(state: SandboxState, raw: RawCapture) -> None:
    srv = SandboxHttpServer(state).start()
    port = srv.port
    assert srv.url == f"http://127.0.0.1:{port}"
    client = _client("ecs", srv, raw, connect_timeout=1, read_timeout=2)
    assert client.list_clusters()["clusterArns"]  # leaves a keep-alive connection open
    srv.stop()
    # The kept-alive connection is closed too: a stopped sandbox answers nobody.
    with pytest.raises(EndpointConnectionError):
        client.list_clusters()
    with pytest.raises(RuntimeError):
        _ = srv.url


# -- AWS CLI v1 ------------------------------------------------------------------------------


def _aws(server: SandboxHttpServer, tmp_path: Path, *args: str) -> Any:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
    }
    aws = Path(sys.executable).with_name("aws")
    result = subprocess.run(
        [sys.executable, str(aws), *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_aws_cli_parses_list_and_describe_tasks(server: SandboxHttpServer, tmp_path: Path) -> None:
    listed = _aws(
        server,
        tmp_path,
        "ecs",
        "list-tasks",
        "--cluster",
        "demo",
        "--service-name",
        "web",
        "--page-size",
        "1",
    )
    assert len(listed["taskArns"]) == 4  # the CLI followed the nextToken chain
    described = _aws(
        server,
        tmp_path,
        "ecs",
        "describe-tasks",
        "--cluster",
        "demo",
        "--tasks",
        WEB_READY_1,
        WEB_STOPPING,
    )
    assert [t["taskArn"].rsplit("/", 1)[1] for t in described["tasks"]] == [
        WEB_READY_1,
        WEB_STOPPING,
    ]
    # CLI v1 prints timestamps as it parsed them (epoch seconds by default).
    assert described["tasks"][0]["startedAt"] == 1714564800.0
    assert server.log.counts()["ListTasks"] == 4
