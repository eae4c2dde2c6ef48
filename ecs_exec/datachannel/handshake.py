"""The session-type and KMS handshake for either end, sans-I/O.

Theory of operation
-------------------
:class:`~ecs_exec.datachannel.client.ClientChannel` and
:class:`~ecs_exec.datachannel.agent.AgentChannel` own the states, sequencing and sending (see
docs/protocol.md#9-handshake); they hand every handshake payload to one of the two helpers here
and send what they return. The helpers hold only handshake state, never read a socket or a clock
(``now`` is a parameter) and take their randomness from the channel's injected source.

Client (:class:`ClientHandshake`): the agent's HandshakeRequest is answered action by action,
as streaming.go does: a known SessionType is accepted, anything else is refused or reported as
unsupported. A KMSEncryption action with a key id makes the response wait: the channel reports
:class:`~ecs_exec.datachannel.events.EncryptionKeyRequested`, the driver calls GenerateDataKey (the
plugin calls KMS inline in ProcessKMSEncryptionHandshakeAction) and then
``provide_data_key`` or ``reject_data_key``, which fill in the held KMS answer. An
EncChallengeRequest is decrypted with the data key and sent back re-encrypted
(docs/protocol.md#104-encryption-challenge).

Agent (:class:`AgentHandshake`): ``start_handshake`` sends the HandshakeRequest (with a random
KMS Challenge when a key id is given). The HandshakeResponse must accept the session type;
without KMS the handshake completes at once, with it the client's CiphertextBlob is reported as
:class:`~ecs_exec.datachannel.events.DataKeyReceived`. Once the driver has decrypted it, a random
64-byte challenge goes out encrypted, and the handshake completes when the client's answer
decrypts to the same bytes. HandshakeComplete carries the elapsed time as a Go
``time.Duration`` (integer nanoseconds).
"""

from __future__ import annotations

from collections.abc import Callable

import ecs_exec.datachannel.handshake_payloads as hp
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import DataKeyReceived, EncryptionKeyRequested, HandshakeCompleted
from ecs_exec.errors import HandshakeError

CHALLENGE_SIZE = 64  #: [agent] random bytes in the encryption challenge
KMS_CHALLENGE_SIZE = 16  #: [agent] random bytes in the KMSEncryption request's Challenge


class ClientHandshake:
    """[client] Answers the agent's HandshakeRequest and encryption challenge."""

    def __init__(self) -> None:
        # The response being built; None marks the KMS action's place until the key is known.
        self._held_response: list[hp.ProcessedClientAction | None] | None = None
        self._held_errors: list[str] = []
        self.session_type: str | None = None  #: the last valid SessionType requested

    @property
    def key_requested(self) -> bool:
        """Whether a HandshakeResponse is held until the data key is provided or rejected."""
        return self._held_response is not None

    def receive_request(
        self, request: hp.HandshakeRequest, encryption_context: dict[str, str]
    ) -> EncryptionKeyRequested | None:
        """Process the actions of a HandshakeRequest and hold the response.

        Args:
            request: the parsed HandshakeRequest.
            encryption_context: the KMS encryption context, should the agent ask for a key.

        Returns:
            The key request when the agent asked for KMS encryption (then the response stays
            held), else None (then :meth:`response` is ready to send).
        """
        actions: list[hp.ProcessedClientAction | None] = []
        errors: list[str] = []
        key_request: EncryptionKeyRequested | None = None
        for action in request.actions:
            params = action.action_parameters if isinstance(action.action_parameters, dict) else {}
            kind = action.action_type
            result: hp.ProcessedClientAction | None
            if kind == hp.SESSION_TYPE_ACTION:
                session_type = params.get("SessionType")
                if isinstance(session_type, str) and session_type in hp.SESSION_TYPES:
                    self.session_type = session_type
                    result = hp.ProcessedClientAction.session_type_ok()
                else:
                    result = hp.ProcessedClientAction.failed(
                        kind, f"Unknown session type {session_type}"
                    )
            elif kind == hp.KMS_ENCRYPTION_ACTION:
                key_id = params.get("KMSKeyId")
                if key_request is not None or not isinstance(key_id, str) or not key_id:
                    result = hp.ProcessedClientAction.failed(kind, "invalid KMSKeyId")
                else:
                    # Hold the response until the driver has called GenerateDataKey
                    # (streaming.go ProcessKMSEncryptionHandshakeAction calls KMS inline).
                    result = None
                    key_request = EncryptionKeyRequested(key_id, encryption_context)
            else:
                result = hp.ProcessedClientAction.unsupported(kind)
            if result is not None and result.error:
                errors.append(result.error)
            actions.append(result)
        self._held_response = actions
        self._held_errors = errors
        return key_request

    def response(
        self, kms_result: hp.ProcessedClientAction | None, *, client_version: str
    ) -> bytes:
        """Release the held HandshakeResponse.

        Args:
            kms_result: the answer to the KMS action, if there was one.
            client_version: the ClientVersion to report.

        Returns:
            The PT6 payload.
        """
        held = self._held_response
        assert held is not None
        actions = []
        for action in held:
            item = kms_result if action is None else action  # the KMS placeholder
            assert item is not None
            actions.append(item)
        self._held_response = None
        response = hp.HandshakeResponse(client_version, tuple(actions), tuple(self._held_errors))
        return response.to_bytes()

    def key_provided(self, ciphertext_blob: bytes, *, client_version: str) -> bytes:
        """Answer the KMS action with the data key's CiphertextBlob; return the response."""
        return self.response(
            hp.ProcessedClientAction.kms_ok(ciphertext_blob), client_version=client_version
        )

    def key_rejected(self, reason: str, *, client_version: str) -> bytes:
        """Answer the KMS action as failed (GenerateDataKey failed); return the response."""
        action = hp.ProcessedClientAction.failed(hp.KMS_ENCRYPTION_ACTION, reason)
        self._held_errors.append(action.error)
        return self.response(action, client_version=client_version)

    @staticmethod
    def answer_challenge(cipher: CipherPair | None, payload: bytes) -> bytes:
        """Decrypt an EncChallengeRequest and re-encrypt it; return the PT9 payload.

        Raises:
            HandshakeError: no data key is in use.
            RemoteProtocolError: the payload is malformed or does not decrypt.
        """
        if cipher is None:
            raise HandshakeError("encryption challenge received without a data key")
        plain = cipher.decrypt(hp.parse_challenge(payload))
        return hp.challenge_payload(cipher.encrypt(plain))


class AgentHandshake:
    """[agent] Runs the handshake: request, response, data key, challenge, completion.

    Args:
        random_bytes: source of the challenges.
    """

    def __init__(self, random_bytes: Callable[[int], bytes]) -> None:
        self._random_bytes = random_bytes
        self._kms_key_id: str | None = None
        self._started = 0.0
        self._awaiting_response = False
        self._awaiting_key = False
        self._challenge: bytes | None = None

    @property
    def key_requested(self) -> bool:
        """Whether the client's data key was received and awaits ``provide_data_key``."""
        return self._awaiting_key

    def request(
        self, *, session_type: str, kms_key_id: str | None, agent_version: str, now: float
    ) -> bytes:
        """Start the handshake (docs/protocol.md#92-handshakerequest); KMS only with a key id.

        Returns:
            The PT5 HandshakeRequest payload.
        """
        challenge = self._random_bytes(KMS_CHALLENGE_SIZE) if kms_key_id is not None else None
        request = hp.HandshakeRequest.build(
            agent_version=agent_version,
            session_type=session_type,
            kms_key_id=kms_key_id,
            challenge=challenge,
        )
        self._kms_key_id = kms_key_id
        self._started = now
        self._awaiting_response = True
        return request.to_bytes()

    def receive_response(
        self, payload: bytes, now: float
    ) -> DataKeyReceived | HandshakeCompleted | None:
        """Process a HandshakeResponse.

        Returns:
            None if none was expected (it is ignored); :class:`HandshakeCompleted` if the
            session is not encrypted; else :class:`DataKeyReceived` with the client's blob.

        Raises:
            HandshakeError: the session type was refused, or no data key came back.
            RemoteProtocolError: the payload is malformed.
        """
        if not self._awaiting_response:
            return None
        response = hp.parse_handshake_response(payload)
        self._awaiting_response = False
        if not response.succeeded(hp.SESSION_TYPE_ACTION):
            raise HandshakeError(f"client refused the session type: {list(response.errors)}")
        if self._kms_key_id is None:
            return self._completed("", now)
        blob = response.kms_ciphertext()
        if blob is None:
            raise HandshakeError(f"client did not return a data key: {list(response.errors)}")
        self._awaiting_key = True
        return DataKeyReceived(blob)

    def challenge(self, cipher: CipherPair) -> bytes:
        """Create the encryption challenge once the data key is known.

        Returns:
            The PT8 EncChallengeRequest payload.
        """
        self._awaiting_key = False
        self._challenge = self._random_bytes(CHALLENGE_SIZE)
        return hp.challenge_payload(cipher.encrypt(self._challenge))

    def receive_challenge_response(
        self, cipher: CipherPair | None, payload: bytes, now: float
    ) -> HandshakeCompleted | None:
        """Verify the client's answer to the challenge.

        Returns:
            :class:`HandshakeCompleted` if it matches; None if no challenge is outstanding.

        Raises:
            HandshakeError: the answer does not match.
            RemoteProtocolError: the payload is malformed or does not decrypt.
        """
        if self._challenge is None or cipher is None:
            return None
        answer = cipher.decrypt(hp.parse_challenge(payload))
        if answer != self._challenge:
            raise HandshakeError("encryption challenge mismatch")
        self._challenge = None
        return self._completed(hp.KMS_CUSTOMER_MESSAGE, now)

    def _completed(self, customer_message: str, now: float) -> HandshakeCompleted:
        elapsed_ns = round((now - self._started) * 1e9)  # a Go time.Duration
        return HandshakeCompleted(elapsed_ns, customer_message)


def complete_payload(event: HandshakeCompleted) -> bytes:
    """Return the PT7 HandshakeComplete payload the agent sends for ``event``."""
    return hp.HandshakeComplete(event.time_to_complete_ns, event.customer_message).to_bytes()


__all__ = [
    "CHALLENGE_SIZE",
    "KMS_CHALLENGE_SIZE",
    "AgentHandshake",
    "ClientHandshake",
    "complete_payload",
]
