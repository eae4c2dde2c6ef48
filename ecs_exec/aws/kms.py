"""KMS GenerateDataKey for the Session Manager encryption handshake (the only KMS I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_exec.aws._errors import map_aws_errors

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

#: The plugin asks for 64 bytes: two AES-256 keys, one per direction (kmsservice.go).
DATA_KEY_BYTES = 64


@dataclass(frozen=True)
class DataKey:
    """A generated data key: the plaintext stays local, the blob goes to the agent."""

    plaintext: bytes
    ciphertext_blob: bytes


def generate_data_key(
    client: KMSClient,
    key_id: str,
    encryption_context: Mapping[str, str],
    *,
    profile: str | None = None,
) -> DataKey:
    """Call kms:GenerateDataKey as session-manager-plugin does (64 bytes, two-key context).

    Raises:
        AwsError: mapped from botocore (denied, throttled, unreachable...).
    """
    with map_aws_errors(action="kms:GenerateDataKey", profile=profile):
        response = client.generate_data_key(
            KeyId=key_id,
            NumberOfBytes=DATA_KEY_BYTES,
            EncryptionContext=dict(encryption_context),
        )
    return DataKey(plaintext=response["Plaintext"], ciphertext_blob=response["CiphertextBlob"])
