"""Sans-I/O core of the Session Manager data channel: codec, payloads, crypto, retransmission
and the :class:`DataChannel` state machine. Nothing here does I/O or reads a clock."""

from __future__ import annotations

from ecs_exec.datachannel.channel import DataChannel, Side, State
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    ChannelClosed,
    DataKeyReceived,
    EncryptionKeyRequested,
    Event,
    FlagReceived,
    HandshakeCompleted,
    InputReceived,
    OutputReceived,
    ProtocolViolated,
    RetransmissionGaveUp,
    SessionStarted,
    TerminalResized,
)
from ecs_exec.datachannel.message import (
    ClientMessage,
    MalformedMessage,
    MessageType,
    PayloadType,
    decode,
    encode,
    validate,
)
from ecs_exec.datachannel.payloads import Flag
from ecs_exec.datachannel.retransmit import OutgoingBuffer, RetransmitPolicy, RttEstimator

__all__ = [
    "ChannelClosed",
    "CipherPair",
    "ClientMessage",
    "DataChannel",
    "DataKeyReceived",
    "EncryptionKeyRequested",
    "Event",
    "Flag",
    "FlagReceived",
    "HandshakeCompleted",
    "InputReceived",
    "MalformedMessage",
    "MessageType",
    "OutgoingBuffer",
    "OutputReceived",
    "PayloadType",
    "ProtocolViolated",
    "RetransmissionGaveUp",
    "RetransmitPolicy",
    "RttEstimator",
    "SessionStarted",
    "Side",
    "State",
    "TerminalResized",
    "decode",
    "encode",
    "validate",
]
