"""S3 HeadBucket and GetBucketEncryption: whether an exec log bucket exists, where, and
whether it has default encryption."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors
from ecs_exec.errors import AccessDeniedError, AwsServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class BucketInfo:
    name: str
    region: str | None  #: from ``x-amz-bucket-region``


@dataclass(frozen=True)
class BucketEncryption:
    algorithm: str  #: ``AES256``, ``aws:kms``, ``aws:kms:dsse``
    kms_key_id: str | None


def head_bucket(client: S3Client, name: str, *, profile: str | None = None) -> BucketInfo | None:
    """The bucket, or None when S3 says it does not exist.

    Raises:
        AccessDeniedError: S3 answered 403 (``s3:ListBucket`` denied, or another account's
            bucket that does not grant it).
        AwsError: throttled, unreachable.
    """
    try:
        with map_aws_errors(action="s3:ListBucket", profile=profile):
            response = client.head_bucket(Bucket=name)
    except AwsServiceError as exc:
        # A HEAD answer has no body: botocore names the error after the HTTP status.
        if exc.code in ("404", "NoSuchBucket"):
            return None
        if exc.code in ("403", "Forbidden"):
            raise AccessDeniedError(
                f"access denied: the caller may not perform s3:ListBucket on {name}",
                action="s3:ListBucket",
                hint="grant s3:ListBucket on the bucket to this identity (or the bucket "
                "belongs to another account that does not grant it)",
            ) from exc
        raise
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    region = response.get("BucketRegion") or headers.get("x-amz-bucket-region")
    return BucketInfo(name=name, region=str(region) if region else None)


def bucket_encryption(
    client: S3Client, name: str, *, profile: str | None = None
) -> BucketEncryption | None:
    """The bucket's default encryption, or None when it has none.

    Raises:
        AwsError: denied (``s3:GetEncryptionConfiguration``), no such bucket, throttled.
    """
    try:
        with map_aws_errors(action="s3:GetEncryptionConfiguration", profile=profile):
            response = client.get_bucket_encryption(Bucket=name)
    except AwsServiceError as exc:
        if exc.code == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault")
        if default and default.get("SSEAlgorithm"):
            return BucketEncryption(
                algorithm=str(default["SSEAlgorithm"]),
                kms_key_id=default.get("KMSMasterKeyID") or None,
            )
    return None
