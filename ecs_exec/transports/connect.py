"""Opening the data channel's websocket, and naming every way that can fail.

The boundary between websockets/socket/ssl exceptions and ecs-exec's exception tree, as
httpx's ``map_httpcore_exceptions`` is for httpcore: :func:`open_websocket` raises only
:class:`~ecs_exec.errors.StreamConnectError` (or ConfigurationError for a malformed stream
URL or proxy setting); anything else escaping it is a bug, not a network condition.

Whether to try again is a pure function of the error (``StreamConnectError.retryable``, as
websockets' ``asyncio/client.py`` ``process_exception``), and the delays between attempts
come from the pure generator :func:`backoff` (websockets ``client.py`` ``backoff``).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ecs_exec import __version__
from ecs_exec.errors import (
    ConfigurationError,
    EcsExecError,
    StreamConnectError,
    StreamTokenRejectedError,
)
from ecs_exec.transports.urls import is_loopback_url

#: websockets' ``open_timeout``: TCP, proxy, TLS and the HTTP upgrade together.
CONNECT_TIMEOUT = 20.0
#: The close code the service uses for a refused OpenDataChannel frame (policy violation).
POLICY_VIOLATION = 1008

_NETWORK_HINT = (
    "check that this machine can reach {host} (firewall, proxy settings; from a private "
    "subnet an ssmmessages VPC endpoint is needed)"
)
_TOKEN_HINT = "the stream token expired or was already used; start a new session"


def backoff(initial: float = 0.1, factor: float = 2.0, max_delay: float = 2.0) -> Iterator[float]:
    """Delays between reconnect attempts: ``initial``, then multiplied by ``factor`` up to
    ``max_delay`` (endless; the caller bounds the attempts)."""
    delay = initial
    while True:
        yield delay
        delay = min(delay * factor, max_delay)


def describe_endpoint(url: str) -> tuple[str, str]:
    """``(host, "host:port")`` of a stream URL, for messages (never the query string)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        port = 0
    shown = f"[{host}]" if ":" in host else host
    return host, f"{shown}:{port}"


def connect_error(
    exc: BaseException, url: str, *, timeout: float = CONNECT_TIMEOUT
) -> EcsExecError:
    """The named error for a failed websocket open (a pure function of the exception).

    Args:
        exc: what ``websockets.asyncio.client.connect`` (or the first send) raised: an
            OSError (ssl and DNS errors included), TimeoutError or a websockets exception.
        url: the stream URL.
        timeout: the connect timeout, named in the timeout message.
    """
    from websockets.exceptions import (
        InvalidHandshake,
        InvalidProxy,
        InvalidProxyStatus,
        InvalidStatus,
        InvalidURI,
        ProxyError,
    )

    host, where = describe_endpoint(url)
    network_hint = _NETWORK_HINT.format(host=host)
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (401, 403):
            return StreamTokenRejectedError(
                f"the service refused the session's stream token (HTTP {status} from {where})",
                retryable=True,
                hint=_TOKEN_HINT,
            )
        return StreamConnectError(
            f"the data channel at {where} answered HTTP {status} instead of opening a websocket",
            retryable=status >= 500 or status == 429,
            hint="try again shortly; if it persists, check proxies and firewalls on the way",
        )
    if isinstance(exc, InvalidProxyStatus):
        return StreamConnectError(
            f"the proxy refused to connect to {where} (HTTP {exc.response.status_code} to CONNECT)",
            retryable=False,
            hint=f"check HTTPS_PROXY/NO_PROXY, and that the proxy allows CONNECT to {where}",
        )
    if isinstance(exc, ProxyError):
        return StreamConnectError(
            f"the proxy failed to connect to {where}: {exc}",
            retryable=False,
            hint="check HTTPS_PROXY/NO_PROXY and the proxy",
        )
    if isinstance(exc, InvalidProxy):
        return ConfigurationError(
            f"invalid proxy setting: {exc}", hint="fix or unset HTTPS_PROXY/HTTP_PROXY"
        )
    if isinstance(exc, InvalidURI):
        return ConfigurationError(f"the stream URL is not a valid websocket URL: {exc}")
    if isinstance(exc, InvalidHandshake):
        return StreamConnectError(
            f"the websocket handshake with {where} failed: {exc}",
            retryable=True,
            hint="a proxy or firewall on the way may be interfering",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return StreamConnectError(
            f"the TLS certificate of {host} could not be verified: "
            f"{getattr(exc, 'verify_message', None) or exc}",
            retryable=False,
            hint="a proxy may be intercepting TLS; point SSL_CERT_FILE at its CA bundle",
        )
    if isinstance(exc, ssl.SSLError):
        return StreamConnectError(
            f"the TLS handshake with {where} failed: {getattr(exc, 'reason', None) or exc}",
            retryable=False,
            hint="a proxy or firewall on the way may be interfering with TLS",
        )
    if isinstance(exc, socket.gaierror):
        return StreamConnectError(
            f"cannot resolve {host}, the data channel's host ({exc.strerror or exc})",
            retryable=True,
            hint=f"check DNS and the network; {network_hint}",
        )
    if isinstance(exc, ConnectionRefusedError):
        return StreamConnectError(
            f"cannot connect to the data channel at {where}: connection refused",
            retryable=True,
            hint=network_hint,
        )
    if isinstance(exc, TimeoutError):
        return StreamConnectError(
            f"the data channel at {where} did not answer within {timeout:.0f} s",
            retryable=True,
            hint=network_hint,
        )
    if isinstance(exc, OSError):
        return StreamConnectError(
            f"cannot connect to the data channel at {where}: {exc.strerror or exc}",
            retryable=True,
            hint=network_hint,
        )
    # websockets' ConnectionClosed while the opening frame was sent.
    return StreamConnectError(
        f"the data channel at {where} closed the connection while it opened",
        retryable=True,
        hint=network_hint,
    )


def refused_token(ws: Any, url: str) -> StreamTokenRejectedError | None:
    """The error for a socket the service closed because of the OpenDataChannel frame.

    The service checks the token only after the websocket is open, and closes with a
    policy-violation code when it refuses it (expired, or a session that ended).
    """
    code = getattr(ws, "close_code", None)
    if code != POLICY_VIOLATION:
        return None
    _, where = describe_endpoint(url)
    reason = getattr(ws, "close_reason", "") or "policy violation"
    return StreamTokenRejectedError(
        f"the service refused the session's stream token ({where} closed the connection: {reason})",
        retryable=True,
        hint=_TOKEN_HINT,
    )


async def open_websocket(
    url: str, opening_frame: str, *, connect_timeout: float = CONNECT_TIMEOUT
) -> Any:
    """Dial the stream URL verbatim and send the OpenDataChannel frame.

    HTTPS_PROXY/HTTP_PROXY are honoured (websockets reads them), but loopback is never
    proxied, as gorilla's dialer in the official plugin does.

    Returns:
        The open ``websockets.asyncio.client.ClientConnection``.

    Raises:
        StreamConnectError: refused, DNS, TLS, proxy, timeout or an HTTP status.
        ConfigurationError: a malformed stream URL or proxy setting.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    try:
        ws = await asyncio.wait_for(
            connect(
                url,
                max_size=None,
                compression=None,
                # Keepalive is the caller's: websockets' own would count a stall of ours
                # (a slow local consumer, so the socket is not read) as a dead connection.
                ping_interval=None,
                open_timeout=connect_timeout,
                user_agent_header=f"ecs-exec/{__version__}",
                proxy=None if is_loopback_url(url) else True,
            ),
            timeout=connect_timeout + 1,
        )
        await ws.send(opening_frame)
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise connect_error(exc, url, timeout=connect_timeout) from exc
    return ws


__all__ = [
    "CONNECT_TIMEOUT",
    "backoff",
    "connect_error",
    "describe_endpoint",
    "open_websocket",
    "refused_token",
]
