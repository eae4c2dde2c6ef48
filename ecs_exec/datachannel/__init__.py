"""Sans-I/O core of the Session Manager data channel: codec, payloads, crypto, the incoming
and outgoing buffers, the state tables, and the two ends: :class:`ClientChannel` and
:class:`AgentChannel` on their shared :class:`DataChannel` core. Nothing here does I/O or reads
a clock (docs/protocol.md describes the protocol)."""

from __future__ import annotations

from ecs_exec.datachannel.agent import AgentChannel
from ecs_exec.datachannel.channel import DataChannel, Side
from ecs_exec.datachannel.client import ClientChannel
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
from ecs_exec.datachannel.incoming import IncomingBuffer
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
from ecs_exec.datachannel.state import State

__all__ = [
    "AgentChannel",
    "ChannelClosed",
    "CipherPair",
    "ClientChannel",
    "ClientMessage",
    "DataChannel",
    "DataKeyReceived",
    "EncryptionKeyRequested",
    "Event",
    "Flag",
    "FlagReceived",
    "HandshakeCompleted",
    "IncomingBuffer",
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
