"""Events the data channel reports to its driver: frozen dataclasses, past-tense names.

The driver drains them with ``DataChannel.events_received()`` after every input, as aioquic's
``quic/events.py`` does. None of them carries key material.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecs_exec.datachannel.message import PayloadType
from ecs_exec.errors import SessionError


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of every data-channel event."""


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    """(client) The session type is known: after HandshakeComplete, or on the first output.

    Args:
        session_type: the agent's SessionType (``Standard_Stream`` on the legacy path).
        agent_version: AgentVersion from the HandshakeRequest (``""`` on the legacy path).
        encrypted: whether traffic is KMS-encrypted.
        customer_message: HandshakeComplete's CustomerMessage (the plugin prints it).
    """

    session_type: str
    agent_version: str
    encrypted: bool
    customer_message: str


@dataclass(frozen=True, slots=True)
class OutputReceived(Event):
    """(client) Agent output delivered in order, exactly once, decrypted.

    Args:
        data: the payload bytes.
        payload_type: OUTPUT, STDERR or EXIT_CODE (the plugin prints all three).
    """

    data: bytes
    payload_type: PayloadType = PayloadType.OUTPUT


@dataclass(frozen=True, slots=True)
class InputReceived(Event):
    """(agent) Client stdin (PT1) delivered in order, exactly once, decrypted.

    Args:
        data: the payload bytes.
    """

    data: bytes


@dataclass(frozen=True, slots=True)
class TerminalResized(Event):
    """(agent) The client sent a terminal size (PT3).

    Args:
        cols: columns.
        rows: rows.
    """

    cols: int
    rows: int


@dataclass(frozen=True, slots=True)
class FlagReceived(Event):
    """(both) A PT10 flag arrived (see ``payloads.Flag``).

    Args:
        flag: the uint32 value.
    """

    flag: int


@dataclass(frozen=True, slots=True)
class EncryptionKeyRequested(Event):
    """(client) The agent asked for KMS encryption: call GenerateDataKey (64 bytes).

    Answer with ``DataChannel.provide_data_key(plaintext, ciphertext_blob, now=...)``.

    Args:
        kms_key_id: the KMSKeyId to pass as KeyId.
        encryption_context: the EncryptionContext to pass.
    """

    kms_key_id: str
    encryption_context: dict[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class DataKeyReceived(Event):
    """(agent) The client sent its data key: KMS-Decrypt it and call ``provide_data_key``.

    Args:
        ciphertext_blob: the CiphertextBlob from the HandshakeResponse.
    """

    ciphertext_blob: bytes


@dataclass(frozen=True, slots=True)
class HandshakeCompleted(Event):
    """(both) HandshakeComplete was sent (agent) or received (client).

    Args:
        time_to_complete_ns: HandshakeTimeToComplete.
        customer_message: CustomerMessage.
    """

    time_to_complete_ns: int
    customer_message: str


@dataclass(frozen=True, slots=True)
class ChannelClosed(Event):
    """A channel_closed message arrived: the session is over.

    Args:
        output: its Output text (the plugin prints it when non-empty).
    """

    output: str


@dataclass(frozen=True, slots=True)
class RetransmissionGaveUp(Event):
    """A sequenced message was resent the maximum number of times without an ack.

    The plugin then calls TerminateSession (sessionhandler.go
    ``handleStreamMessageResendTimeout``); the driver decides what to do.

    Args:
        sequence_number: the message that was never acknowledged.
        attempts: how many times it was resent.
    """

    sequence_number: int
    attempts: int


@dataclass(frozen=True, slots=True)
class ProtocolViolated(Event):
    """The far end sent something that ends the session (bad handshake, decrypt failure).

    Args:
        error: the RemoteProtocolError or HandshakeError that describes it.
    """

    error: SessionError = field(compare=False)


__all__ = [
    "ChannelClosed",
    "DataKeyReceived",
    "EncryptionKeyRequested",
    "Event",
    "FlagReceived",
    "HandshakeCompleted",
    "InputReceived",
    "OutputReceived",
    "ProtocolViolated",
    "RetransmissionGaveUp",
    "SessionStarted",
    "TerminalResized",
]
