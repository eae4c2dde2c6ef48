"""A fake KMS for the sandbox: data keys sealed under one fixed sandbox master key.

``GenerateDataKey`` returns a random data key and a ``CiphertextBlob`` that is that key sealed
with AES-GCM under ``MASTER_KEY``, with the key ARN and the encryption context as associated
data. The agent side calls ``decrypt`` with the context it expects (``aws:ssm:SessionId`` and
``aws:ssm:TargetId``); a different context or key fails exactly as real KMS fails such a call.

The nonce is derived from the inputs (SIV style), so ``encrypt`` is deterministic and tests can
compare blobs. The master key is public: this protects nothing and only has to behave like KMS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY = hashlib.sha256(b"ecs-exec sandbox KMS master key").digest()
_MAGIC = b"SBXKMS1\x00"
_NONCE_LEN = 12


class InvalidCiphertextError(ValueError):
    """The blob is not ours, was altered, or the key or encryption context differ."""


@dataclass(frozen=True)
class DataKey:
    """One GenerateDataKey result."""

    key_id: str  #: the key ARN
    plaintext: bytes
    ciphertext_blob: bytes


def _aad(key_arn: str, context: Mapping[str, str]) -> bytes:
    # KMS binds the context as a set of pairs: order must not matter.
    return json.dumps([key_arn, sorted(context.items())], separators=(",", ":")).encode()


def encrypt(key_arn: str, plaintext: bytes, context: Mapping[str, str]) -> bytes:
    """Seal ``plaintext`` for ``key_arn`` and ``context``; deterministic."""
    aad = _aad(key_arn, context)
    nonce = hmac.new(MASTER_KEY, aad + plaintext, hashlib.sha256).digest()[:_NONCE_LEN]
    sealed = AESGCM(MASTER_KEY).encrypt(nonce, plaintext, aad)
    key = key_arn.encode()
    return _MAGIC + len(key).to_bytes(2, "big") + key + nonce + sealed


def key_of(blob: bytes) -> str:
    """The key ARN recorded in a blob.

    Raises:
        InvalidCiphertextError: not a sandbox blob.
    """
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 2:
        raise InvalidCiphertextError("not a sandbox KMS ciphertext blob")
    start = len(_MAGIC) + 2
    size = int.from_bytes(blob[len(_MAGIC) : start], "big")
    if len(blob) < start + size + _NONCE_LEN + 16:
        raise InvalidCiphertextError("truncated sandbox KMS ciphertext blob")
    return blob[start : start + size].decode("utf-8", "replace")


def decrypt(blob: bytes, context: Mapping[str, str], *, key_arn: str | None = None) -> DataKey:
    """Open a blob made by ``encrypt``/``generate_data_key``.

    Args:
        blob: the CiphertextBlob bytes (not base64).
        context: the encryption context; must equal the one used to encrypt.
        key_arn: when given, the blob must have been made for this key.

    Raises:
        InvalidCiphertextError: wrong blob, key or context.
    """
    recorded = key_of(blob)
    if key_arn is not None and key_arn != recorded:
        raise InvalidCiphertextError(f"blob was made for {recorded}, not {key_arn}")
    offset = len(_MAGIC) + 2 + len(recorded.encode())
    nonce, sealed = blob[offset : offset + _NONCE_LEN], blob[offset + _NONCE_LEN :]
    try:
        plaintext = AESGCM(MASTER_KEY).decrypt(nonce, sealed, _aad(recorded, context))
    except InvalidTag:
        raise InvalidCiphertextError("encryption context or ciphertext mismatch") from None
    return DataKey(key_id=recorded, plaintext=plaintext, ciphertext_blob=blob)


def generate_data_key(
    key_arn: str,
    number_of_bytes: int,
    context: Mapping[str, str],
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> DataKey:
    """A fresh data key of ``number_of_bytes`` and its blob."""
    plaintext = random_bytes(number_of_bytes)
    return DataKey(
        key_id=key_arn,
        plaintext=plaintext,
        ciphertext_blob=encrypt(key_arn, plaintext, context),
    )
