"""Request handlers of the sandbox's AWS JSON 1.1 APIs (ECS, SSM, KMS); no I/O.

``handle(target, body, state)`` takes the ``X-Amz-Target`` header and the decoded JSON body and
returns ``(http_status, json_body)``. Errors are ``{"__type": code, "message": text}``, which
botocore's JSON parser turns into ``ClientError`` with that code (it reads ``message`` or
``Message``). Messages copy real AWS wording where it is known; the few that are sandbox
wording say so in a comment.

Fault injection (``state.faults["api"]``) is applied before the handler, keyed by operation
name or ``*``::

    {"ExecuteCommand": {"error": "AccessDeniedException", "times": -1},
     "ListTasks": {"error": "ThrottlingException", "times": 10},
     "*": {"error": "ExpiredTokenException", "times": 1, "message": "...", "status": 400}}

``times`` -1 (or absent) fires forever; ``message`` and ``status`` default per code
(``FAULT_DEFAULTS``).

SSM ``ResumeSession`` decision: an unknown session id raises ``DoesNotExistException``; a
terminated session answers ``{"SessionId": id}`` with no token or URL, which is how the real
service answers for a timed-out session (the official plugin then prints "Session: <id> timed
out." and exits).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any

from ecs_exec.sandbox import kmsfake, tasks as lifecycle
from ecs_exec.sandbox.apierror import ApiError, Body, Result, invalid
from ecs_exec.sandbox.state import (
    Cluster,
    Container,
    SandboxState,
    Service,
    Task,
    TaskDefinition,
    env_to_api,
)

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
SSM_PREFIX = "AmazonSSM"
KMS_PREFIX = "TrentService"
_IAM_PREFIX = {ECS_PREFIX: "ecs", SSM_PREFIX: "ssm", KMS_PREFIX: "kms"}

EXEC_NOT_READY = (
    "The execute command failed because execute command was not enabled when the task was run"
    # The curly apostrophe is in the real message; tools match on it.
    " or the execute command agent isn’t running. Wait and try again or run a new task with"  # noqa: RUF001
    " execute command enabled and try again."
)

#: code -> (HTTP status, default message) for injected faults.
FAULT_DEFAULTS: dict[str, tuple[int, str]] = {
    "ThrottlingException": (400, "Rate exceeded"),
    "UnrecognizedClientException": (400, "The security token included in the request is invalid."),
    "ExpiredTokenException": (400, "The security token included in the request is expired"),
    "TargetNotConnectedException": (
        400,
        "The execute command failed due to an internal error. Try again later.",
    ),
    "ServerException": (500, "Service Unavailable. Please try again later."),
    "InternalServerError": (500, "An internal error occurred."),
    "KMSInternalException": (500, "An internal error occurred."),
    "ServiceUnavailableException": (503, "Service Unavailable"),
}


def _invalid(message: str) -> ApiError:
    return invalid(message)


def handle(target: str, body: Body, state: SandboxState) -> Result:
    """Answer one AWS JSON 1.1 request.

    Args:
        target: the ``X-Amz-Target`` header, e.g. ``AmazonSSM.ResumeSession``.
        body: the decoded JSON request body.
        state: the sandbox world (changed by RunTask, StopTask, sessions and fault counters).

    Returns:
        ``(http_status, response_body)``.
    """
    prefix, _, operation = target.partition(".")
    handler = _HANDLERS.get(prefix, {}).get(operation)
    if handler is None:
        return ApiError("UnknownOperationException", f"Unknown operation {target}").response()
    try:
        fault = state.take_api_fault(operation)
        if fault is not None:
            raise _fault_error(fault, _IAM_PREFIX[prefix], operation, body, state)
        with state.lock:
            lifecycle.advance(state)  # starting tasks move on with time (sandbox.tasks)
            return 200, handler(body, state)
    except ApiError as exc:
        return exc.response()


def _fault_error(
    fault: dict[str, Any], iam_prefix: str, operation: str, body: Body, state: SandboxState
) -> ApiError:
    code = str(fault.get("error", "ThrottlingException"))
    status, message = FAULT_DEFAULTS.get(code, (400, code))
    if code == "AccessDeniedException":
        action = f"{iam_prefix}:{operation}"
        message = (
            f"User: {state.caller_arn} is not authorized to perform: {action} on resource:"
            f" {_resource_arn(iam_prefix, body, state)} because no identity-based policy"
            f" allows the {action} action"
        )
    return ApiError(code, str(fault.get("message", message)), int(fault.get("status", status)))


def _resource_arn(iam_prefix: str, body: Body, state: SandboxState) -> str:
    if iam_prefix == "kms":
        return _key_arn(str(body.get("KeyId", "")), state)
    if iam_prefix == "ssm":
        return state.arn("ssm", f"session/{body.get('SessionId', '*')}")
    cluster = str(body.get("cluster") or "default").rsplit("/", 1)[-1]
    task = body.get("task")
    if isinstance(task, str):
        return task if task.startswith("arn:") else state.arn("ecs", f"task/{cluster}/{task}")
    return state.arn("ecs", f"cluster/{cluster}") if "cluster" in body else "*"


# -- pagination ------------------------------------------------------------------------------


def _page(items: list[str], body: Body, filters: object, default_max: int) -> Body:
    """One page of ``items``; the token is opaque and bound to the same filters."""
    fingerprint = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
    max_results = body.get("maxResults", default_max)
    if not isinstance(max_results, int) or not 1 <= max_results <= 100:
        # Sandbox wording; ECS rejects out-of-range maxResults with this exception.
        raise _invalid("maxResults must be between 1 and 100.")
    offset = 0
    if body.get("nextToken"):
        try:
            token = json.loads(base64.urlsafe_b64decode(str(body["nextToken"])))
            offset = int(token["o"])
            if token["f"] != fingerprint:
                raise ValueError("token was issued for other filters")
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid("Invalid nextToken.") from None  # sandbox wording
    page: Body = {}
    end = offset + max_results
    if end < len(items):
        raw = json.dumps({"o": end, "f": fingerprint}).encode()
        page["nextToken"] = base64.urlsafe_b64encode(raw).decode()
    page["items"] = items[offset:end]
    return page


# -- ECS look-ups ----------------------------------------------------------------------------


def _cluster(body: Body, state: SandboxState) -> Cluster:
    cluster = state.find_cluster(body.get("cluster"))
    if cluster is None:
        raise ApiError("ClusterNotFoundException", "Cluster not found.")
    return cluster


def _service(cluster: Cluster, ref: str, state: SandboxState) -> Service | None:
    name = ref.rsplit("/", 1)[-1]
    return next((s for s in state.services if s.cluster == cluster.name and s.name == name), None)


def _task(cluster: Cluster, ref: str, state: SandboxState) -> Task | None:
    if ref.startswith("arn:"):
        return next((t for t in state.tasks if t.task_arn == ref), None)
    return next((t for t in state.tasks if t.cluster == cluster.name and t.task_id == ref), None)


def _task_ref_arn(cluster: Cluster, ref: str, state: SandboxState) -> str:
    return ref if ref.startswith("arn:") else state.arn("ecs", f"task/{cluster.name}/{ref}")


# -- ECS rendering ---------------------------------------------------------------------------


def _render_cluster(cluster: Cluster, include: list[str], state: SandboxState) -> Body:
    tasks = [t for t in state.tasks if t.cluster == cluster.name]
    out: Body = {
        "clusterArn": cluster.arn,
        "clusterName": cluster.name,
        "status": cluster.status,
        "registeredContainerInstancesCount": state.world.registered_instances(cluster.name),
        "runningTasksCount": sum(t.last_status == "RUNNING" for t in tasks),
        "pendingTasksCount": sum(t.last_status == "PENDING" for t in tasks),
        "activeServicesCount": sum(s.cluster == cluster.name for s in state.services),
        "capacityProviders": ["FARGATE", "FARGATE_SPOT"],
        "defaultCapacityProviderStrategy": [],
    }
    # As in ECS, these parts come back only when asked for with `include`.
    if "CONFIGURATIONS" in include:
        config: Body = {"logging": "DEFAULT"}
        if cluster.kms_key_id:
            config["kmsKeyId"] = cluster.kms_key_id
        config.update(state.world.cluster_fields(cluster.name, include))
        out["configuration"] = {"executeCommandConfiguration": config}
    if "SETTINGS" in include:
        out["settings"] = [{"name": "containerInsights", "value": "disabled"}]
    if "STATISTICS" in include:
        out["statistics"] = []
    if "TAGS" in include:
        out["tags"] = []
    return out


def _render_service(service: Service, state: SandboxState) -> Body:
    running = [
        t
        for t in state.tasks
        if t.group == f"service:{service.name}" and t.cluster == service.cluster
    ]
    return {
        "serviceArn": service.arn,
        "serviceName": service.name,
        "clusterArn": state.clusters[service.cluster].arn,
        "status": service.status,
        "desiredCount": service.desired_count,
        "runningCount": sum(t.last_status == "RUNNING" for t in running),
        "pendingCount": sum(t.last_status == "PENDING" for t in running),
        "launchType": service.launch_type,
        "platformVersion": "LATEST",
        "platformFamily": "Linux",
        "taskDefinition": service.task_definition,
        "schedulingStrategy": "REPLICA",
        "enableExecuteCommand": service.enable_execute_command,
        "enableECSManagedTags": False,
        "propagateTags": "NONE",
        "createdAt": service.created_at,
        "createdBy": state.caller_arn,
        "deployments": [
            {
                "id": "ecs-svc/" + hashlib.sha256(service.arn.encode()).hexdigest()[:19],
                "status": "PRIMARY",
                "taskDefinition": service.task_definition,
                "desiredCount": service.desired_count,
                "launchType": service.launch_type,
                "platformVersion": "LATEST",
                "rolloutState": "COMPLETED",
            }
        ],
        **(
            {"networkConfiguration": service.network_configuration}
            if service.network_configuration
            else {}
        ),
        **state.world.service_fields.get(f"{service.cluster}/{service.name}", {}),
    }


def _render_container(task: Task, container: Container, index: int) -> Body:
    out: Body = {
        "containerArn": container.container_arn,
        "taskArn": task.task_arn,
        "name": container.name,
        "image": container.image,
        "runtimeId": container.runtime_id,
        "lastStatus": container.last_status,
        "networkBindings": [],
        "networkInterfaces": [
            {
                "attachmentId": "00000000-0000-4000-8000-" + task.task_id[:12],
                "privateIpv4Address": f"10.0.{int(task.task_id[:2], 16)}.{10 + index}",
            }
        ],
        "healthStatus": "UNKNOWN",
        "cpu": "0",
    }
    if container.reason is not None:
        out["reason"] = container.reason
    if container.exit_code is not None:
        out["exitCode"] = container.exit_code
    if container.managed_agents:
        agents = []
        for agent in container.managed_agents:
            item: Body = {"name": agent.name, "lastStatus": agent.last_status}
            if agent.last_started_at is not None:
                item["lastStartedAt"] = agent.last_started_at
            if agent.reason is not None:
                item["reason"] = agent.reason
            agents.append(item)
        out["managedAgents"] = agents
    return out


def _render_task(task: Task, state: SandboxState) -> Body:
    td = state.task_definitions[task.task_definition_arn]
    out: Body = {
        "taskArn": task.task_arn,
        "clusterArn": state.clusters[task.cluster].arn,
        "taskDefinitionArn": task.task_definition_arn,
        "group": task.group,
        "lastStatus": task.last_status,
        "desiredStatus": task.desired_status,
        "enableExecuteCommand": task.enable_execute_command,
        "launchType": task.launch_type,
        "availabilityZone": f"{state.region}a",
        "connectivity": "CONNECTED",
        "cpu": td.cpu,
        "memory": td.memory,
        "healthStatus": "UNKNOWN",
        "platformFamily": "Linux",
        "version": 4,
        "attachments": [],
        "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
        "tags": task.tags,
        "ephemeralStorage": {"sizeInGiB": 20},
        "overrides": {
            "containerOverrides": [{"name": c.name} for c in task.containers],
            "inferenceAcceleratorOverrides": [],
        },
        "containers": [_render_container(task, c, i) for i, c in enumerate(task.containers)],
    }
    optional = {
        "startedBy": task.started_by,
        "platformVersion": task.platform_version,
        "createdAt": task.created_at,
        "connectivityAt": task.created_at,
        "pullStartedAt": task.created_at,
        "pullStoppedAt": task.started_at,
        "startedAt": task.started_at,
        "stoppedAt": task.stopped_at,
        "stoppedReason": task.stopped_reason,
        "stopCode": task.stop_code,
        "stoppingAt": task.stopped_at if task.desired_status == "STOPPED" else None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    state.world.decorate_task(out, task.task_id)
    return out


def _render_task_definition(td: TaskDefinition, state: SandboxState) -> Body:
    containers = []
    for d in td.container_definitions:
        item: Body = {
            "name": d.name,
            "image": d.image,
            "cpu": 0,
            "essential": d.essential,
            "environment": env_to_api(d.environment),
            "portMappings": [],
            "mountPoints": [],
            "volumesFrom": [],
            "systemControls": [],
        }
        for key, value in (
            ("workingDirectory", d.working_directory),
            ("command", d.command),
            ("entryPoint", d.entry_point),
        ):
            if value is not None:
                item[key] = value
        item.update(state.world.container_fields.get(f"{td.family}:{td.revision}/{d.name}", {}))
        containers.append(item)
    return {
        "taskDefinitionArn": td.arn,
        "family": td.family,
        "revision": td.revision,
        "containerDefinitions": containers,
        "status": td.status,
        "networkMode": td.network_mode,
        "cpu": td.cpu,
        "memory": td.memory,
        "requiresCompatibilities": td.requires_compatibilities,
        "compatibilities": ["EC2", "FARGATE"],
        "volumes": [],
        "placementConstraints": [],
        "registeredAt": 1714550000.0,
        "registeredBy": state.caller_arn,
        **state.world.task_definition_fields.get(f"{td.family}:{td.revision}", {}),
    }


# -- ECS operations --------------------------------------------------------------------------


def list_clusters(body: Body, state: SandboxState) -> Body:
    page = _page([c.arn for c in state.clusters.values()], body, "clusters", 100)
    return {"clusterArns": page.pop("items"), **page}


def describe_clusters(body: Body, state: SandboxState) -> Body:
    include = list(body.get("include") or [])
    clusters, failures = [], []
    for ref in body.get("clusters") or ["default"]:
        cluster = state.find_cluster(ref)
        if cluster is None:
            arn = ref if ref.startswith("arn:") else state.arn("ecs", f"cluster/{ref}")
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            clusters.append(_render_cluster(cluster, include, state))
    return {"clusters": clusters, "failures": failures}


def list_services(body: Body, state: SandboxState) -> Body:
    cluster = _cluster(body, state)
    services = [
        s.arn
        for s in state.services
        if s.cluster == cluster.name and body.get("launchType") in (None, s.launch_type)
    ]
    filters = [cluster.name, body.get("launchType")]
    page = _page(services, body, filters, 10)
    return {"serviceArns": page.pop("items"), **page}


def describe_services(body: Body, state: SandboxState) -> Body:
    cluster = _cluster(body, state)
    refs = list(body.get("services") or [])
    if not refs:
        raise _invalid("Services cannot be empty.")
    if len(refs) > 10:
        raise _invalid("service names can have at most 10 items.")
    services, failures = [], []
    for ref in refs:
        service = _service(cluster, ref, state)
        if service is None:
            name = ref.rsplit("/", 1)[-1]
            failures.append(
                {"arn": state.arn("ecs", f"service/{cluster.name}/{name}"), "reason": "MISSING"}
            )
        else:
            services.append(_render_service(service, state))
    return {"services": services, "failures": failures}


def list_tasks(body: Body, state: SandboxState) -> Body:
    cluster = _cluster(body, state)
    started_by = body.get("startedBy")
    others = ("family", "serviceName", "containerInstance", "launchType")
    if started_by is not None and any(body.get(k) is not None for k in others):
        raise _invalid("cannot specify startedBy with other arguments")
    service_name = body.get("serviceName")
    if service_name is not None and _service(cluster, service_name, state) is None:
        raise ApiError("ServiceNotFoundException", "Service not found.")
    desired = body.get("desiredStatus") or "RUNNING"
    family = body.get("family")
    arns = []
    for task in state.tasks:
        td = state.task_definitions[task.task_definition_arn]
        if (
            task.cluster != cluster.name
            or task.desired_status != desired
            or (family is not None and td.family != family)
            or (
                service_name is not None and task.group != f"service:{service_name.rsplit('/')[-1]}"
            )
            or (started_by is not None and task.started_by != started_by)
            or body.get("launchType") not in (None, task.launch_type)
        ):
            continue
        arns.append(task.task_arn)
    filters = [cluster.name, desired, family, service_name, started_by, body.get("launchType")]
    page = _page(arns, body, filters, 100)
    return {"taskArns": page.pop("items"), **page}


def describe_tasks(body: Body, state: SandboxState) -> Body:
    cluster = _cluster(body, state)
    refs = list(body.get("tasks") or [])
    if not refs:
        raise _invalid("Tasks cannot be empty.")
    if len(refs) > 100:
        raise _invalid("taskIds can have at most 100 items.")
    tasks, failures = [], []
    for ref in refs:
        task = _task(cluster, ref, state)
        if task is None or task.cluster != cluster.name:
            failures.append({"arn": _task_ref_arn(cluster, ref, state), "reason": "MISSING"})
        else:
            rendered = _render_task(task, state)
            if "TAGS" not in (body.get("include") or []):
                rendered["tags"] = []  # as ECS: tags only when asked for
            tasks.append(rendered)
    return {"tasks": tasks, "failures": failures}


def describe_task_definition(body: Body, state: SandboxState) -> Body:
    td = state.find_task_definition(str(body.get("taskDefinition", "")))
    if td is None:
        raise ApiError("ClientException", "Unable to describe task definition.")
    tags = td.tags if "TAGS" in (body.get("include") or []) else []
    return {"taskDefinition": _render_task_definition(td, state), "tags": tags}


def execute_command(body: Body, state: SandboxState) -> Body:
    cluster = _cluster(body, state)
    if body.get("interactive") is not True:
        raise _invalid("Interactive is the only mode supported currently.")
    ref = str(body.get("task", ""))
    task_id = ref.rsplit("/", 1)[-1]
    if len(task_id) not in (32, 36):
        raise _invalid("task length should be one of [32,36]")
    task = _task(cluster, ref, state)
    if task is None or task.cluster != cluster.name:
        raise _invalid("The referenced task was not found.")
    name = body.get("container")
    if name is None:
        if len(task.containers) != 1:
            # Sandbox wording: ECS refuses to guess the container of a multi-container task.
            raise _invalid(
                "The container name must be specified when the task has more than one container."
            )
        container: Container | None = task.containers[0]
    else:
        container = task.container(str(name))
    if container is None:
        raise _invalid(f"The container {name} does not exist in the task.")  # sandbox wording
    agent = container.agent
    if (
        not task.enable_execute_command
        or task.last_status != "RUNNING"
        or agent is None
        or agent.last_status != "RUNNING"
    ):
        raise _invalid(EXEC_NOT_READY)
    session = state.sessions.create_exec_session(
        cluster=cluster.name,
        task_arn=task.task_arn,
        container=container,
        command=str(body.get("command", "")),
        kms_key_id=cluster.kms_key_id,
        faults=state.fault_settings("session"),
    )
    return {
        "clusterArn": cluster.arn,
        "containerArn": container.container_arn,
        "containerName": container.name,
        "interactive": True,
        "session": {
            "sessionId": session.session_id,
            "streamUrl": session.stream_url,
            "tokenValue": session.token,
        },
        "taskArn": task.task_arn,
    }


# -- SSM -------------------------------------------------------------------------------------


def resume_session(body: Body, state: SandboxState) -> Body:
    session_id = str(body.get("SessionId", ""))
    try:
        token = state.sessions.resume_session(session_id)
    except KeyError:
        raise ApiError("DoesNotExistException", f"Session {session_id} does not exist.") from None
    session = state.sessions.session_by_id(session_id)
    if token is None or session is None:
        return {"SessionId": session_id}
    return {"SessionId": session_id, "TokenValue": token, "StreamUrl": session.stream_url}


def terminate_session(body: Body, state: SandboxState) -> Body:
    session_id = str(body.get("SessionId", ""))
    # Idempotent, like SSM: terminating an ended or unknown session still succeeds.
    state.sessions.terminate_session(session_id)
    return {"SessionId": session_id}


# -- KMS -------------------------------------------------------------------------------------


def _key_arn(key_id: str, state: SandboxState) -> str:
    if key_id.startswith("arn:"):
        return key_id
    return state.arn("kms", key_id if key_id.startswith("alias/") else f"key/{key_id}")


def _known_key(key_id: str, state: SandboxState) -> str:
    arn = _key_arn(key_id, state)
    if arn not in state.kms_keys:
        raise ApiError("NotFoundException", f"Key '{arn}' does not exist")
    return arn


def _context(body: Body) -> dict[str, str]:
    return {str(k): str(v) for k, v in (body.get("EncryptionContext") or {}).items()}


def _validation(value: object, member: str, constraint: str) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy"
        f" constraint: Member must {constraint}",
    )


def generate_data_key(body: Body, state: SandboxState) -> Body:
    key_arn = _known_key(str(body.get("KeyId", "")), state)
    size, spec = body.get("NumberOfBytes"), body.get("KeySpec")
    if (size is None) == (spec is None):
        raise ApiError("ValidationException", "Please specify either number of bytes or key spec.")
    if spec is not None:
        if spec not in ("AES_256", "AES_128"):
            raise _validation(spec, "keySpec", "satisfy enum value set: [AES_256, AES_128]")
        size = 32 if spec == "AES_256" else 16
    if not isinstance(size, int) or not 1 <= size <= 1024:
        raise _validation(size, "numberOfBytes", "have value less than or equal to 1024")
    key = kmsfake.generate_data_key(key_arn, size, _context(body))
    return {
        "CiphertextBlob": base64.b64encode(key.ciphertext_blob).decode(),
        "Plaintext": base64.b64encode(key.plaintext).decode(),
        "KeyId": key.key_id,
    }


def decrypt(body: Body, state: SandboxState) -> Body:
    try:
        blob = base64.b64decode(str(body.get("CiphertextBlob", "")), validate=True)
        wanted = body.get("KeyId")
        key = kmsfake.decrypt(
            blob, _context(body), key_arn=None if wanted is None else _key_arn(str(wanted), state)
        )
    except (binascii.Error, kmsfake.InvalidCiphertextError):
        raise ApiError("InvalidCiphertextException", "") from None
    return {
        "KeyId": key.key_id,
        "Plaintext": base64.b64encode(key.plaintext).decode(),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }


_HANDLERS: dict[str, dict[str, Callable[[Body, SandboxState], Body]]] = {
    ECS_PREFIX: {
        "ListClusters": list_clusters,
        "DescribeClusters": describe_clusters,
        "ListServices": list_services,
        "DescribeServices": describe_services,
        "ListTasks": list_tasks,
        "DescribeTasks": describe_tasks,
        "DescribeTaskDefinition": describe_task_definition,
        "ExecuteCommand": execute_command,
        "RunTask": lambda body, state: lifecycle.run_task(body, state, _render_task),
        "StopTask": lambda body, state: lifecycle.stop_task(body, state, _render_task),
        "RegisterTaskDefinition": lambda body, state: lifecycle.register_task_definition(
            body, state, _render_task_definition
        ),
        "DeregisterTaskDefinition": lambda body, state: lifecycle.deregister_task_definition(
            body, state, _render_task_definition
        ),
        "ListTaskDefinitions": lambda body, state: lifecycle.list_task_definitions(
            body, state, _page
        ),
    },
    SSM_PREFIX: {"ResumeSession": resume_session, "TerminateSession": terminate_session},
    KMS_PREFIX: {"GenerateDataKey": generate_data_key, "Decrypt": decrypt},
}

#: Every operation the sandbox answers, as ``Prefix.Operation`` targets.
OPERATIONS = tuple(f"{p}.{op}" for p, ops in _HANDLERS.items() for op in ops)
