"""AES-256-GCM known answers computed independently with cryptography's AESGCM
(docs/protocol.md#10-encryption)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ecs_exec.datachannel.crypto import CipherPair, seal, unseal
from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

DATA_KEY = bytes(range(64))
NONCE = bytes.fromhex("000102030405060708090a0b")


def fixed(n: int) -> bytes:
    assert n == 12
    return NONCE


def test_client_encrypts_with_second_half_agent_with_first() -> None:
    client = CipherPair.from_data_key(DATA_KEY, client=True, nonce_source=fixed)
    agent = CipherPair.from_data_key(DATA_KEY, client=False, nonce_source=fixed)
    sealed = client.encrypt(b"hello, agent!!!")
    expected = NONCE + AESGCM(DATA_KEY[32:]).encrypt(NONCE, b"hello, agent!!!", None)
    assert sealed == expected
    assert len(sealed) == 15 + 28  # docs/protocol.md#102-cipher: 15 bytes become 43
    assert agent.decrypt(sealed) == b"hello, agent!!!"
    back = agent.encrypt(b"output")
    assert back == NONCE + AESGCM(DATA_KEY[:32]).encrypt(NONCE, b"output", None)
    assert client.decrypt(back) == b"output"


def test_known_answer_vector() -> None:
    # Independently computed AESGCM(key=00..1f) output for b"abc" under nonce 00..0b.
    expected = AESGCM(bytes(range(32))).encrypt(NONCE, b"abc", None)
    assert seal(AESGCM(bytes(range(32))), NONCE, b"abc") == NONCE + expected
    assert unseal(AESGCM(bytes(range(32))), NONCE + expected) == b"abc"


def test_tampering_and_short_input_are_remote_errors() -> None:
    pair = CipherPair.from_data_key(DATA_KEY, client=True, nonce_source=fixed)
    sealed = bytearray(
        CipherPair.from_data_key(DATA_KEY, client=False, nonce_source=fixed).encrypt(b"x")
    )
    sealed[-1] ^= 1
    with pytest.raises(RemoteProtocolError, match="authentication"):
        pair.decrypt(bytes(sealed))
    with pytest.raises(RemoteProtocolError, match="too short"):
        pair.decrypt(b"\x00" * 27)


def test_bad_key_and_nonce_sizes_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        CipherPair.from_data_key(b"\x00" * 32, client=True, nonce_source=fixed)
    with pytest.raises(LocalProtocolError):
        CipherPair(b"\x00" * 16, b"\x00" * 32, fixed)
    with pytest.raises(LocalProtocolError):
        seal(AESGCM(bytes(32)), b"\x00" * 8, b"x")
