"""Mapping websocket/network failures to named errors, and the reconnect backoff."""

from __future__ import annotations

import itertools
import socket
import ssl

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import (
    ConnectionClosedError,
    InvalidMessage,
    InvalidProxy,
    InvalidProxyStatus,
    InvalidStatus,
    InvalidURI,
)
from websockets.http11 import Response

from ecs_exec.errors import ConfigurationError, StreamConnectError, StreamTokenRejectedError
from ecs_exec.transports.connect import (
    backoff,
    connect_error,
    describe_endpoint,
    refused_token,
)

URL = "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s-1?role=publish_subscribe"
WHERE = "ssmmessages.eu-west-1.amazonaws.com:443"


def response(status: int) -> Response:
    return Response(status, "x", Headers())


def cert_error() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "self-signed certificate in certificate chain"
    return exc


CASES = [
    (InvalidStatus(response(403)), StreamTokenRejectedError, True, ["stream token", "HTTP 403"]),
    (InvalidStatus(response(401)), StreamTokenRejectedError, True, ["HTTP 401"]),
    (InvalidStatus(response(502)), StreamConnectError, True, ["answered HTTP 502", WHERE]),
    (InvalidStatus(response(404)), StreamConnectError, False, ["answered HTTP 404"]),
    (InvalidProxyStatus(response(407)), StreamConnectError, False, ["proxy refused", "407"]),
    (InvalidMessage("did not receive a valid HTTP response"), StreamConnectError, True, []),
    (cert_error(), StreamConnectError, False, ["certificate", "self-signed"]),
    (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER]"), StreamConnectError, False, ["TLS"]),
    (socket.gaierror(-2, "Name or service not known"), StreamConnectError, True, ["resolve"]),
    (ConnectionRefusedError(111, "Connection refused"), StreamConnectError, True, ["refused"]),
    (TimeoutError(), StreamConnectError, True, ["did not answer within 20 s"]),
    (OSError(101, "Network is unreachable"), StreamConnectError, True, ["unreachable"]),
    (ConnectionClosedError(None, None), StreamConnectError, True, ["closed the connection"]),
]


@pytest.mark.parametrize(("exc", "kind", "retryable", "needles"), CASES)
def test_every_failure_is_named(exc, kind, retryable, needles) -> None:
    error = connect_error(exc, URL)
    assert type(error) is kind
    assert isinstance(error, StreamConnectError)
    assert error.retryable is retryable
    assert error.hint
    text = str(error)
    assert "\n" not in text
    assert "report" not in text
    assert "role=" not in text  # the query string stays out of messages
    for needle in needles:
        assert needle in text


@pytest.mark.parametrize("exc", [InvalidURI("ws//x", "no scheme"), InvalidProxy("x", "bad")])
def test_bad_urls_and_proxy_settings_are_configuration_errors(exc) -> None:
    assert isinstance(connect_error(exc, URL), ConfigurationError)


def test_describe_endpoint() -> None:
    assert describe_endpoint(URL) == ("ssmmessages.eu-west-1.amazonaws.com", WHERE)
    assert describe_endpoint("ws://127.0.0.1:8080/x") == ("127.0.0.1", "127.0.0.1:8080")
    assert describe_endpoint("wss://[::1]/x") == ("::1", "[::1]:443")


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = list(itertools.islice(backoff(0.1, 2.0, 1.0), 6))
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


class Closed:
    def __init__(self, code: int | None, reason: str = "") -> None:
        self.close_code = code
        self.close_reason = reason


def test_a_policy_violation_close_is_a_refused_token() -> None:
    error = refused_token(Closed(1008, "invalid token"), URL)
    assert isinstance(error, StreamTokenRejectedError)
    assert "invalid token" in str(error)
    assert refused_token(Closed(1006), URL) is None
    assert refused_token(Closed(None), URL) is None
