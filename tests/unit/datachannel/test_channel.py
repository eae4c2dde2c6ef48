"""ClientChannel and AgentChannel on a virtual clock, over a lossy link."""

from __future__ import annotations

import json
import logging
import random

import pytest

from ecs_exec.datachannel import client as channel_module, incoming as incoming_module
from ecs_exec.datachannel.channel import Side
from ecs_exec.datachannel.client import ClientChannel
from ecs_exec.datachannel.crypto import CipherPair
from ecs_exec.datachannel.events import (
    ChannelClosed,
    DataKeyReceived,
    EncryptionKeyRequested,
    FlagReceived,
    HandshakeCompleted,
    InputReceived,
    OutputReceived,
    ProtocolViolated,
    RetransmissionGaveUp,
    SessionStarted,
    TerminalResized,
)
from ecs_exec.datachannel.message import MessageIdSource, PayloadType, decode, encode_fields
from ecs_exec.datachannel.payloads import Flag
from ecs_exec.datachannel.retransmit import RetransmitPolicy
from ecs_exec.datachannel.state import CLIENT_TRANSITIONS, State, Trigger
from ecs_exec.errors import (
    HandshakeError,
    InvalidStateError,
    LocalProtocolError,
    RemoteProtocolError,
)
from tests.unit.datachannel.helpers import DATA_KEY, DATA_KEY_BLOB, Pair, make

KMS_KEY = "arn:aws:kms:eu-west-1:111122223333:key/abc"
IDS = MessageIdSource()


def frame(mtype: str, seq: int, ptype: int, payload: bytes, created: int = 5) -> bytes:
    return encode_fields(
        mtype,
        sequence_number=seq,
        flags=0,
        message_id=IDS.raw(),
        payload_type=ptype,
        payload=payload,
        created_date=created,
    )


def out(seq: int, payload: bytes, ptype: int = 1) -> bytes:
    return frame("output_stream_data", seq, ptype, payload)


def acks(frames: list[bytes]) -> list[int]:
    result = []
    for f in frames:
        msg = decode(f)
        if msg.message_type == "acknowledge":
            result.append(json.loads(msg.payload)["AcknowledgedMessageSequenceNumber"])
    return result


def stream(frames: list[bytes]) -> list[tuple[int, int, bytes]]:
    msgs = [decode(f) for f in frames]
    return [
        (m.sequence_number, m.payload_type, m.payload)
        for m in msgs
        if m.sequence_number >= 0 and m.message_type.endswith("_stream_data")
    ]


def joined(events: list[object], kind: type) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, kind))  # type: ignore[attr-defined]


# ------------------------------------------------------------------ start-up paths


def test_legacy_start_first_output_starts_the_session() -> None:
    pair = Pair()
    pair.agent.send_output(b"hello", now=0.0)
    pair.agent.send_output(b" world", now=0.0)
    first, second = pair.agent.data_to_send()
    assert decode(first).flags == 1  # SYN on the agent's first message
    assert decode(second).flags == 0
    pair.client.receive_message(first, now=0.0)
    pair.client.receive_message(second, now=0.0)
    assert pair.client.events_received() == [
        SessionStarted("Standard_Stream", "", False, ""),
        OutputReceived(b"hello", PayloadType.OUTPUT),
        OutputReceived(b" world", PayloadType.OUTPUT),
    ]
    assert pair.client.state is State.OPEN
    assert acks(pair.client.data_to_send()) == [0, 1]


def test_ack_envelope() -> None:
    # CreatedDate comes from the wall clock, never from the monotonic ``now``.
    client = make(Side.CLIENT, wall_clock=lambda: 1.0)
    client.receive_message(out(0, b"x"), now=5000.0)
    ack = decode(client.data_to_send()[0])
    assert (ack.message_type, ack.sequence_number, ack.flags, ack.payload_type) == (
        "acknowledge",
        0,
        3,
        0,
    )
    body = json.loads(ack.payload)
    assert list(body) == [
        "AcknowledgedMessageType",
        "AcknowledgedMessageId",
        "AcknowledgedMessageSequenceNumber",
        "IsSequentialMessage",
    ]
    assert ack.created_date == 1000


def test_input_before_output_is_sent_and_delivered() -> None:
    pair = Pair()
    pair.client.send_input(b"cat\n", now=0.0)
    pair.run(idle=lambda: pair.client.all_input_acknowledged)
    assert joined(pair.take(Side.AGENT), InputReceived) == b"cat\n"
    assert pair.client.next_sequence_number == 1
    assert pair.client.state is State.STARTING
    sent = decode(pair.links[Side.CLIENT].sent[0])
    assert (sent.message_type, sent.sequence_number, sent.flags) == ("input_stream_data", 0, 0)


def test_stderr_and_exit_code_are_output() -> None:
    client = make(Side.CLIENT)
    client.receive_message(out(0, b"err", 11), now=0.0)
    client.receive_message(out(1, b"EXIT_CODE: 3", 12), now=0.0)
    events = client.events_received()
    assert events[1:] == [
        OutputReceived(b"err", PayloadType.STDERR),
        OutputReceived(b"EXIT_CODE: 3", PayloadType.EXIT_CODE),
    ]


# ------------------------------------------------------------------ reliability


def test_two_megabytes_each_way_under_loss_duplication_and_reordering() -> None:
    pair = Pair(seed=7, loss=0.1, duplicate=0.05, jitter=0.05, delay=0.02)
    rng = random.Random(3)
    down = rng.randbytes(2 * 1024 * 1024)
    up = rng.randbytes(2 * 1024 * 1024)
    pair.agent.send_output(b"$ ", now=0.0)
    for i in range(0, len(down), 1024):
        pair.agent.send_output(down[i : i + 1024], now=0.0)
    pair.client.send_input(up, now=0.0)
    assert pair.client.input_buffered > 0  # the window holds most of it back
    pair.run(idle=lambda: pair.client.all_input_acknowledged and pair.agent.all_input_acknowledged)
    client_events = pair.take(Side.CLIENT)
    assert joined(client_events, OutputReceived) == b"$ " + down
    assert joined(pair.take(Side.AGENT), InputReceived) == up
    assert sum(isinstance(e, SessionStarted) for e in client_events) == 1
    limit = channel_module.DEFAULT_MAX_IN_FLIGHT * (1024 + 120)
    assert 0 < pair.max_in_flight_seen <= limit
    assert pair.client.input_buffered == 0


def test_duplicates_are_re_acked_but_not_delivered() -> None:
    client = make(Side.CLIENT)
    f0 = out(0, b"a")
    client.receive_message(f0, now=0.0)
    client.events_received()
    assert acks(client.data_to_send()) == [0]
    client.receive_message(f0, now=0.1)
    assert acks(client.data_to_send()) == [0]
    assert client.events_received() == []


def test_early_messages_are_acked_buffered_and_delivered_in_order() -> None:
    client = make(Side.CLIENT)
    f1, f2 = out(1, b"b"), out(2, b"c")
    client.receive_message(f2, now=0.0)
    client.receive_message(f1, now=0.0)
    client.receive_message(f1, now=0.0)  # duplicate of a buffered message
    assert acks(client.data_to_send()) == [2, 1, 1]
    assert client.events_received() == []
    client.receive_message(out(0, b"a"), now=0.0)
    assert joined(client.events_received(), OutputReceived) == b"abc"
    assert client.expected_sequence_number == 3


def test_reorder_buffer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incoming_module, "INCOMING_MESSAGE_BUFFER_CAPACITY", 1)
    client = make(Side.CLIENT)
    client.receive_message(out(1, b"b"), now=0.0)
    client.receive_message(out(2, b"c"), now=0.0)
    assert acks(client.data_to_send()) == [1]  # seq 2 dropped without an ack


def test_invalid_frames_are_dropped_without_ack() -> None:
    client = make(Side.CLIENT)
    bad = bytearray(out(0, b"abc"))
    bad[-1] ^= 1
    client.receive_message(bytes(bad), now=0.0)
    client.receive_message(b"short", now=0.0)
    client.receive_message(frame("output_stream_data", 0, 1, b"x", created=0), now=0.0)
    assert client.data_to_send() == []
    assert client.events_received() == []
    assert client.state is State.STARTING


def test_publication_unknown_types_and_bad_acks_are_ignored() -> None:
    client = make(Side.CLIENT)
    client.send_input(b"x", now=0.0)
    client.data_to_send()
    for f in (
        frame("start_publication", 0, 0, b""),
        frame("pause_publication", 0, 0, b""),
        frame("agent_session_state", 0, 0, b"{}"),
        frame("acknowledge", 0, 0, b"not json"),
        frame("acknowledge", 0, 0, b'{"AcknowledgedMessageSequenceNumber": 99}'),
    ):
        client.receive_message(f, now=0.0)
    assert client.data_to_send() == []
    assert client.events_received() == []
    assert client.messages_in_flight == 1
    bad_ack = bytearray(frame("acknowledge", 0, 0, b"{}"))
    bad_ack[-1] ^= 1
    client.receive_message(bytes(bad_ack), now=0.0)
    assert client.state is State.STARTING


def test_client_retransmits_all_overdue_and_rto_adapts() -> None:
    client = make(Side.CLIENT)
    assert client.get_timer() is None
    client.send_input(b"a", now=0.0)
    client.send_input(b"b", now=0.05)
    first = client.data_to_send()
    assert client.get_timer() == pytest.approx(0.2)
    client.handle_timer(now=0.2)
    assert client.data_to_send() == first[:1]
    client.handle_timer(now=0.25)
    assert client.data_to_send() == first[1:]
    client.receive_message(frame("acknowledge", 0, 0, ack_body(0)), now=0.3)
    assert client.messages_in_flight == 1
    assert client.retransmission_timeout != pytest.approx(0.2)


def ack_body(seq: int, mtype: str = "input_stream_data") -> bytes:
    return json.dumps(
        {
            "AcknowledgedMessageType": mtype,
            "AcknowledgedMessageId": "dd01e56b-ff48-483e-a508-b5f073f31b16",
            "AcknowledgedMessageSequenceNumber": seq,
            "IsSequentialMessage": True,
        },
        separators=(",", ":"),
    ).encode()


def test_window_bounds_bytes_in_flight_and_queues_the_rest() -> None:
    pair = Pair(client=make(Side.CLIENT, max_in_flight=4))
    pair.links[Side.CLIENT].drop_next = 10**9
    data = bytes(100 * 1024)
    pair.client.send_input(data, now=0.0)
    pair.run(until=3.0)
    assert pair.client.messages_in_flight == 4
    assert pair.client.bytes_in_flight == 4 * (1024 + 120)
    assert pair.client.input_buffered == len(data) - 4 * 1024
    assert not pair.client.all_input_acknowledged
    pair.links[Side.CLIENT].drop_next = 0
    pair.run(idle=lambda: pair.client.all_input_acknowledged)
    assert joined(pair.take(Side.AGENT), InputReceived) == data
    assert pair.max_in_flight_seen <= 4 * (1024 + 120)


def test_agent_resends_only_the_oldest_each_tick() -> None:
    agent = make(Side.AGENT)
    agent.send_output(b"a", now=0.0)
    agent.send_output(b"b", now=0.0)
    sent = agent.data_to_send()
    assert agent.get_timer() == pytest.approx(0.3)  # first 100 ms tick strictly after the RTO
    agent.handle_timer(now=0.3)
    assert agent.data_to_send() == sent[:1]
    assert agent.get_timer() == pytest.approx(0.4)


def test_give_up_is_reported_once() -> None:
    pair = Pair(client=make(Side.CLIENT, max_resends=3))
    pair.links[Side.CLIENT].drop_next = 10**9
    pair.client.send_input(b"x", now=0.0)
    pair.run(until=30.0)
    events = pair.take(Side.CLIENT)
    assert events == [RetransmissionGaveUp(0, 3)]
    assert pair.client.get_timer() is None
    pair.client.handle_timer(now=40.0)
    assert pair.client.events_received() == []


# ------------------------------------------------------------------ handshake


def test_handshake_without_kms_end_to_end() -> None:
    pair = Pair()
    pair.agent.start_handshake(now=0.0)
    pair.run(idle=lambda: pair.client.state is State.OPEN and pair.agent.all_input_acknowledged)
    events = pair.take(Side.CLIENT)
    assert events[0] == HandshakeCompleted(events[0].time_to_complete_ns, "")  # type: ignore[attr-defined]
    assert events[1] == SessionStarted("InteractiveCommands", "3.3.40.0", False, "")
    assert isinstance(pair.take(Side.AGENT)[0], HandshakeCompleted)
    assert pair.agent.state is State.OPEN
    response = [m for m in stream(pair.links[Side.CLIENT].sent) if m[1] == 6]
    assert response == [
        (
            0,
            6,
            b'{"ClientVersion":"1.2.677.0","ProcessedClientActions":[{"ActionType":"SessionType",'
            b'"ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}',
        )
    ]
    # The HandshakeRequest is acked before the response is sent (streaming.go).
    msgs = [decode(f) for f in pair.links[Side.CLIENT].sent]
    assert [m.message_type for m in msgs[:2]] == ["acknowledge", "input_stream_data"]
    pair.agent.send_output(b"hi", now=pair.now)
    pair.client.send_terminal_size(80, 24, now=pair.now)
    pair.run(idle=lambda: pair.client.all_input_acknowledged and pair.agent.all_input_acknowledged)
    assert pair.take(Side.CLIENT) == [OutputReceived(b"hi")]
    assert pair.take(Side.AGENT) == [TerminalResized(80, 24)]


def test_handshake_with_kms_end_to_end() -> None:
    pair = Pair(seed=3, loss=0.2, jitter=0.02)
    pair.agent.start_handshake(kms_key_id=KMS_KEY, now=0.0)
    pair.client.send_input(b"typed early", now=0.0)  # before the request: the agent drops it
    pair.run(idle=lambda: bool(pair.events[Side.CLIENT]))
    assert pair.take(Side.CLIENT) == [
        EncryptionKeyRequested(
            KMS_KEY,
            {"aws:ssm:SessionId": "sess-1", "aws:ssm:TargetId": "ecs:cluster_task_runtime"},
        )
    ]
    pair.client.send_input(b"held", now=pair.now)
    assert pair.client.input_buffered == 4
    pair.client.provide_data_key(DATA_KEY, DATA_KEY_BLOB, now=pair.now)
    pair.run(idle=lambda: bool(pair.events[Side.AGENT]))
    assert pair.take(Side.AGENT) == [DataKeyReceived(DATA_KEY_BLOB)]
    pair.agent.provide_data_key(DATA_KEY, DATA_KEY_BLOB, now=pair.now)
    pair.run(idle=lambda: pair.client.state is State.OPEN)
    events = pair.take(Side.CLIENT)
    assert events[-1] == SessionStarted(
        "InteractiveCommands", "3.3.40.0", True, "This session is encrypted using AWS KMS."
    )
    assert pair.client.encrypted
    assert pair.agent.encrypted
    pair.agent.send_output(b"secret output", now=pair.now)
    pair.run(idle=lambda: pair.client.all_input_acknowledged and pair.agent.all_input_acknowledged)
    assert joined(pair.take(Side.CLIENT), OutputReceived) == b"secret output"
    assert joined(pair.take(Side.AGENT), InputReceived) == b"held"
    wire = b"".join(pair.links[Side.AGENT].sent + pair.links[Side.CLIENT].sent)
    assert b"secret output" not in wire
    assert b"held" not in wire
    kms = [m for m in stream(pair.links[Side.CLIENT].sent) if m[1] == 6][0][2]
    assert (
        b'{"ActionType":"KMSEncryption","ActionStatus":1,"ActionResult":{"KMSCipherTextKey":'
        b'"ZmFrZS1rbXMtY2lwaGVydGV4dC1ibG9i","KMSCipherTextHash":null},"Error":""}' in kms
    )


def test_client_handshake_failures_answer_like_the_plugin() -> None:
    client = make(Side.CLIENT)
    request = (
        b'{"AgentVersion":"3.3.40.0","RequestedClientActions":['
        b'{"ActionType":"SessionType","ActionParameters":{"SessionType":"Bogus"}},'
        b'{"ActionType":"Bogus","ActionParameters":null},'
        b'{"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":""}}]}'
    )
    client.receive_message(out(0, request, 5), now=0.0)
    response = decode(client.data_to_send()[1]).payload
    assert json.loads(response) == {
        "ClientVersion": "1.2.677.0",
        "ProcessedClientActions": [
            {
                "ActionType": "SessionType",
                "ActionStatus": 2,
                "ActionResult": None,
                "Error": "Failed to process action SessionType: Unknown session type Bogus",
            },
            {
                "ActionType": "Bogus",
                "ActionStatus": 0,
                "ActionResult": 3,
                "Error": "Unsupported action Bogus",
            },
            {
                "ActionType": "KMSEncryption",
                "ActionStatus": 2,
                "ActionResult": None,
                "Error": "Failed to process action KMSEncryption: invalid KMSKeyId",
            },
        ],
        "Errors": [
            "Failed to process action SessionType: Unknown session type Bogus",
            "Unsupported action Bogus",
            "Failed to process action KMSEncryption: invalid KMSKeyId",
        ],
    }
    client.receive_message(out(1, b'{"HandshakeTimeToComplete":5,"CustomerMessage":""}', 7), now=0)
    events = client.events_received()
    assert isinstance(events[-1], ProtocolViolated)
    assert isinstance(events[-1].error, HandshakeError)
    assert client.state is State.CLOSED


def test_client_rejects_data_key_and_ignores_repeated_request() -> None:
    client = make(Side.CLIENT)
    req = (
        b'{"AgentVersion":"3.3.40.0","RequestedClientActions":['
        b'{"ActionType":"SessionType","ActionParameters":{"SessionType":"Port","Properties":{}}},'
        b'{"ActionType":"KMSEncryption","ActionParameters":{"KMSKeyId":"k"}}]}'
    )
    client.receive_message(out(0, req, 5), now=0.0)
    assert acks(client.data_to_send()) == [0]
    client.reject_data_key("AccessDenied", now=0.0)
    body = json.loads(decode(client.data_to_send()[0]).payload)
    assert body["ProcessedClientActions"][1]["Error"] == (
        "Failed to process action KMSEncryption: AccessDenied"
    )
    with pytest.raises(InvalidStateError):
        client.reject_data_key("again", now=0.0)
    with pytest.raises(InvalidStateError):
        client.provide_data_key(DATA_KEY, DATA_KEY_BLOB, now=0.0)
    client.receive_message(out(1, req, 5), now=0.0)  # never redo a handshake
    assert acks(client.data_to_send()) == [1]
    client.receive_message(
        out(2, b'{"HandshakeTimeToComplete":1,"CustomerMessage":"hi"}', 7), now=0.0
    )
    assert client.events_received()[-1] == SessionStarted("Port", "3.3.40.0", False, "hi")
    client.receive_message(out(3, b'{"HandshakeTimeToComplete":1}', 7), now=0.0)
    assert client.events_received() == []


@pytest.mark.parametrize(
    ("seq0", "later"),
    [
        ((5, b"not json"), None),
        ((7, b'{"HandshakeTimeToComplete":1.5}'), None),
        ((8, b'{"Challenge":"AAAA"}'), None),
        ((1, b"\x00" * 40), None),
    ],
)
def test_client_protocol_violations_close_the_channel(
    seq0: tuple[int, bytes], later: object
) -> None:
    client = make(Side.CLIENT, logger=logging.getLogger("test.ssm"))
    if seq0[0] == 1:
        # Encrypted session, undecryptable output.
        client._cipher = CipherPair.from_data_key(
            DATA_KEY, client=True, nonce_source=lambda n: bytes(n)
        )
    client.receive_message(out(0, seq0[1], seq0[0]), now=0.0)
    events = client.events_received()
    assert isinstance(events[-1], ProtocolViolated)
    assert isinstance(events[-1].error, RemoteProtocolError | HandshakeError)
    assert client.state is State.CLOSED
    client.receive_message(out(1, b"x"), now=0.0)
    assert client.events_received() == []
    assert client.get_timer() is None


def test_agent_handshake_failures() -> None:
    agent = make(Side.AGENT)
    agent.start_handshake(kms_key_id=KMS_KEY, now=0.0)
    inp = lambda seq, pt, body: frame("input_stream_data", seq, pt, body)  # noqa: E731
    agent.receive_message(inp(0, 1, b"dropped during the handshake"), now=0.0)
    assert agent.events_received() == []
    refused = (
        b'{"ClientVersion":"1","ProcessedClientActions":[{"ActionType":"SessionType",'
        b'"ActionStatus":2,"ActionResult":null,"Error":"x"}],"Errors":["x"]}'
    )
    agent.receive_message(inp(1, 6, refused), now=0.0)
    assert isinstance(agent.events_received()[-1].error, HandshakeError)  # type: ignore[attr-defined]

    agent = make(Side.AGENT)
    agent.start_handshake(kms_key_id=KMS_KEY, now=0.0)
    no_key = (
        b'{"ClientVersion":"1","ProcessedClientActions":[{"ActionType":"SessionType",'
        b'"ActionStatus":1,"ActionResult":null,"Error":""}],"Errors":null}'
    )
    agent.receive_message(inp(0, 6, no_key), now=0.0)
    assert isinstance(agent.events_received()[-1], ProtocolViolated)

    agent = make(Side.AGENT)
    agent.start_handshake(kms_key_id=KMS_KEY, now=0.0)
    with_key = no_key.replace(b'"Errors"', b'"X"').replace(
        b"}],",
        b'},{"ActionType":"KMSEncryption","ActionStatus":1,"ActionResult":'
        b'{"KMSCipherTextKey":"YmxvYg=="}}],',
        1,
    )
    agent.receive_message(inp(0, 9, b'{"Challenge":"AAAA"}'), now=0.0)  # unexpected: ignored
    agent.receive_message(inp(1, 6, with_key), now=0.0)
    agent.receive_message(inp(2, 6, with_key), now=0.0)  # repeated response: ignored
    assert agent.events_received() == [DataKeyReceived(b"blob")]
    agent.provide_data_key(DATA_KEY, b"blob", now=0.5)
    wrong = CipherPair.from_data_key(DATA_KEY, client=True, nonce_source=lambda n: bytes(n))
    import base64

    body = b'{"Challenge":"%s"}' % base64.b64encode(wrong.encrypt(b"not the challenge"))
    agent.receive_message(inp(3, 9, body), now=0.0)
    assert isinstance(agent.events_received()[-1].error, HandshakeError)  # type: ignore[attr-defined]


def test_encrypted_challenge_before_key_is_a_violation() -> None:
    client = make(Side.CLIENT)
    client.receive_message(out(0, b'{"Challenge":"AAAA"}', 8), now=0.0)
    assert isinstance(client.events_received()[-1].error, HandshakeError)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ other inputs


def test_flags_sizes_and_agent_side_payloads() -> None:
    pair = Pair()
    pair.client.send_flag(Flag.TERMINATE_SESSION, now=0.0)
    pair.client.send_terminal_size(300, 100, now=0.0)
    pair.agent.send_flag(Flag.CONNECT_TO_PORT_ERROR, now=0.0)
    pair.agent.send_output(b"", now=0.0)  # nothing to send
    pair.run(idle=lambda: pair.client.all_input_acknowledged and pair.agent.all_input_acknowledged)
    assert pair.take(Side.AGENT) == [FlagReceived(2), TerminalResized(300, 100)]
    assert pair.take(Side.CLIENT) == [FlagReceived(3)]
    agent = make(Side.AGENT)
    agent.receive_message(frame("input_stream_data", 0, 4, b"ignored"), now=0.0)
    agent.receive_message(frame("input_stream_data", 1, 3, b'{"cols":-1,"rows":1}'), now=0.0)
    assert isinstance(agent.events_received()[-1], ProtocolViolated)
    client = make(Side.CLIENT)
    client.receive_message(out(0, b"ignored", 2), now=0.0)
    assert client.events_received() == []


def test_channel_closed() -> None:
    pair = Pair()
    pair.agent.send_output(b"bye", now=0.0)
    pair.run(idle=lambda: pair.agent.all_input_acknowledged)
    pair.agent.send_channel_closed("done", now=pair.now)
    assert pair.agent.state is State.CLOSED
    pair.run()
    assert pair.take(Side.CLIENT)[-1] == ChannelClosed("done")
    assert pair.client.state is State.CLOSED
    closed = decode(pair.links[Side.AGENT].sent[-1])
    body = json.loads(closed.payload)
    assert list(body) == [
        "MessageId",
        "CreatedDate",
        "DestinationId",
        "SessionId",
        "MessageType",
        "SchemaVersion",
        "Output",
    ]
    assert body["SessionId"] == "sess-1"
    assert body["CreatedDate"].endswith("Z")
    with pytest.raises(InvalidStateError):
        pair.client.send_input(b"x", now=pair.now)
    with pytest.raises(InvalidStateError):
        pair.agent.send_channel_closed(now=pair.now)
    client = make(Side.CLIENT)
    client.receive_message(frame("channel_closed", 0, 0, b"garbage"), now=0.0)
    assert client.events_received() == [ChannelClosed("")]


def test_close_is_idempotent_and_stops_timers() -> None:
    client = make(Side.CLIENT)
    client.send_input(b"x", now=0.0)
    client.close(now=0.0)
    client.close(now=0.0)
    assert client.state is State.CLOSED
    assert client.get_timer() is None
    client.handle_timer(now=5.0)


def test_wrong_side_and_wrong_state() -> None:
    client, agent = make(Side.CLIENT), make(Side.AGENT)
    # Each role has only its own inputs.
    assert not hasattr(client, "send_output") and not hasattr(client, "start_handshake")
    assert not hasattr(agent, "send_input") and not hasattr(agent, "opening_frame")
    with pytest.raises(InvalidStateError):
        agent.provide_data_key(DATA_KEY, b"", now=0.0)
    agent.start_handshake(now=0.0)
    with pytest.raises(InvalidStateError):
        agent.start_handshake(now=0.0)
    with pytest.raises(InvalidStateError):
        agent.send_output(b"x", now=0.0)
    with pytest.raises(LocalProtocolError):
        client.send_terminal_size(-1, 2, now=0.0)
    assert CLIENT_TRANSITIONS[State.CLOSED] == {Trigger.CLOSE: State.CLOSED}
    with pytest.raises(LocalProtocolError):
        client._process(Trigger.HANDSHAKE_COMPLETE)  # no such transition from STARTING
    agent.close(now=0.0)
    with pytest.raises(InvalidStateError, match="CLOSED"):
        agent.start_handshake(now=0.0)
    with pytest.raises(InvalidStateError, match="closed"):
        agent.send_flag(1, now=0.0)


def test_opening_frame() -> None:
    client = make(Side.CLIENT)
    first = json.loads(client.opening_frame())
    assert list(first) == [
        "MessageSchemaVersion",
        "RequestId",
        "TokenValue",
        "ClientId",
        "ClientVersion",
    ]
    assert first["MessageSchemaVersion"] == "1.0"
    assert first["TokenValue"] == "TOKEN"
    assert first["ClientVersion"] == "1.2.677.0"
    second = json.loads(client.opening_frame(token="NEW"))
    assert second["RequestId"] != first["RequestId"]
    assert second["ClientId"] == first["ClientId"]
    assert second["TokenValue"] == "NEW"
    assert json.loads(client.opening_frame(request_id="r"))["TokenValue"] == "NEW"
    assert client.opening_frame(request_id="r").startswith('{"MessageSchemaVersion":"1.0",')


def test_defaults_clock_and_debug_logging(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.ssm.debug")
    logger.setLevel(logging.DEBUG)
    client = ClientChannel(
        session_id="s",
        token="t",
        client_id="c",
        wall_clock=lambda: 1503434274.948,
        logger=logger,
        retransmit_policy=RetransmitPolicy.OLDEST_ONLY,
    )
    with caplog.at_level(logging.DEBUG, logger="test.ssm.debug"):
        client.receive_message(out(0, b"x"), now=0.0)
        client.receive_message(b"bad", now=0.0)
        client.send_input(b"y", now=0.0)
        client.handle_timer(now=10.0)
        client.resend_unacknowledged(now=11.0)
    assert decode(client.data_to_send()[0]).created_date == 1503434274948
    assert "output_stream_data seq=0" in caplog.text
    assert "y" not in [r.getMessage() for r in caplog.records]


def test_resend_unacknowledged_resends_all_in_flight_at_once() -> None:
    client = make(Side.CLIENT)
    client.send_input(bytes(3000), now=0.0)
    sent = client.data_to_send()
    assert len(sent) == 3
    client.resend_unacknowledged(now=0.01)  # e.g. after a resume, well before the RTO
    assert client.data_to_send() == sent  # same bytes, same MessageIds
    client.receive_message(frame("acknowledge", 0, 0, ack_body(1)), now=0.02)
    client.resend_unacknowledged(now=0.03)
    assert client.data_to_send() == [sent[0], sent[2]]
    client.close(now=0.04)
    client.resend_unacknowledged(now=0.05)
    assert client.data_to_send() == []


def test_resend_unacknowledged_reports_a_give_up() -> None:
    agent = make(Side.AGENT, max_resends=1)
    agent.send_output(b"x", now=0.0)
    agent.data_to_send()
    agent.resend_unacknowledged(now=1.0)
    assert len(agent.data_to_send()) == 1
    assert agent.events_received() == [RetransmissionGaveUp(0, 1)]
