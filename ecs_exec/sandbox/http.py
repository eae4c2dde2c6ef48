"""The sandbox's AWS endpoint: ``POST /`` with a JSON body and ``X-Amz-Target``, on loopback.

One endpoint serves ECS, SSM, KMS and Logs, as ``inspectapi.handle`` and ``api.handle`` dispatch
on the target prefix, and STS, IAM and EC2 (form-encoded query requests answered in XML, see
``querywire``), so a client points every service's ``endpoint_url`` at
``SandboxHttpServer.url``. S3 (REST-XML: ``HEAD``/``GET /<bucket>``, see ``s3api``) is told
apart by the ``s3`` of its SigV4 credential scope. Signatures are not checked (any
credentials work) but an ``Authorization`` header must be present, as AWS requires.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ecs_exec.sandbox import ec2api, iamapi, inspectapi, querywire, s3api
from ecs_exec.sandbox.state import SandboxState

_CONTENT_TYPE = "application/x-amz-json-1.1"
_MAX_BODY = 16 * 1024 * 1024
#: The query-protocol services (STS, IAM, EC2), answered in XML.
_QUERY_HANDLERS = {**iamapi.HANDLERS, **ec2api.HANDLERS}


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered."""

    target: str
    operation: str  #: the part after the dot, e.g. ``ListTasks``
    body: dict[str, Any]
    status: int


class RequestLog:
    """Thread-safe record of every request, for tests that count API calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """``(target, body)`` pairs in arrival order."""
        return [(r.target, r.body) for r in self.records]

    def counts(self) -> Counter[str]:
        """How many times each operation was called (failed calls included)."""
        return Counter(r.operation for r in self.records)

    def bodies(self, operation: str) -> list[dict[str, Any]]:
        return [r.body for r in self.records if r.operation == operation]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    # Headers and body go out as one segment: written separately, Nagle on this side and
    # delayed ACKs on the client's stall every response by ~40 ms.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._reply(413, {"__type": "SerializationException", "message": "Body too large"})
            self.close_connection = True
            return
        raw = self.rfile.read(length)
        # JSON requests name their operation in X-Amz-Target; query ones in the form body.
        if "X-Amz-Target" not in self.headers and querywire.is_query(
            self.headers.get("Content-Type")
        ):
            self._answer_query(raw)
            return
        target = self.headers.get("X-Amz-Target", "")
        body: dict[str, Any] = {}
        status: int
        response: dict[str, Any]
        if "Authorization" not in self.headers:
            status, response = (
                400,
                {
                    "__type": "MissingAuthenticationTokenException",
                    "message": "Request is missing Authentication Token",
                },
            )
        else:
            try:
                decoded = json.loads(raw or b"{}")
                if not isinstance(decoded, dict):
                    raise ValueError("body is not a JSON object")
                body = decoded
            except ValueError:
                status, response = (
                    400,
                    {
                        "__type": "SerializationException",
                        "message": "Start of structure or map found where not expected.",
                    },
                )
            else:
                try:
                    status, response = inspectapi.handle(target, body, self.server.state)
                except Exception as exc:  # a sandbox bug must still answer, as a 500
                    status, response = 500, {"__type": "InternalFailure", "message": repr(exc)}
        self.server.log.append(
            RequestRecord(
                target=target, operation=target.partition(".")[2], body=body, status=status
            )
        )
        self._reply(status, response)

    def _answer_query(self, raw: bytes) -> None:
        reply = querywire.handle(
            raw, self.headers.get("Authorization") or "", self.server.state, _QUERY_HANDLERS
        )
        target = f"{reply.service}.{reply.action}"
        self.server.log.append(
            RequestRecord(target, reply.action, dict(reply.params), reply.status)
        )
        self.send_response(reply.status)
        self.send_header("Content-Type", querywire.XML_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("x-amzn-RequestId", reply.request_id)
        self.end_headers()
        self.wfile.write(reply.body)

    def do_GET(self) -> None:
        if s3api.is_s3(self.headers.get("Authorization") or ""):
            self._answer_s3()
            return
        self._reply(404, {"__type": "UnknownOperationException", "message": "POST only"})

    def do_HEAD(self) -> None:
        self._answer_s3()  # only S3 has HEAD operations

    def _answer_s3(self) -> None:
        reply = s3api.handle(
            self.command, self.path, self.headers.get("Authorization") or "", self.server.state
        )
        self.server.log.append(
            RequestRecord(
                f"s3.{reply.action}", reply.action, {"Bucket": reply.bucket}, reply.status
            )
        )
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def _reply(self, status: int, response: dict[str, Any]) -> None:
        data = json.dumps(response).encode()
        self.send_response(status)
        self.send_header("Content-Type", _CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the request log is in `server.log`


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A fixed port must be re-bindable right after a previous sandbox ended.
    allow_reuse_address = True

    def __init__(self, port: int, state: SandboxState, log: RequestLog) -> None:
        self.state = state
        self.log = log
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Drop keep-alive connections, so a stopped sandbox answers nobody."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler thread


class SandboxHttpServer:
    """The AWS JSON endpoint on 127.0.0.1, served from a daemon thread.

    Args:
        state: the world to serve.
        port: 0 (default) picks a free port; read it from ``port`` or ``url`` after ``start``.
    """

    def __init__(self, state: SandboxState, *, port: int = 0) -> None:
        self.state = state
        self.log = RequestLog()
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def replace_state(self, state: SandboxState) -> None:
        """Serve another world from the next request on (tests switch worlds this way
        instead of starting a server, and clients, per world)."""
        self.state = state
        if self._server is not None:
            self._server.state = state

    def start(self) -> SandboxHttpServer:
        if self._server is not None:
            return self
        self._server = _Server(self._port, self.state, self.log)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_open_connections()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox HTTP server is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SandboxHttpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
