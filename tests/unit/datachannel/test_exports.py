"""The public surface of ecs_exec.datachannel (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import ecs_exec.datachannel as ssm

EXPECTED = {
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
}


def test_exported_names() -> None:
    assert set(ssm.__all__) == EXPECTED
    for name in ssm.__all__:
        assert getattr(ssm, name) is not None
    public = {n for n in dir(ssm) if not n.startswith("_")}
    modules = {
        "agent",
        "annotations",
        "channel",
        "client",
        "crypto",
        "events",
        "handshake",
        "handshake_payloads",
        "incoming",
        "message",
        "payloads",
        "retransmit",
        "state",
    }
    assert public - modules == EXPECTED
