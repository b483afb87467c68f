"""A loopback HTTP/1.1 server for tests, demos and your own experiments, with fault injection.

::

    with TestServer() as server:
        url = server.add("/big.bin", os.urandom(10_000_000), rate=2_000_000)
        ...
        server.requests_for("/big.bin")   # what the client sent, what it got

It listens on a loopback address only (127.0.0.1 unless told another), on a free port, over
plain HTTP or, with ``tls=True``, HTTPS with a certificate from a test authority made for this
process (:func:`ca_bundle` is its PEM file: pass it as ``DownloadQueueService(ca_bundle=...)``;
needs the ``trustme`` package). It
serves files from memory or disk, honours ``Range`` and ``If-Range``, and can misbehave on
demand: per-connection or shared rate limits, dropped connections, stalls, failures with
``Retry-After``, wrong lengths, redirects, ignored ranges, spurious 416s, any status code, or a
:class:`Fault` chosen per request by your own function.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import os
import random
import re
import select
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urljoin, urlsplit

__all__ = ["Fault", "RandomFaults", "RecordedRequest", "Resource", "TestServer", "ca_bundle"]

AUTO = "auto"


@dataclass(frozen=True)
class Fault:
    """How to misbehave for one request; build one with the class methods."""

    kind: str
    at_byte: int = 0
    seconds: float = 0.0
    status: int = 0
    retry_after: Optional[str] = None
    extra_length: int = 0
    content_range: Optional[str] = AUTO

    @classmethod
    def drop(cls, at_byte: int) -> Fault:
        """Close the connection after ``at_byte`` bytes of the body."""
        return cls("drop", at_byte=at_byte)

    @classmethod
    def stall(cls, seconds: float, at_byte: int = 0) -> Fault:
        """Send nothing for ``seconds`` after ``at_byte`` bytes of the body."""
        return cls("stall", at_byte=at_byte, seconds=seconds)

    @classmethod
    def error(cls, status: int, retry_after: Optional[str] = None) -> Fault:
        """Answer with ``status`` (and ``Retry-After``) instead of the file."""
        return cls("status", status=status, retry_after=retry_after)

    @classmethod
    def ignore_range(cls) -> Fault:
        """Answer a range request with the whole file (200)."""
        return cls("ignore_range")

    @classmethod
    def not_satisfiable(cls, content_range: Optional[str] = AUTO) -> Fault:
        """Answer a range request with 416, whatever it asked: with ``Content-Range: bytes
        */SIZE`` (the default), the ``content_range`` given, or none (None)."""
        return cls("416", content_range=content_range)

    @classmethod
    def wrong_length(cls, extra: int) -> Fault:
        """Announce ``extra`` more bytes than are sent, then close the connection."""
        return cls("wrong_length", extra_length=extra)


FaultChooser = Callable[["RecordedRequest", "Resource"], Optional[Fault]]


@dataclass
class Resource:
    """One file the server serves, and how it misbehaves."""

    body: Union[bytes, Path]
    content_type: str = "application/octet-stream"
    ranges: bool = True
    etag: Optional[str] = AUTO
    last_modified: Optional[str] = AUTO
    content_disposition: Optional[str] = None
    status: int = 200
    reason: Optional[str] = None
    """The reason phrase of ``status`` and of failures, if not the standard one."""
    headers: dict[str, str] = field(default_factory=dict)
    rate: Optional[float] = None
    """Bytes per second per response."""
    shared_rate: Optional[float] = None
    """Bytes per second for all responses of this resource together: a link's capacity."""
    drop_after: Optional[int] = None
    """Close every response after this many body bytes."""
    stall_after: Optional[int] = None
    stall_seconds: float = 0.0
    fail_first: int = 0
    """Answer the first N requests with ``fail_status``."""
    fail_status: int = 503
    retry_after: Optional[str] = None
    content_length: Optional[int] = None
    """Announce this Content-Length instead of the true one (then close)."""
    chunked: bool = False
    redirect: Optional[str] = None
    redirect_status: int = 302
    faults: Optional[FaultChooser] = None
    gate: Optional[threading.Event] = None
    """Answer nothing (not even headers) until this event is set: holds a job deterministically."""
    auth: Optional[tuple[str, str, str]] = None
    """(user, password, ``basic`` or ``digest``): a 401 with a challenge without them."""

    def __post_init__(self) -> None:
        self._failures_left = self.fail_first
        self._link_lock = threading.Lock()
        self._link_free_at = 0.0
        if self.etag == AUTO:
            self.etag = f'"{hashlib.sha1(self.data()).hexdigest()[:20]}"'
        if self.last_modified == AUTO:
            self.last_modified = formatdate(1_700_000_000, usegmt=True)

    def data(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else self.body.read_bytes()

    def reserve_link(self, size: int) -> float:
        """Book ``size`` bytes on the shared link; the monotonic time when they have passed."""
        assert self.shared_rate is not None
        with self._link_lock:
            start = max(time.monotonic(), self._link_free_at)
            self._link_free_at = start + size / self.shared_rate
            return self._link_free_at

    def take_failure(self) -> bool:
        if self._failures_left > 0:
            self._failures_left -= 1
            return True
        return False


@dataclass
class RecordedRequest:
    """A request the server received and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    bytes_sent: int = 0
    fault: Optional[str] = None
    client_port: int = 0

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class RandomFaults:
    """A seeded fault chooser: each request misbehaves with the given probability.

    The draw for a request depends only on the seed, the path and how many requests that path
    has had, so concurrent clients meet the same faults whatever order their requests arrive
    in. Counts what it injected in :attr:`injected` (by kind), for reports.
    """

    KINDS = ("drop", "stall", "status_burst", "429", "ignore_range", "416", "wrong_length")

    def __init__(
        self,
        seed: int,
        probability: float = 0.3,
        stall_seconds: float = 0.6,
        kinds: tuple[str, ...] = KINDS,
    ) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._requests_seen: dict[str, int] = {}
        self.probability = probability
        self.stall_seconds = stall_seconds
        self.kinds = kinds
        self.injected: dict[str, int] = {}
        self._bursts: dict[str, int] = {}

    def __call__(self, request: RecordedRequest, resource: Resource) -> Optional[Fault]:
        with self._lock:
            number = self._requests_seen.get(request.path, 0)
            self._requests_seen[request.path] = number + 1
            rng = random.Random(f"{self._seed}:{request.path}:{number}")
            burst = self._bursts.get(request.path, 0)
            if burst > 0:
                self._bursts[request.path] = burst - 1
                return self._count("status_burst", Fault.error(rng.choice((500, 502, 503, 504))))
            if rng.random() >= self.probability:
                return None
            size = len(resource.data())
            kind = rng.choice(self.kinds)
            ranged = request.header("Range") is not None
            if kind == "drop" and size > 1:
                return self._count(kind, Fault.drop(rng.randrange(0, size)))
            if kind == "stall":
                at = rng.randrange(0, max(1, size))
                return self._count(kind, Fault.stall(self.stall_seconds, at))
            if kind == "status_burst":
                self._bursts[request.path] = rng.randrange(0, 3)
                return self._count(kind, Fault.error(rng.choice((500, 502, 503, 504))))
            if kind == "429":
                return self._count(kind, Fault.error(429, retry_after="0"))
            if kind == "ignore_range" and ranged:
                return self._count(kind, Fault.ignore_range())
            if kind == "416" and ranged:
                return self._count(kind, Fault.not_satisfiable())
            if kind == "wrong_length" and size > 0:
                return self._count(kind, Fault.wrong_length(rng.randrange(1, 4096)))
            return None

    def _count(self, kind: str, fault: Fault) -> Fault:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return fault


_authority_lock = threading.Lock()
_authority: Optional[tuple[object, str]] = None


def _test_authority() -> tuple[object, str]:
    """This process's test certificate authority (a ``trustme.CA``) and its PEM file."""
    global _authority
    with _authority_lock:
        if _authority is None:
            try:
                import trustme  # noqa: PLC0415 - only TLS test servers need it
            except ImportError:
                raise RuntimeError(
                    "TestServer(tls=True) needs trustme: pip install trustme"
                ) from None
            authority = trustme.CA()
            folder = tempfile.mkdtemp(prefix="fetchq-test-ca-")
            path = os.path.join(folder, "ca.pem")
            authority.cert_pem.write_to_path(path)
            _authority = (authority, path)
        return _authority


def ca_bundle() -> str:
    """The PEM file of the authority that signs every ``TestServer(tls=True)``'s certificate."""
    return _test_authority()[1]


def _server_context(host: str) -> ssl.SSLContext:
    authority, _path = _test_authority()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    names = dict.fromkeys([host, "localhost", "127.0.0.1", "::1"])
    authority.issue_cert(*names).configure_cert(context)  # type: ignore[attr-defined]
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: TestServer) -> None:
        self.owner = owner
        self.tls_context = _server_context(owner.host) if owner.tls else None
        super().__init__((owner.host, 0), _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        if self.tls_context is not None:
            # The handshake happens in the connection's own thread (setup), never here: a
            # client that connects and says nothing must not stop the server accepting.
            connection = self.tls_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hang up mid-request on purpose (pause, cancel, quit); say nothing of it."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Closed(Exception):
    """The client went away, or the server is closing."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
        # Headers and a small body go out as separate writes; without TCP_NODELAY the body
        # waits for the client's delayed ACK (about 40 ms on Linux) on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._connection_opened(self.connection)

    def finish(self) -> None:
        self.server.owner._connection_closed(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        owner = self.server.owner
        owner._responding(+1)
        try:
            self._serve_one(send_body)
        finally:
            owner._responding(-1)

    def _serve_one(self, send_body: bool) -> None:
        owner = self.server.owner
        path = urlsplit(self.path).path
        record = RecordedRequest(
            method=self.command,
            path=path,
            headers=dict(self.headers.items()),
            client_port=self.client_address[1],
        )
        owner._record(record)
        resource = owner.resources.get(path)
        try:
            if resource is None:
                self._simple(record, 404, b"not found\n")
                return
            fault = resource.faults(record, resource) if resource.faults else None
            if fault is None and owner.faults is not None:
                fault = owner.faults(record, resource)
            record.fault = fault.kind if fault else None
            self._respond(record, resource, fault, send_body)
        except (_Closed, OSError):
            self.close_connection = True

    def _simple(
        self,
        record: RecordedRequest,
        status: int,
        body: bytes,
        headers: Optional[dict[str, str]] = None,
        reason: Optional[str] = None,
    ) -> None:
        record.status = status
        self.send_response(status, reason)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            record.bytes_sent = len(body)

    def _respond(
        self, record: RecordedRequest, resource: Resource, fault: Optional[Fault], send_body: bool
    ) -> None:
        if resource.gate is not None:
            closing = self.server.owner._closing
            while not resource.gate.wait(0.05):
                if closing.is_set():
                    raise _Closed()
        if resource.redirect is not None:
            target = urljoin(self.server.owner.url("/"), resource.redirect)
            self._simple(record, resource.redirect_status, b"moved\n", {"Location": target})
            return
        if fault is not None and fault.kind == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._simple(record, fault.status, b"fault\n", extra, resource.reason)
            return
        if resource.take_failure():
            extra = {"Retry-After": resource.retry_after} if resource.retry_after else {}
            self._simple(record, resource.fail_status, b"try again\n", extra, resource.reason)
            return
        if resource.status >= 300:
            body = f"status {resource.status}\n".encode()
            self._simple(record, resource.status, body, None, resource.reason)
            return
        if resource.auth is not None and not _authorized(record, resource.auth):
            self._simple(record, 401, b"log in\n", {"WWW-Authenticate": _challenge(resource.auth)})
            return

        data = resource.data()
        size = len(data)
        start, end, status = 0, size, 200
        headers: dict[str, str] = {"Content-Type": resource.content_type}
        if resource.etag:
            headers["ETag"] = resource.etag
        if resource.last_modified:
            headers["Last-Modified"] = resource.last_modified
        if resource.content_disposition is not None:
            headers["Content-Disposition"] = resource.content_disposition
        if resource.ranges:
            headers["Accept-Ranges"] = "bytes"

        wanted = record.header("Range")
        if wanted and resource.ranges and not (fault and fault.kind == "ignore_range"):
            if_range = record.header("If-Range")
            if if_range is None or if_range in (resource.etag, resource.last_modified):
                parsed = _parse_range(wanted, size)
                if parsed == "unsatisfiable" or (fault and fault.kind == "416"):
                    content_range = fault.content_range if fault else AUTO
                    if content_range == AUTO:
                        content_range = f"bytes */{size}"
                    extra = {"Content-Range": content_range} if content_range else {}
                    self._simple(record, 416, b"", extra)
                    return
                if isinstance(parsed, tuple):
                    start, end = parsed
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"

        headers.update(resource.headers)  # last, so a test can override anything
        length = end - start
        announced = resource.content_length if resource.content_length is not None else length
        if fault and fault.kind == "wrong_length":
            announced = length + fault.extra_length
        record.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if resource.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(announced))
        self.end_headers()
        if not send_body:
            return
        limit = length
        if resource.drop_after is not None:
            limit = min(limit, resource.drop_after)
        if fault and fault.kind == "drop":
            limit = min(limit, fault.at_byte)
        stall_at, stall_for = resource.stall_after, resource.stall_seconds
        if fault and fault.kind == "stall":
            stall_at, stall_for = fault.at_byte, fault.seconds
        self._send_body(
            record, memoryview(data)[start : start + limit], resource, stall_at, stall_for
        )
        if resource.chunked:
            if limit == length:
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.close_connection = True
        elif limit < announced:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)

    def _send_body(
        self,
        record: RecordedRequest,
        body: memoryview,
        resource: Resource,
        stall_at: Optional[int],
        stall_for: float,
    ) -> None:
        closing = self.server.owner._closing
        rate, shared = resource.rate, resource.shared_rate
        slowest = min((r for r in (rate, shared) if r is not None), default=None)
        step = 65536 if slowest is None else max(1024, min(65536, int(slowest / 50)))
        started = time.monotonic()
        sent = 0
        stalled = stall_at is None
        while sent < len(body):
            if not stalled and stall_at is not None and sent >= stall_at:
                stalled = True
                if closing.wait(stall_for):
                    raise _Closed()
            chunk_end = min(len(body), sent + step)
            if not stalled and stall_at is not None:
                chunk_end = min(chunk_end, max(stall_at, sent + 1))
            chunk = body[sent:chunk_end]
            if resource.chunked:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + bytes(chunk) + b"\r\n")
            else:
                self.wfile.write(chunk)
            sent = chunk_end
            record.bytes_sent = sent
            if slowest is not None:
                until = started + sent / rate if rate is not None else 0.0
                if shared is not None:
                    until = max(until, resource.reserve_link(len(chunk)))
                delay = until - time.monotonic()
                if delay > 0 and closing.wait(delay):
                    raise _Closed()
                if _peek_closed(self.connection):  # the client hung up: stop, as servers do
                    raise _Closed()
        if (
            not stalled
            and stall_at is not None
            and stall_at >= len(body)
            and closing.wait(stall_for)
        ):
            raise _Closed()


def _peek_closed(connection: socket.socket) -> bool:
    """Whether the client has closed its side (a readable socket with nothing to read)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        # On the raw socket even under TLS: a peek at encrypted bytes still shows a close.
        return socket.socket.recv(connection, 1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _parse_range(header: str, size: int) -> Union[tuple[int, int], str, None]:
    """``bytes=a-b`` -> (a, b+1); ``"unsatisfiable"``; None for what we serve whole."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            return (max(0, size - suffix), size)
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if end <= start:
        return None
    return (start, min(end, size))


class TestServer:
    """The server; use it as a context manager (it listens from ``__enter__`` to ``__exit__``)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, faults: Optional[FaultChooser] = None, host: str = "127.0.0.1", *, tls: bool = False
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"TestServer listens on loopback addresses only, not {host}")
        self.host = host
        self.tls = tls
        self.resources: dict[str, Resource] = {}
        self.faults = faults
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._active = 0
        self.peak_concurrency = 0
        """The most requests answered at once so far."""
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> TestServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and drop every open connection, also ones stalled on purpose."""
        if self._server is None:
            return
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not started"
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, body: Union[bytes, Path] = b"", **options: object) -> str:
        """Serve ``body`` at ``path``, with the options of :class:`Resource`; returns its URL."""
        if not path.startswith("/"):
            path = "/" + path
        self.resources[urlsplit(path).path] = Resource(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def bytes_sent(self, path: Optional[str] = None) -> int:
        """Body bytes sent so far, for one path or all."""
        with self._lock:
            return sum(r.bytes_sent for r in self.requests if path is None or r.path == path)

    def _responding(self, delta: int) -> None:
        with self._lock:
            self._active += delta
            self.peak_concurrency = max(self.peak_concurrency, self._active)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


_REALM = "fetchq test"
_NONCE = "5f1c0de5a1b2c3d4"


def _challenge(auth: tuple[str, str, str]) -> str:
    if auth[2] == "digest":
        return f'Digest realm="{_REALM}", qop="auth", nonce="{_NONCE}", algorithm=MD5'
    return f'Basic realm="{_REALM}"'


def _authorized(record: RecordedRequest, auth: tuple[str, str, str]) -> bool:
    """Whether a request carries the login ``auth`` asks for: Basic, or Digest (RFC 7616,
    MD5 with qop=auth, checked as a server does)."""
    user, password, scheme = auth
    given = record.header("Authorization") or ""
    kind, _, rest = given.partition(" ")
    if scheme == "basic":
        expected = base64.b64encode(f"{user}:{password}".encode()).decode()
        return kind.lower() == "basic" and rest.strip() == expected
    if kind.lower() != "digest":
        return False
    fields = dict(
        (key.strip().lower(), value.strip().strip('"'))
        for key, _, value in (part.partition("=") for part in re.split(r",(?=[^,]*=)", rest))
    )

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:{_REALM}:{password}")
    ha2 = md5(f"{record.method}:{fields.get('uri', '')}")
    expected = md5(f"{ha1}:{_NONCE}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}")
    return fields.get("username") == user and fields.get("response") == expected
