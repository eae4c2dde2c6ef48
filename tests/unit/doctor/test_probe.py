"""The ssmmessages reachability probe on loopback: TCP, TLS (trusted and not), and an HTTPS
proxy's CONNECT (accepted and refused); proxy selection and redaction."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ecs_exec.doctor.probe import probe, proxy_for, redact

HOST = "localhost"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Server:
    """A loopback listener that runs ``handle(conn)`` for each connection, in a thread."""

    def __init__(self, handle) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self.handle(conn)
                except OSError:
                    pass

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def tls(tmp_path) -> Iterator[tuple[Server, Path]]:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        with context.wrap_socket(conn, server_side=True) as wrapped:
            wrapped.recv(1)

    server = Server(handle)
    yield server, cert
    server.close()


def test_plain_tcp_and_refused():
    server = Server(lambda conn: None)
    try:
        assert probe("127.0.0.1", server.port, tls=False, environ={}).error is None
    finally:
        server.close()
    refused = probe("127.0.0.1", server.port, tls=False, environ={})
    assert refused.step == "tcp" and refused.error


def test_tls_trusted_and_not(tls, monkeypatch):
    server, cert = tls
    untrusted = probe(HOST, server.port, tls=True, environ={})
    assert untrusted.step == "tls"
    assert "certificate" in (untrusted.error or "").lower()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what a TLS-intercepting proxy needs
    assert probe(HOST, server.port, tls=True, environ={}).error is None


def connect_proxy(answer: bytes, upstream: int | None) -> Server:
    """An HTTPS proxy that answers CONNECT with ``answer`` and then relays to ``upstream``."""

    def handle(conn: socket.socket) -> None:
        conn.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(1024)
            if not chunk:
                return
            request += chunk
        if not request.startswith(b"CONNECT ssmmessages.test:"):
            return
        conn.sendall(answer)
        if upstream is None:
            return
        with socket.create_connection(("127.0.0.1", upstream), timeout=5) as up:

            def pump(src: socket.socket, dst: socket.socket) -> None:
                try:
                    while data := src.recv(4096):
                        dst.sendall(data)
                except OSError:
                    pass

            back = threading.Thread(target=pump, args=(up, conn), daemon=True)
            back.start()
            pump(conn, up)
            back.join(5)

    return Server(handle)


def test_through_a_proxy(tls, monkeypatch):
    server, cert = tls
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    good = connect_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n", server.port)
    bad = connect_proxy(b"HTTP/1.1 403 Forbidden\r\n\r\n", None)
    try:
        # localhost is never proxied, so the target is named by another loopback name.
        environ = {"HTTPS_PROXY": f"http://u:p@127.0.0.1:{good.port}"}
        assert proxy_for(HOST, environ) is None
        result = probe("ssmmessages.test", server.port, tls=True, environ=environ)
        assert result.via_proxy == f"http://127.0.0.1:{good.port}"
        assert result.step == "tls"  # the tunnel worked; the name does not match the cert
        refused = probe(
            "ssmmessages.test", 443, tls=True, environ={"HTTPS_PROXY": f"127.0.0.1:{bad.port}"}
        )
        assert refused.step == "proxy"
        assert "403 Forbidden" in (refused.error or "")
    finally:
        good.close()
        bad.close()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://p:1"}, "http://p:1"),
        ({"https_proxy": "http://a:1", "HTTPS_PROXY": "http://b:1"}, "http://a:1"),
        ({"ALL_PROXY": "http://p:1"}, "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "amazonaws.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": ".us-east-1.amazonaws.com"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "http://p:1"),
    ],
)
def test_proxy_for(environ, expected):
    assert proxy_for("ssmmessages.us-east-1.amazonaws.com", environ) == expected


def test_redact():
    assert redact("http://user:secret@proxy:3128") == "http://proxy:3128"
    assert redact("proxy.corp:8080") == "http://proxy.corp:8080"
