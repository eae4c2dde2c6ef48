"""Can this machine open the data channel's connection? TCP, then TLS, to an endpoint,
directly or through an HTTPS proxy's CONNECT, with short timeouts. Nothing is sent beyond
the handshakes (and the CONNECT line), so no credentials are involved.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT = 5.0


@dataclass(frozen=True)
class ProbeResult:
    """``error`` is None when every step worked; ``step`` names the one that failed."""

    host: str
    port: int
    tls: bool
    via_proxy: str | None
    error: str | None = None
    step: str | None = None  # dns | tcp | proxy | tls


def proxy_for(host: str, environ: Mapping[str, str]) -> str | None:
    """The proxy URL used for ``https://host`` (lower-case names first, as urllib), or None
    when there is none or NO_PROXY covers the host. Loopback is never proxied."""
    if host in {"localhost", "127.0.0.1", "::1"}:
        return None
    proxy = next(
        (
            environ[n]
            for n in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
            if environ.get(n)
        ),
        None,
    )
    if not proxy:
        return None
    no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
    for entry in (e.strip().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return proxy


def redact(url: str) -> str:
    """A proxy URL without its user and password."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def probe(host: str, port: int, *, tls: bool, environ: Mapping[str, str]) -> ProbeResult:
    """Connect (through the proxy in effect, if any) and complete a TLS handshake."""
    proxy = proxy_for(host, environ) if tls else None
    shown = redact(proxy) if proxy else None
    result = ProbeResult(host, port, tls, shown)
    try:
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if not parts.hostname:
                return _fail(result, "proxy", f"the proxy setting '{shown}' names no host")
            sock = _connect(parts.hostname, parts.port or 80)
            try:
                _tunnel(sock, host, port)
            except OSError as exc:
                sock.close()
                return _fail(result, "proxy", str(exc))
        else:
            sock = _connect(host, port)
    except socket.gaierror as exc:
        return _fail(result, "dns", f"cannot resolve the name: {exc.strerror or exc}")
    except TimeoutError:
        return _fail(result, "tcp", f"no answer within {TIMEOUT:g} s")
    except OSError as exc:
        return _fail(result, "tcp", exc.strerror or str(exc))
    with sock:
        if not tls:
            return result
        context = ssl.create_default_context()
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return result
        except (ssl.SSLError, OSError) as exc:
            return _fail(result, "tls", str(exc))


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=TIMEOUT)


def _tunnel(sock: socket.socket, host: str, port: int) -> None:
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 16384:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    if len(status.split()) < 2 or status.split()[1] != "200":
        raise OSError(f"the proxy answered CONNECT with '{status or 'nothing'}'")


def _fail(result: ProbeResult, step: str, error: str) -> ProbeResult:
    return ProbeResult(result.host, result.port, result.tls, result.via_proxy, error, step)
