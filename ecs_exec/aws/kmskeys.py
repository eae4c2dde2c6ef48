"""kms:DescribeKey: whether the key of a cluster's exec configuration exists and is enabled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors
from ecs_exec.errors import AwsServiceError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


@dataclass(frozen=True)
class KeyInfo:
    arn: str
    state: str  # Enabled | Disabled | PendingDeletion | PendingImport | Unavailable ...
    enabled: bool


def describe_key(client: KMSClient, key_id: str, *, profile: str | None = None) -> KeyInfo | None:
    """The key, or None when KMS says NotFoundException.

    Raises:
        AwsError: denied, throttled, unreachable.
    """
    try:
        with map_aws_errors(action="kms:DescribeKey", profile=profile):
            response = client.describe_key(KeyId=key_id)
    except AwsServiceError as exc:
        if exc.code == "NotFoundException":
            return None
        raise
    meta = response.get("KeyMetadata", {})
    return KeyInfo(
        arn=str(meta.get("Arn", key_id)),
        state=str(meta.get("KeyState", "")),
        enabled=bool(meta.get("Enabled", False)),
    )
