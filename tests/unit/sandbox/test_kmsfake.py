"""The fake KMS seals data keys to a key and an encryption context."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ecs_exec.sandbox import kmsfake

KEY = "arn:aws:kms:us-east-1:123456789012:key/k"
CONTEXT = {"aws:ssm:SessionId": "s", "aws:ssm:TargetId": "t"}


def test_round_trip_and_determinism() -> None:
    blob = kmsfake.encrypt(KEY, b"secret", CONTEXT)
    assert blob == kmsfake.encrypt(KEY, b"secret", dict(reversed(CONTEXT.items())))
    opened = kmsfake.decrypt(blob, CONTEXT, key_arn=KEY)
    assert (opened.key_id, opened.plaintext) == (KEY, b"secret")
    assert kmsfake.key_of(blob) == KEY


@pytest.mark.parametrize(
    ("blob_edit", "context", "key"),
    [
        (lambda b: b, {"aws:ssm:SessionId": "other", "aws:ssm:TargetId": "t"}, None),
        (lambda b: b, {}, None),
        (lambda b: b, CONTEXT, KEY + "x"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), CONTEXT, None),
        (lambda b: b"not a blob at all, definitely not", CONTEXT, None),
        (lambda b: b[:20], CONTEXT, None),
    ],
)
def test_wrong_blob_key_or_context_fails(
    blob_edit: Callable[[bytes], bytes], context: dict[str, str], key: str | None
) -> None:
    blob = blob_edit(kmsfake.encrypt(KEY, b"secret", CONTEXT))
    with pytest.raises(kmsfake.InvalidCiphertextError):
        kmsfake.decrypt(blob, context, key_arn=key)


def test_generate_data_key_uses_injected_randomness() -> None:
    key = kmsfake.generate_data_key(KEY, 64, CONTEXT, random_bytes=lambda n: b"\x01" * n)
    assert key.plaintext == b"\x01" * 64
    assert kmsfake.decrypt(key.ciphertext_blob, CONTEXT).plaintext == key.plaintext
