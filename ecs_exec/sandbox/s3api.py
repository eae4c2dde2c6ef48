"""S3 of the sandbox endpoint, in its REST-XML protocol: the bucket look-ups doctor makes; no I/O.

S3 requests carry no ``X-Amz-Target`` and no form body: the operation is the HTTP method, the
path and the sub-resource of the query string. A client pointed at the sandbox (an IP
endpoint) uses path-style URLs, ``/<bucket>``; the SigV4 credential scope of its
``Authorization`` header names ``s3``. Served, from ``state.world.buckets`` (schema in
:mod:`ecs_exec.sandbox.world`):

* ``HEAD /<bucket>`` (HeadBucket, authorized as ``s3:ListBucket``): 200 with the bucket's
  region in ``x-amz-bucket-region``; 404 for a missing bucket, 403 when the caller may not. A
  HEAD answer has no body, so botocore reports the code as ``404``/``403``.
* ``GET /<bucket>?encryption`` (GetBucketEncryption, ``s3:GetEncryptionConfiguration``):
  a ``ServerSideEncryptionConfiguration`` document; 404
  ``ServerSideEncryptionConfigurationNotFoundError`` for a bucket without default
  encryption, 404 ``NoSuchBucket``, 403 ``AccessDenied``.

Errors are ``<Error><Code>..</Code><Message>..</Message><BucketName>..</BucketName>
<RequestId>..</RequestId><HostId>..</HostId></Error>`` documents with no namespace. A missing
bucket answers 404 before the caller's policies are consulted, as S3 does for a bucket no
account owns. One endpoint serves every region: a bucket of another region answers here too
(AWS would redirect the client to its region; the agent and botocore follow that redirect).
Faults from ``state.faults["api"]`` apply by operation name, as for the other services. The
formats are described in docs/sandbox-world.md#2-wire-formats.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.sax.saxutils import escape

from ecs_exec.sandbox.api import FAULT_DEFAULTS
from ecs_exec.sandbox.principals import denial_message
from ecs_exec.sandbox.state import SandboxState
from ecs_exec.sandbox.world import Bucket

XML_CONTENT_TYPE = "application/xml"
_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/s3/aws4_request")
_STATUS = {
    "AccessDenied": 403,
    "NoSuchBucket": 404,
    "ServerSideEncryptionConfigurationNotFoundError": 404,
    "MethodNotAllowed": 405,
    "NotImplemented": 501,
    "InternalError": 500,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
}


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
        self.status = status if status is not None else _STATUS.get(code, 400)


@dataclass(frozen=True)
class S3Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    action: str  #: ``HeadBucket``, ``GetBucketEncryption``, or ``""`` when not understood
    bucket: str


def is_s3(authorization: str) -> bool:
    """Whether a request's SigV4 scope names S3."""
    return _SCOPE.search(authorization) is not None


def _operation(method: str, key: str, query: dict[str, str]) -> str:
    if method == "HEAD" and not key:
        return "HeadBucket"
    if method == "GET" and not key and "encryption" in query:
        return "GetBucketEncryption"
    return ""


def _bucket(state: SandboxState, name: str) -> Bucket:
    bucket = state.world.buckets.get(name)
    if bucket is None:
        raise S3Error("NoSuchBucket", "The specified bucket does not exist")
    return bucket


def _authorize(state: SandboxState, action: str, bucket: str) -> None:
    message = denial_message(state, action, f"arn:aws:s3:::{bucket}")
    if message is not None:
        raise S3Error("AccessDenied", message)


def _encryption_document(bucket: Bucket) -> bytes:
    default = f"<SSEAlgorithm>{escape(str(bucket.encryption))}</SSEAlgorithm>"
    if bucket.kms_key_id:
        default += f"<KMSMasterKeyID>{escape(bucket.kms_key_id)}</KMSMasterKeyID>"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ServerSideEncryptionConfiguration xmlns="{_NAMESPACE}"><Rule>'
        f"<ApplyServerSideEncryptionByDefault>{default}</ApplyServerSideEncryptionByDefault>"
        "<BucketKeyEnabled>false</BucketKeyEnabled></Rule>"
        "</ServerSideEncryptionConfiguration>"
    ).encode()


def _answer(action: str, name: str, state: SandboxState) -> tuple[dict[str, str], bytes]:
    bucket = _bucket(state, name)
    if action == "HeadBucket":
        _authorize(state, "s3:ListBucket", name)
        return {"x-amz-bucket-region": bucket.region, "x-amz-access-point-alias": "false"}, b""
    _authorize(state, "s3:GetEncryptionConfiguration", name)
    if bucket.encryption is None:
        raise S3Error(
            "ServerSideEncryptionConfigurationNotFoundError",
            "The server side encryption configuration was not found",
        )
    return {"Content-Type": XML_CONTENT_TYPE}, _encryption_document(bucket)


def _fault(fault: dict[str, Any]) -> S3Error:
    code = str(fault.get("error", "SlowDown"))
    status, message = FAULT_DEFAULTS.get(code, (_STATUS.get(code, 400), code))
    status = _STATUS.get(code, status)
    return S3Error(code, str(fault.get("message", message)), int(fault.get("status", status)))


def _error_body(error: S3Error, bucket: str, request_id: str, host_id: str) -> bytes:
    named = f"<BucketName>{escape(bucket)}</BucketName>" if bucket else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"{named}<RequestId>{request_id}</RequestId><HostId>{host_id}</HostId></Error>"
    ).encode()


def handle(method: str, target: str, authorization: str, state: SandboxState) -> S3Reply:
    """Answer one S3 request.

    Args:
        method: ``HEAD``, ``GET``...
        target: the request target, path and query (``/bucket?encryption``).
        authorization: the ``Authorization`` header, or "".
        state: the world.
    """
    parts = urlsplit(target)
    name, _, key = unquote(parts.path).lstrip("/").partition("/")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    action = _operation(method, key, query)
    request_id = uuid.uuid4().hex[:16].upper()
    host_id = base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id}
    try:
        if not authorization:
            raise S3Error("AccessDenied", "Access Denied")
        if not name or not action:
            if method not in ("GET", "HEAD"):
                raise S3Error(
                    "MethodNotAllowed", "The specified method is not allowed against this resource."
                )
            raise S3Error(
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
            )
        fault = state.take_api_fault(action)
        if fault is not None:
            raise _fault(fault)
        with state.lock:
            extra, body = _answer(action, name, state)
        return S3Reply(200, {**headers, **extra}, body, action, name)
    except S3Error as exc:
        body = b"" if method == "HEAD" else _error_body(exc, name, request_id, host_id)
        if body:
            headers["Content-Type"] = XML_CONTENT_TYPE
        return S3Reply(exc.status, headers, body, action, name)
