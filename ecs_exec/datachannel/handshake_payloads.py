"""Handshake and encryption-challenge payloads (PT5-PT9), with byte-exact serialisers.

The session-type and KMS handshake (docs/protocol.md#9-handshake, #10-encryption) exchanges
JSON payloads that session-manager-plugin marshals with Go's ``encoding/json``; the models
here reproduce its bytes through :func:`~ecs_exec.datachannel.payloads.go_json`. Parsers
validate types and raise :class:`~ecs_exec.errors.RemoteProtocolError` on anything the far
end should not have sent; :mod:`~ecs_exec.datachannel.handshake` runs the exchange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ecs_exec.datachannel.payloads import b64decode, b64encode, get_str, go_json, load_object
from ecs_exec.errors import RemoteProtocolError

#: The session types a HandshakeRequest may name (streaming.go ProcessSessionTypeHandshakeAction).
SESSION_TYPES = frozenset(
    {"Standard_Stream", "InteractiveCommands", "NonInteractiveCommands", "Port"}
)
SESSION_TYPE_ACTION = "SessionType"  #: ActionType of the session-type action
KMS_ENCRYPTION_ACTION = "KMSEncryption"  #: ActionType of the KMS action
#: CustomerMessage the agent sends when the session is encrypted ([agent] sessionplugin.go).
KMS_CUSTOMER_MESSAGE = "This session is encrypted using AWS KMS."


class ActionStatus(IntEnum):
    """ActionStatus of a processed client action (handshakemessage.go)."""

    SUCCESS = 1  #: the action was carried out
    FAILED = 2  #: the action failed; ``Error`` says why
    UNSUPPORTED = 3  #: unknown ActionType (the plugin puts this in ActionResult, status 0)


# --- handshake (docs/protocol.md#9-handshake) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestedClientAction:
    """One entry of ``RequestedClientActions``.

    Args:
        action_type: ActionType, e.g. ``SessionType`` or ``KMSEncryption``.
        action_parameters: ActionParameters as decoded JSON.
    """

    action_type: str
    action_parameters: Any


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """The PT5 HandshakeRequest payload (agent -> client).

    Args:
        agent_version: AgentVersion (``""`` when absent).
        actions: the requested actions, in order.
    """

    agent_version: str
    actions: tuple[RequestedClientAction, ...]

    @classmethod
    def build(
        cls,
        *,
        agent_version: str,
        session_type: str,
        kms_key_id: str | None = None,
        challenge: bytes | None = None,
    ) -> HandshakeRequest:
        """Build the request a real agent sends (SessionType, then KMSEncryption if keyed).

        Returns:
            The request.
        """
        actions = [
            RequestedClientAction(
                SESSION_TYPE_ACTION, {"SessionType": session_type, "Properties": None}
            )
        ]
        if kms_key_id is not None:
            params: dict[str, Any] = {"KMSKeyId": kms_key_id}
            if challenge is not None:
                params["Challenge"] = b64encode(challenge)
            actions.append(RequestedClientAction(KMS_ENCRYPTION_ACTION, params))
        return cls(agent_version, tuple(actions))

    def to_bytes(self) -> bytes:
        """Serialise as the agent does.

        Returns:
            The JSON payload.
        """
        return go_json(
            {
                "AgentVersion": self.agent_version,
                "RequestedClientActions": [
                    {"ActionType": a.action_type, "ActionParameters": a.action_parameters}
                    for a in self.actions
                ],
            }
        )


def parse_handshake_request(payload: bytes) -> HandshakeRequest:
    """Parse a PT5 payload.

    Raises:
        RemoteProtocolError: not an object, or actions are not objects with a string type.
    """
    obj = load_object(payload, "HandshakeRequest")
    version = get_str(obj, "AgentVersion", "HandshakeRequest", "")
    raw = obj.get("RequestedClientActions") or []
    if not isinstance(raw, list):
        raise RemoteProtocolError("HandshakeRequest: RequestedClientActions must be a list")
    actions = []
    for item in raw:
        if not isinstance(item, dict):
            raise RemoteProtocolError("HandshakeRequest: an action is not an object")
        kind = get_str(item, "ActionType", "HandshakeRequest")
        actions.append(RequestedClientAction(kind, item.get("ActionParameters")))
    return HandshakeRequest(version, tuple(actions))


@dataclass(frozen=True, slots=True)
class ProcessedClientAction:
    """One entry of ``ProcessedClientActions``.

    Args:
        action_type: the ActionType this answers.
        action_status: 0, or an :class:`ActionStatus`.
        action_result: ActionResult: ``None``, a KMS result object, or (quirk) the int 3.
        error: Error text, ``""`` on success.
    """

    action_type: str
    action_status: int
    action_result: Any = None
    error: str = ""

    @classmethod
    def session_type_ok(cls) -> ProcessedClientAction:
        """Return the successful SessionType entry."""
        return cls(SESSION_TYPE_ACTION, ActionStatus.SUCCESS)

    @classmethod
    def kms_ok(cls, ciphertext_blob: bytes) -> ProcessedClientAction:
        """Return the successful KMSEncryption entry carrying the data key's CiphertextBlob."""
        return cls(
            KMS_ENCRYPTION_ACTION,
            ActionStatus.SUCCESS,
            {"KMSCipherTextKey": b64encode(ciphertext_blob), "KMSCipherTextHash": None},
        )

    @classmethod
    def failed(cls, action_type: str, reason: str) -> ProcessedClientAction:
        """Return a failed entry, with the plugin's error wording."""
        return cls(
            action_type,
            ActionStatus.FAILED,
            None,
            f"Failed to process action {action_type}: {reason}",
        )

    @classmethod
    def unsupported(cls, action_type: str) -> ProcessedClientAction:
        """Return the plugin's (quirky) unsupported entry: status 0, ActionResult 3."""
        return cls(
            action_type, 0, int(ActionStatus.UNSUPPORTED), f"Unsupported action {action_type}"
        )


@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """The PT6 HandshakeResponse payload (client -> agent).

    Args:
        client_version: ClientVersion.
        actions: ProcessedClientActions, in request order.
        errors: Errors; serialised as ``null`` when empty, as Go does for a nil slice.
    """

    client_version: str
    actions: tuple[ProcessedClientAction, ...]
    errors: tuple[str, ...] = field(default=())

    def to_bytes(self) -> bytes:
        """Serialise byte-exactly as the plugin does (docs/protocol.md#93-handshakeresponse).

        Returns:
            The JSON payload.
        """
        return go_json(
            {
                "ClientVersion": self.client_version,
                "ProcessedClientActions": [
                    {
                        "ActionType": a.action_type,
                        "ActionStatus": a.action_status,
                        "ActionResult": a.action_result,
                        "Error": a.error,
                    }
                    for a in self.actions
                ],
                "Errors": list(self.errors) or None,
            }
        )

    def kms_ciphertext(self) -> bytes | None:
        """Return the decoded ``KMSCipherTextKey`` of a successful KMS action, if any.

        Raises:
            RemoteProtocolError: the KMS result is not an object with a base64 key.
        """
        for action in self.actions:
            if action.action_type == KMS_ENCRYPTION_ACTION and action.action_status == 1:
                result = action.action_result
                if not isinstance(result, dict):
                    raise RemoteProtocolError(
                        "HandshakeResponse: KMS ActionResult is not an object"
                    )
                key = get_str(result, "KMSCipherTextKey", "HandshakeResponse")
                return b64decode(key, "HandshakeResponse KMSCipherTextKey")
        return None

    def succeeded(self, action_type: str) -> bool:
        """Return whether an action of that type was processed successfully."""
        return any(a.action_type == action_type and a.action_status == 1 for a in self.actions)


def parse_handshake_response(payload: bytes) -> HandshakeResponse:
    """Parse a PT6 payload (agent side).

    Raises:
        RemoteProtocolError: wrong JSON shapes.
    """
    obj = load_object(payload, "HandshakeResponse")
    version = get_str(obj, "ClientVersion", "HandshakeResponse", "")
    raw = obj.get("ProcessedClientActions") or []
    errors = obj.get("Errors") or []
    if not isinstance(raw, list) or not isinstance(errors, list):
        raise RemoteProtocolError("HandshakeResponse: actions and errors must be lists")
    actions = []
    for item in raw:
        if not isinstance(item, dict):
            raise RemoteProtocolError("HandshakeResponse: an action is not an object")
        status = item.get("ActionStatus", 0)
        if not isinstance(status, int) or isinstance(status, bool):
            raise RemoteProtocolError("HandshakeResponse: ActionStatus must be an int")
        actions.append(
            ProcessedClientAction(
                get_str(item, "ActionType", "HandshakeResponse"),
                status,
                item.get("ActionResult"),
                get_str(item, "Error", "HandshakeResponse", ""),
            )
        )
    return HandshakeResponse(version, tuple(actions), tuple(str(e) for e in errors))


@dataclass(frozen=True, slots=True)
class HandshakeComplete:
    """The PT7 HandshakeComplete payload (agent -> client).

    Args:
        time_to_complete_ns: HandshakeTimeToComplete, a Go ``time.Duration`` (int ns).
        customer_message: CustomerMessage, printed by the client when non-empty.
    """

    time_to_complete_ns: int
    customer_message: str = ""

    def to_bytes(self) -> bytes:
        """Serialise as the agent does.

        Returns:
            The JSON payload.
        """
        return go_json(
            {
                "HandshakeTimeToComplete": self.time_to_complete_ns,
                "CustomerMessage": self.customer_message,
            }
        )


def parse_handshake_complete(payload: bytes) -> HandshakeComplete:
    """Parse a PT7 payload; the duration must be a JSON integer, as Go requires
    (docs/protocol.md#94-handshakecomplete).

    Raises:
        RemoteProtocolError: not an object, a non-integer duration, a non-string message.
    """
    obj = load_object(payload, "HandshakeComplete")
    ttc = obj.get("HandshakeTimeToComplete", 0)
    if not isinstance(ttc, int) or isinstance(ttc, bool):
        raise RemoteProtocolError("HandshakeComplete: HandshakeTimeToComplete must be an integer")
    return HandshakeComplete(ttc, get_str(obj, "CustomerMessage", "HandshakeComplete", ""))


# --- encryption challenge (docs/protocol.md#104-encryption-challenge) ----------------------------


def challenge_payload(sealed: bytes) -> bytes:
    """Build ``{"Challenge":"<base64>"}`` for PT8 or PT9.

    Args:
        sealed: nonce || ciphertext || tag.

    Returns:
        The JSON payload.
    """
    return go_json({"Challenge": b64encode(sealed)})


def parse_challenge(payload: bytes) -> bytes:
    """Return the sealed challenge bytes of a PT8 or PT9 payload.

    Raises:
        RemoteProtocolError: bad JSON or base64.
    """
    text = get_str(load_object(payload, "EncChallenge"), "Challenge", "EncChallenge")
    return b64decode(text, "EncChallenge Challenge")


__all__ = [
    "KMS_CUSTOMER_MESSAGE",
    "KMS_ENCRYPTION_ACTION",
    "SESSION_TYPES",
    "SESSION_TYPE_ACTION",
    "ActionStatus",
    "HandshakeComplete",
    "HandshakeRequest",
    "HandshakeResponse",
    "ProcessedClientAction",
    "RequestedClientAction",
    "challenge_payload",
    "parse_challenge",
    "parse_handshake_complete",
    "parse_handshake_request",
    "parse_handshake_response",
]
