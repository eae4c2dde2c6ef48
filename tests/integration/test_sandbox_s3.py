"""The sandbox's S3 (REST-XML) against a real botocore S3 client with path-style addressing:
HeadBucket and GetBucketEncryption answers parse, their errors come back as ``ClientError``
with S3's codes, and the answer documents fit botocore's S3 model."""

from __future__ import annotations

import copy
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import ListShape, Shape, StructureShape

from ecs_exec.sandbox import demo, demo_broken as broken
from ecs_exec.sandbox.http import SandboxHttpServer
from ecs_exec.sandbox.state import SandboxState

_SESSION = botocore.session.get_session()
_MODEL = _SESSION.get_service_model("s3")
SECURE, PLAIN, MISSING = (
    broken.SECURE_LOG_BUCKET,
    broken.PLAIN_LOG_BUCKET,
    broken.MISSING_LOG_BUCKET,
)
KMS_KEY = demo.SECURE_KMS_KEY_ARN
S3_SCOPE = "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/s3/aws4_request, Signature=x"


def _world(*, caller_may: list[str] | None = None) -> SandboxState:
    """The demo world plus a KMS-encrypted bucket in another region; with ``caller_may``
    the caller holds only those actions."""
    data = copy.deepcopy(demo.demo_state_dict())
    data["s3"]["buckets"].append(
        {"name": "eu-logs", "region": "eu-west-1", "encryption": "aws:kms", "kmsKeyId": KMS_KEY}
    )
    if caller_may is not None:
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": caller_may, "Resource": "*"}],
        }
        data["iam"]["policies"].append({"policyName": "Only", "document": document})
        user = next(u for u in data["iam"]["users"] if u["userName"] == "sandbox")
        user["attachedPolicies"] = ["arn:aws:iam::123456789012:policy/Only"]
    return SandboxState.from_dict(data)


class Bodies:
    """The raw body of each answer botocore parses."""

    def __init__(self) -> None:
        self.last: bytes = b""

    def __call__(self, response_dict: dict[str, Any], **_: Any) -> None:
        self.last = response_dict["body"]


def _s3(url: str, bodies: Bodies | None = None) -> Any:
    client = _SESSION.create_client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )
    if bodies is not None:
        client.meta.events.register("before-parse.s3", bodies)
    return client


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxHttpServer]:
    with SandboxHttpServer(_world()) as srv:
        yield srv


@pytest.fixture(scope="module")
def s3(server: SandboxHttpServer) -> Any:
    return _s3(server.url)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def validate(element: ET.Element, shape: Shape, path: str = "$") -> None:
    """Fail unless ``element``'s children are members of ``shape`` as REST-XML writes them
    (flattened lists repeat the member's element)."""
    if isinstance(shape, StructureShape):
        names = {m.serialization.get("name", k): m for k, m in shape.members.items()}
        for child in element:
            tag = _local(child.tag)
            assert tag in names, f"{path}: <{tag}> is not a member of {shape.name}"
            member = names[tag]
            item = member.member if isinstance(member, ListShape) else member
            validate(child, item, f"{path}.{tag}")
    else:
        assert len(element) == 0, f"{path}: a {shape.type_name} has no child elements"
        if shape.type_name == "boolean":
            assert element.text in ("true", "false"), path


def test_the_validator_rejects_what_the_model_lacks() -> None:
    shape = _MODEL.operation_model("GetBucketEncryption").output_shape
    payload = shape.members["ServerSideEncryptionConfiguration"]
    for bad in (
        "<X><Rules><Rule/></Rules></X>",  # a flattened list has no wrapper element
        "<X><Rule><BucketKeyEnabled>yes</BucketKeyEnabled></Rule></X>",
        "<X><Rule><SSEAlgorithm>AES256</SSEAlgorithm></Rule></X>",
    ):
        with pytest.raises(AssertionError):
            validate(ET.fromstring(bad), payload)


def test_head_bucket_names_the_region(server: SandboxHttpServer, s3: Any) -> None:
    server.log.clear()
    answer = s3.head_bucket(Bucket=SECURE)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["BucketRegion"] == "us-east-1"
    assert answer["AccessPointAlias"] is False
    assert s3.head_bucket(Bucket="eu-logs")["BucketRegion"] == "eu-west-1"
    record = server.log.records[0]
    assert (record.target, record.body, record.status) == ("s3.HeadBucket", {"Bucket": SECURE}, 200)


def test_head_bucket_errors_are_bare_statuses(s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=MISSING)
    assert _code(exc) == ("404", "Not Found", 404)
    with SandboxHttpServer(_world(caller_may=["s3:GetEncryptionConfiguration"])) as srv:
        with pytest.raises(ClientError) as exc:
            _s3(srv.url).head_bucket(Bucket=SECURE)
        assert _code(exc) == ("403", "Forbidden", 403)
        # A bucket no account owns is 404 whatever the caller's policies say.
        with pytest.raises(ClientError) as exc:
            _s3(srv.url).head_bucket(Bucket=MISSING)
        assert _code(exc)[0] == "404"


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        (SECURE, {"SSEAlgorithm": "AES256"}),
        ("eu-logs", {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KMS_KEY}),
    ],
)
def test_get_bucket_encryption(server: SandboxHttpServer, bucket: str, expected: Any) -> None:
    bodies = Bodies()
    answer = _s3(server.url, bodies).get_bucket_encryption(Bucket=bucket)
    rules = answer["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"] for r in rules] == [expected]
    assert rules[0]["BucketKeyEnabled"] is False
    root = ET.fromstring(bodies.last)
    assert root.tag == "{http://s3.amazonaws.com/doc/2006-03-01/}ServerSideEncryptionConfiguration"
    shape = _MODEL.operation_model("GetBucketEncryption").output_shape
    validate(root, shape.members["ServerSideEncryptionConfiguration"])


def test_get_bucket_encryption_errors(server: SandboxHttpServer, s3: Any) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=PLAIN)
    assert _code(exc) == (
        "ServerSideEncryptionConfigurationNotFoundError",
        "The server side encryption configuration was not found",
        404,
    )
    assert exc.value.response["Error"]["BucketName"] == PLAIN
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket=MISSING)
    assert _code(exc) == ("NoSuchBucket", "The specified bucket does not exist", 404)
    with (
        SandboxHttpServer(_world(caller_may=["s3:ListBucket"])) as srv,
        pytest.raises(ClientError) as exc,
    ):
        _s3(srv.url).get_bucket_encryption(Bucket=SECURE)
    code, message, status = _code(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message == (
        "User: arn:aws:iam::123456789012:user/sandbox is not authorized to perform: "
        f"s3:GetEncryptionConfiguration on resource: arn:aws:s3:::{SECURE} because no "
        "identity-based policy allows the s3:GetEncryptionConfiguration action"
    )


def test_faults_apply_to_s3_operations() -> None:
    state = _world()
    state.faults["api"] = {"GetBucketEncryption": {"error": "SlowDown", "times": 1}}
    with SandboxHttpServer(state) as srv:
        s3 = _s3(srv.url)
        with pytest.raises(ClientError) as exc:
            s3.get_bucket_encryption(Bucket=SECURE)
        assert _code(exc)[0] == "SlowDown" and _code(exc)[2] == 503
        assert s3.get_bucket_encryption(Bucket=SECURE)["ServerSideEncryptionConfiguration"]


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_raw_s3_requests(server: SandboxHttpServer) -> None:
    signed = {"Authorization": S3_SCOPE}
    # No Authorization: S3 answers an anonymous caller AccessDenied.
    assert _request(f"{server.url}/{SECURE}", "HEAD", {}) == (403, b"")
    # A sub-resource the sandbox does not serve.
    status, body = _request(f"{server.url}/{SECURE}?versioning", "GET", signed)
    root = ET.fromstring(body)
    assert (status, root.tag, root.findtext("Code")) == (501, "Error", "NotImplemented")
    assert root.findtext("BucketName") == SECURE and root.findtext("RequestId")
    # A GET that is not S3's keeps the JSON endpoint's answer.
    status, body = _request(f"{server.url}/", "GET", {})
    assert status == 404 and b"UnknownOperationException" in body
