"""JSON 1.1 operations of the sandbox that ``ecs-exec doctor`` reads; no I/O.

``logs:DescribeLogGroups``, ``kms:DescribeKey`` and ``ecs:DescribeContainerInstances`` /
``ListContainerInstances``, answered from ``state.world`` (schema in
:mod:`ecs_exec.sandbox.world`). :func:`handle` answers these and hands every other target to
:func:`ecs_exec.sandbox.api.handle`, after one check that the core API lacks: a KMS key that is
disabled or pending deletion refuses ``GenerateDataKey`` and ``Decrypt`` with KMS's
``DisabledException`` / ``KMSInvalidStateException``, and ``ExecuteCommand`` on a task whose
agent cannot reach ssmmessages (``agentConnected: false`` in the state file) answers
``TargetNotConnectedException``, as ECS does for such a task. Tasks that ``RunTask`` starts
with an ``awsvpcConfiguration`` naming a subnet of the world get their ENI (and a public IP
with ``assignPublicIp`` ENABLED).

The caller's policies are enforced on the operations of this module only: a denied call
answers ``AccessDeniedException`` with IAM's sentence. Faults apply as in ``api``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from ecs_exec.sandbox import api, kmsfake
from ecs_exec.sandbox.api import FAULT_DEFAULTS
from ecs_exec.sandbox.apierror import ApiError, Body, Result
from ecs_exec.sandbox.principals import denial_message
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import KmsKey, TaskNetwork, derived_id

LOGS_PREFIX = "Logs_20140328"
_CREATED = 1714550000.0


def _authorize(state: SandboxState, action: str, resource: str) -> None:
    message = denial_message(state, action, resource)
    if message is not None:
        raise ApiError("AccessDeniedException", message)


def _page(
    items: list[Any], body: Body, limit_key: str, default: int, top: int
) -> tuple[list[Any], str | None]:
    limit = body.get(limit_key, default)
    if not isinstance(limit, int) or not 1 <= limit <= top:
        raise ApiError(
            "InvalidParameterException",
            f"1 validation error detected: Value '{limit}' at '{limit_key}' failed to satisfy"
            f" constraint: Member must have value less than or equal to {top}",
        )
    offset = 0
    if body.get("nextToken"):
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(str(body["nextToken"])))["o"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiError(
                "InvalidParameterException", "The specified nextToken is invalid."
            ) from None
    end = offset + limit
    token = None
    if end < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"o": end}).encode()).decode()
    return items[offset:end], token


# -- CloudWatch Logs --------------------------------------------------------------------------


def describe_log_groups(body: Body, state: SandboxState) -> Body:
    _authorize(state, "logs:DescribeLogGroups", state.arn("logs", "log-group:*"))
    prefix, pattern = body.get("logGroupNamePrefix"), body.get("logGroupNamePattern")
    if prefix is not None and pattern is not None:
        raise ApiError(
            "InvalidParameterException",
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        )
    groups = sorted(state.world.log_groups, key=lambda g: g.name)
    if prefix is not None:
        groups = [g for g in groups if g.name.startswith(str(prefix))]
    if pattern is not None:  # a case-insensitive substring, as Logs matches patterns
        groups = [g for g in groups if str(pattern).lower() in g.name.lower()]
    page, token = _page(groups, body, "limit", 50, 50)
    out = []
    for group in page:
        arn = state.arn("logs", f"log-group:{group.name}")
        item: Body = {
            "logGroupName": group.name,
            "creationTime": group.creation_time_ms,
            "metricFilterCount": 0,
            "arn": f"{arn}:*",
            "logGroupArn": arn,
            "storedBytes": 0,
            "logGroupClass": "STANDARD",
        }
        if group.retention_in_days is not None:
            item["retentionInDays"] = group.retention_in_days
        if group.kms_key_id is not None:
            item["kmsKeyId"] = group.kms_key_id
        out.append(item)
    result: Body = {"logGroups": out}
    if token is not None:
        result["nextToken"] = token
    return result


# -- KMS --------------------------------------------------------------------------------------


def _find_key(ref: str, state: SandboxState) -> KmsKey:
    """The world's key, or an ``Enabled`` one for a bare ``kmsKeys`` entry."""
    key = state.world.kms_key(ref)
    if key is not None:
        return key
    arn = ref if ref.startswith("arn:") else state.arn("kms", f"key/{ref}")
    if arn in state.kms_keys:
        return KmsKey(arn=arn, key_id=arn.rsplit("/", 1)[-1])
    if ref.startswith("alias/") or ":alias/" in ref:
        alias = ref if ref.startswith("arn:") else state.arn("kms", ref)
        raise ApiError("NotFoundException", f"Alias {alias} is not found.")
    raise ApiError("NotFoundException", f"Key '{arn}' does not exist")


def describe_key(body: Body, state: SandboxState) -> Body:
    ref = str(body.get("KeyId", ""))
    key = _find_key(ref, state)
    _authorize(state, "kms:DescribeKey", key.arn)
    metadata: Body = {
        "AWSAccountId": state.account_id,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": _CREATED,
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": key.state,
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    if key.state == "PendingDeletion" and key.deletion_date is not None:
        metadata["DeletionDate"] = key.deletion_date
    return {"KeyMetadata": metadata}


def _refuse_unusable_key(operation: str, body: Body, state: SandboxState) -> None:
    """KMS refuses cryptographic operations with a key that is not enabled."""
    ref: str | None = None
    if operation == "GenerateDataKey":
        ref = str(body.get("KeyId", ""))
    elif operation == "Decrypt":
        ref = body.get("KeyId")
        if ref is None:
            try:
                blob = base64.b64decode(str(body.get("CiphertextBlob", "")), validate=True)
                ref = kmsfake.key_of(blob)
            except (binascii.Error, kmsfake.InvalidCiphertextError):
                return  # the core API answers InvalidCiphertextException
    key = None if ref is None else state.world.kms_key(str(ref))
    if key is None or key.state == "Enabled":
        return
    if key.state == "Disabled":
        raise ApiError("DisabledException", f"{key.arn} is disabled.")
    raise ApiError("KMSInvalidStateException", f"{key.arn} is pending deletion.")


# -- ECS container instances ------------------------------------------------------------------


def describe_container_instances(body: Body, state: SandboxState) -> Body:
    cluster = api._cluster(body, state)  # the core's own cluster look-up
    _authorize(state, "ecs:DescribeContainerInstances", cluster.arn)
    refs = list(body.get("containerInstances") or [])
    if not refs:
        raise ApiError("InvalidParameterException", "ContainerInstances cannot be empty.")
    if len(refs) > 100:
        raise ApiError(
            "InvalidParameterException", "containerInstances can have at most 100 items."
        )
    found, failures = [], []
    for ref in refs:
        instance = state.world.container_instance(str(ref).rsplit("/", 1)[-1])
        if instance is None or instance.cluster != cluster.name:
            arn = (
                ref
                if str(ref).startswith("arn:")
                else state.arn("ecs", f"container-instance/{cluster.name}/{ref}")
            )
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        tasks = [
            t
            for t in state.tasks
            if state.world.task_container_instance.get(t.task_id) == instance.arn
        ]
        found.append(
            {
                "containerInstanceArn": instance.arn,
                "ec2InstanceId": instance.ec2_instance_id,
                "version": 1,
                "versionInfo": {
                    "agentVersion": instance.agent_version,
                    "agentHash": "sandbox",
                    "dockerVersion": instance.docker_version,
                },
                "status": instance.status,
                "agentConnected": instance.agent_connected,
                "runningTasksCount": sum(t.last_status == "RUNNING" for t in tasks),
                "pendingTasksCount": sum(t.last_status == "PENDING" for t in tasks),
                "remainingResources": [],
                "registeredResources": [],
                "attributes": [{"name": "ecs.os-type", "value": "linux"}],
                "registeredAt": _CREATED,
                "attachments": [],
                "tags": [],
            }
        )
    return {"containerInstances": found, "failures": failures}


def list_container_instances(body: Body, state: SandboxState) -> Body:
    cluster = api._cluster(body, state)  # the core's own cluster look-up
    _authorize(state, "ecs:ListContainerInstances", cluster.arn)
    status = body.get("status")
    arns = [
        c.arn
        for c in state.world.container_instances
        if c.cluster == cluster.name and status in (None, c.status)
    ]
    page, token = _page(arns, body, "maxResults", 100, 100)
    result: Body = {"containerInstanceArns": page}
    if token is not None:
        result["nextToken"] = token
    return result


_HANDLERS: dict[str, Callable[[Body, SandboxState], Body]] = {
    f"{LOGS_PREFIX}.DescribeLogGroups": describe_log_groups,
    f"{api.KMS_PREFIX}.DescribeKey": describe_key,
    f"{api.ECS_PREFIX}.DescribeContainerInstances": describe_container_instances,
    f"{api.ECS_PREFIX}.ListContainerInstances": list_container_instances,
}

#: The targets this module answers itself.
OPERATIONS = tuple(_HANDLERS)


def _refuse_unreachable_agent(body: Body, state: SandboxState) -> None:
    """ECS's answer when the task's agent never connected to ssmmessages."""
    ref = str(body.get("task", ""))
    task_id = ref.rsplit("/", 1)[-1]
    cluster = state.find_cluster(body.get("cluster"))
    task = next((t for t in state.tasks if t.task_id == task_id), None)
    if (
        task is not None
        and cluster is not None
        and task.cluster == cluster.name
        and task.task_id in state.world.unreachable_agents
    ):
        status, message = FAULT_DEFAULTS["TargetNotConnectedException"]
        raise ApiError("TargetNotConnectedException", message, status)


def _record_networks(body: Body, response: Body, state: SandboxState) -> None:
    """Give the tasks RunTask started the ENI its ``awsvpcConfiguration`` asked for."""
    config = (body.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
    subnets = [s for s in config.get("subnets") or [] if state.world.ec2.subnet(str(s))]
    if not subnets:
        return  # no network or a subnet the world does not have: the task has no ENI
    public = config.get("assignPublicIp") == "ENABLED"
    for task in response.get("tasks", []):
        task_id = str(task["taskArn"]).rsplit("/", 1)[-1]
        octet = int(derived_id("", "public-ip", task_id, length=2), 16) % 200 + 20
        state.world.task_networks[task_id] = TaskNetwork(
            eni_id=derived_id("eni-", "eni", task_id),
            subnet_id=str(subnets[0]),
            security_groups=[str(g) for g in config.get("securityGroups") or []],
            public_ip=f"203.0.113.{octet}" if public else None,
        )
        state.world.decorate_task(task, task_id)


def handle(target: str, body: Body, state: SandboxState) -> Result:
    """Answer one AWS JSON 1.1 request (same contract as :func:`ecs_exec.sandbox.api.handle`)."""
    operation = target.partition(".")[2]
    handler = _HANDLERS.get(target)
    try:
        if handler is None:
            with state.lock:
                if target.startswith(api.KMS_PREFIX + "."):
                    _refuse_unusable_key(operation, body, state)
                elif target == f"{api.ECS_PREFIX}.ExecuteCommand":
                    _refuse_unreachable_agent(body, state)
            status, response = api.handle(target, body, state)
            if status == 200 and target == f"{api.ECS_PREFIX}.RunTask":
                with state.lock:
                    _record_networks(body, response, state)
            return status, response
        fault = state.take_api_fault(operation)
        if fault is not None:
            code = str(fault.get("error", "ThrottlingException"))
            status, message = FAULT_DEFAULTS.get(code, (400, code))
            raise ApiError(
                code, str(fault.get("message", message)), int(fault.get("status", status))
            )
        with state.lock:
            return 200, handler(body, state)
    except ApiError as exc:
        return exc.response()
