"""AES-256-GCM for KMS-encrypted sessions, given key material (no KMS calls here).

Matches session-manager-plugin ``src/encryption/encrypter.go`` and the agent's
``agent/session/crypto/blockcipher.go`` (docs/protocol.md#10-encryption): a 64-byte KMS data key
holds two AES-256 keys; the **client** decrypts agent->client traffic with bytes 0..31 and
encrypts with 32..63, and the agent mirrors that. The wire form is ``nonce(12) || ciphertext ||
tag(16)``, with no associated data. Nonces come from an injected source (aioquic ``CryptoPair``
style), so tests can fix them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ecs_exec.errors import LocalProtocolError, RemoteProtocolError

if TYPE_CHECKING:
    # Imported where used: only KMS-encrypted sessions need it, and loading it costs every
    # session (the drop-in's start-up included) several milliseconds.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE = 12  #: encrypter.go nonceSize
TAG_SIZE = 16  #: GCM tag length
KEY_SIZE = 32  #: one AES-256 key
DATA_KEY_SIZE = 64  #: kmsservice.go KMSKeySizeInBytes: two keys


def seal(aead: AESGCM, nonce: bytes, plaintext: bytes) -> bytes:
    """Encrypt into the wire form ``nonce || ciphertext || tag``.

    Args:
        aead: the AES-GCM context of the sending key.
        nonce: 12 fresh bytes.
        plaintext: the bytes to protect.

    Returns:
        The sealed bytes, 28 longer than ``plaintext``.

    Raises:
        LocalProtocolError: the nonce is not 12 bytes.
    """
    if len(nonce) != NONCE_SIZE:
        raise LocalProtocolError(f"nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    return nonce + aead.encrypt(nonce, plaintext, None)


def unseal(aead: AESGCM, sealed: bytes) -> bytes:
    """Decrypt the wire form; the nonce is always read from the first 12 bytes.

    Args:
        aead: the AES-GCM context of the receiving key.
        sealed: ``nonce || ciphertext || tag``.

    Returns:
        The plaintext.

    Raises:
        RemoteProtocolError: too short, or the tag does not verify.
    """
    if len(sealed) < NONCE_SIZE + TAG_SIZE:
        # The plugin panics here (docs/protocol.md#102-cipher); we report a violation instead.
        raise RemoteProtocolError(f"encrypted payload too short: {len(sealed)} bytes")
    from cryptography.exceptions import InvalidTag

    try:
        return aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], None)
    except InvalidTag:
        raise RemoteProtocolError("encrypted payload failed authentication") from None


class CipherPair:
    """The two directions of one encrypted session, for one side.

    Args:
        encrypt_key: 32-byte key for what this side sends.
        decrypt_key: 32-byte key for what this side receives.
        nonce_source: returns ``n`` fresh random bytes (e.g. ``secrets.token_bytes``).

    Raises:
        LocalProtocolError: a key is not 32 bytes.
    """

    __slots__ = ("_decrypt", "_encrypt", "_nonce_source")

    def __init__(
        self, encrypt_key: bytes, decrypt_key: bytes, nonce_source: Callable[[int], bytes]
    ) -> None:
        if len(encrypt_key) != KEY_SIZE or len(decrypt_key) != KEY_SIZE:
            raise LocalProtocolError("AES-256-GCM keys must be 32 bytes")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._encrypt = AESGCM(encrypt_key)
        self._decrypt = AESGCM(decrypt_key)
        self._nonce_source = nonce_source

    @classmethod
    def from_data_key(
        cls, data_key: bytes, *, client: bool, nonce_source: Callable[[int], bytes]
    ) -> CipherPair:
        """Split a 64-byte KMS data key for the client or the agent.

        The client decrypts with ``[0:32]`` and encrypts with ``[32:64]`` (streaming.go
        ``ProcessKMSEncryptionHandshakeAction``); the agent does the reverse.

        Args:
            data_key: the GenerateDataKey/Decrypt plaintext.
            client: True for the client's view, False for the agent's.
            nonce_source: random-bytes source for nonces.

        Returns:
            The pair.

        Raises:
            LocalProtocolError: the data key is not 64 bytes.
        """
        if len(data_key) != DATA_KEY_SIZE:
            raise LocalProtocolError(f"data key must be {DATA_KEY_SIZE} bytes, got {len(data_key)}")
        first, second = data_key[:KEY_SIZE], data_key[KEY_SIZE:]
        if client:
            return cls(second, first, nonce_source)
        return cls(first, second, nonce_source)

    def encrypt(self, plaintext: bytes) -> bytes:
        """Seal ``plaintext`` under a fresh nonce with the sending key.

        Returns:
            ``nonce || ciphertext || tag``.
        """
        return seal(self._encrypt, self._nonce_source(NONCE_SIZE), plaintext)

    def decrypt(self, sealed: bytes) -> bytes:
        """Open bytes sealed by the far end.

        Returns:
            The plaintext.

        Raises:
            RemoteProtocolError: too short or not authentic.
        """
        return unseal(self._decrypt, sealed)


__all__ = ["DATA_KEY_SIZE", "KEY_SIZE", "NONCE_SIZE", "TAG_SIZE", "CipherPair", "seal", "unseal"]
