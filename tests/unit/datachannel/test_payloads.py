"""Byte-exact JSON payloads (docs/protocol.md#5-message-types, #9-handshake, #10-encryption,
#11-terminal-size-and-flags) and their validation."""

from __future__ import annotations

import pytest

from ecs_exec.datachannel import handshake_payloads as hp, payloads as pl
from ecs_exec.errors import LocalProtocolError, RemoteProtocolError


def test_handshake_request_as_the_agent_sends_it() -> None:
    request = hp.HandshakeRequest.build(
        agent_version="3.3.40.0",
        session_type="InteractiveCommands",
        kms_key_id="k",
        challenge=b"\x00" * 16,
    )
    assert request.to_bytes() == (
        b'{"AgentVersion":"3.3.40.0","RequestedClientActions":[{"ActionType":"SessionType",'
        b'"ActionParameters":{"SessionType":"InteractiveCommands","Properties":null}},'
        b'{"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":"k",'
        b'"Challenge":"AAAAAAAAAAAAAAAAAAAAAA=="}}]}'
    )
    assert hp.parse_handshake_request(request.to_bytes()) == request
    no_challenge = hp.HandshakeRequest.build(agent_version="1", session_type="Port", kms_key_id="k")
    assert no_challenge.actions[1].action_parameters == {"KMSKeyId": "k"}
    assert hp.parse_handshake_request(b"{}") == hp.HandshakeRequest("", ())


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"{bad",
        b"\xff",
        b'{"AgentVersion":3}',
        b'{"RequestedClientActions":{"a":1}}',
        b'{"RequestedClientActions":[1]}',
        b'{"RequestedClientActions":[{"ActionType":null}]}',
    ],
)
def test_bad_handshake_requests(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        hp.parse_handshake_request(payload)


def test_handshake_response_exact_bytes_and_parse() -> None:
    ok = hp.HandshakeResponse("1.2.677.0", (hp.ProcessedClientAction.session_type_ok(),))
    assert ok.to_bytes() == (
        b'{"ClientVersion":"1.2.677.0","ProcessedClientActions":[{"ActionType":"SessionType",'
        b'"ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}'
    )
    kms = hp.ProcessedClientAction.kms_ok(b"blob")
    both = hp.HandshakeResponse("v", (hp.ProcessedClientAction.session_type_ok(), kms))
    parsed = hp.parse_handshake_response(both.to_bytes())
    assert parsed == both
    assert parsed.kms_ciphertext() == b"blob"
    assert parsed.succeeded("SessionType")
    assert ok.kms_ciphertext() is None
    empty = hp.HandshakeResponse("v", ())
    assert empty.to_bytes() == b'{"ClientVersion":"v","ProcessedClientActions":[],"Errors":null}'
    bad = hp.HandshakeResponse("v", (hp.ProcessedClientAction("KMSEncryption", 1, 5),))
    with pytest.raises(RemoteProtocolError):
        bad.kms_ciphertext()
    bad64 = hp.HandshakeResponse(
        "v", (hp.ProcessedClientAction("KMSEncryption", 1, {"KMSCipherTextKey": "!!"}),)
    )
    with pytest.raises(RemoteProtocolError, match="base64"):
        bad64.kms_ciphertext()


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ProcessedClientActions":{"a":1}}',
        b'{"Errors":{"a":1}}',
        b'{"ProcessedClientActions":[1]}',
        b'{"ProcessedClientActions":[{"ActionType":"a","ActionStatus":true}]}',
    ],
)
def test_bad_handshake_responses(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        hp.parse_handshake_response(payload)


def test_go_style_html_escaping() -> None:
    action = hp.ProcessedClientAction.unsupported("<&>")
    body = hp.HandshakeResponse("v", (action,), (action.error,)).to_bytes()
    assert b"\\u003c\\u0026\\u003e" in body
    assert b"<" not in body


def test_handshake_complete() -> None:
    done = hp.HandshakeComplete(123, hp.KMS_CUSTOMER_MESSAGE)
    assert done.to_bytes() == (
        b'{"HandshakeTimeToComplete":123,"CustomerMessage":'
        b'"This session is encrypted using AWS KMS."}'
    )
    assert hp.parse_handshake_complete(done.to_bytes()) == done
    assert hp.parse_handshake_complete(b"{}") == hp.HandshakeComplete(0, "")
    for bad in (
        b'{"HandshakeTimeToComplete":"1"}',
        b'{"HandshakeTimeToComplete":true}',
        b'{"CustomerMessage":1}',
    ):
        with pytest.raises(RemoteProtocolError):
            hp.parse_handshake_complete(bad)


def test_acknowledge_parse_fast_and_slow_paths() -> None:
    assert pl.parse_acknowledge(b'{"AcknowledgedMessageSequenceNumber":4}') == 4
    assert pl.parse_acknowledge(b'{"AcknowledgedMessageSequenceNumber": 4, "X": 1}') == 4
    for bad in (
        b"{}",
        b'{"AcknowledgedMessageSequenceNumber":"4"}',
        b'{"AcknowledgedMessageSequenceNumber":true}',
        b"[]",
    ):
        with pytest.raises(RemoteProtocolError):
            pl.parse_acknowledge(bad)


def test_channel_closed_payload() -> None:
    content = pl.ChannelClosedContent("m", "2024-01-01T00:00:00.000Z", "d", "s", "bye")
    assert content.to_bytes() == (
        b'{"MessageId":"m","CreatedDate":"2024-01-01T00:00:00.000Z","DestinationId":"d",'
        b'"SessionId":"s","MessageType":"channel_closed","SchemaVersion":1,"Output":"bye"}'
    )
    assert pl.parse_channel_closed(content.to_bytes()) == "bye"
    assert pl.parse_channel_closed(b'{"Output":null}') == ""
    with pytest.raises(RemoteProtocolError):
        pl.parse_channel_closed(b'{"Output":1}')


def test_challenge_size_and_flag() -> None:
    assert hp.challenge_payload(b"\x01\x02") == b'{"Challenge":"AQI="}'
    assert hp.parse_challenge(b'{"Challenge":"AQI="}') == b"\x01\x02"
    assert pl.size_payload(80, 24) == b'{"cols":80,"rows":24}'
    assert pl.parse_size(b'{"cols":80,"rows":24}') == (80, 24)
    with pytest.raises(RemoteProtocolError):
        pl.parse_size(b'{"cols":true,"rows":24}')
    with pytest.raises(LocalProtocolError):
        pl.size_payload(2**32, 1)
    assert pl.flag_payload(pl.Flag.TERMINATE_SESSION) == b"\x00\x00\x00\x02"
    assert pl.parse_flag(b"\x00\x00\x00\x03") == pl.Flag.CONNECT_TO_PORT_ERROR
    with pytest.raises(LocalProtocolError):
        pl.flag_payload(-1)
    with pytest.raises(RemoteProtocolError):
        pl.parse_flag(b"\x00")


def test_open_data_channel_frame() -> None:
    assert pl.open_data_channel_frame(
        request_id="r", token="t", client_id="c", client_version="1.2.677.0"
    ) == (
        '{"MessageSchemaVersion":"1.0","RequestId":"r","TokenValue":"t","ClientId":"c",'
        '"ClientVersion":"1.2.677.0"}'
    )
