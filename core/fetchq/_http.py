"""HTTP policy: the session and its pool, timeouts, tokens, redirects, credentials, address guard.

Redirects are followed here, not by requests, so that credentials (the bearer token, the
session's auth, headers and cookies) reach only the origin (scheme, host, port) of the source,
schemes other than http(s) are refused, and the private-address guard sees every hop.

Connections made through fetchq's own session report their sockets to the transfer that uses
them (:func:`watched`), so cancel and pause can shut a socket down while a read is blocked on it.
"""

from __future__ import annotations

import enum
import functools
import http.client
import ipaddress
import re
import select
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Optional, Protocol, cast
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._exceptions import BlockedAddressError, RedirectError
from ._retry import Timeouts
from ._wire import DRAIN_AT_MOST, BodyReader, PipeFiller, WirePool, can_send, send_get

USER_AGENT = "fetchq/0.1 (+https://github.com/fetchq/fetchq)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_REDIRECTS = 10

AddressPolicy = Callable[[str], bool]
"""Returns True when connecting to this IP address is allowed."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable: not private, loopback, link-local, ..."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class AbortReason(enum.Enum):
    CANCEL = "cancel"
    PAUSE = "pause"
    STOP = "stop"


class AbortSignal:
    """Lets any thread stop a transfer at once.

    Records why (a cancel wins over a pause), wakes the transfer's waits, and shuts down every
    socket its connections are reading, so a blocked read returns immediately.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.reason: Optional[AbortReason] = None

    def abort(self, reason: AbortReason) -> None:
        with self._lock:
            if self.reason is None or reason is AbortReason.CANCEL:
                self.reason = reason
            sockets = list(self._sockets)
        self._event.set()
        for sock in sockets:
            _shutdown_quietly(sock)

    @property
    def aborted(self) -> bool:
        return self.reason is not None

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
            aborted = self.reason is not None
        if aborted:
            _shutdown_quietly(sock)

    def detach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as the transfer is aborted."""
        return self._event.wait(max(0.0, seconds))


def _shutdown_quietly(sock: socket.socket) -> None:
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


@dataclass
class _Scope:
    signal: AbortSignal
    address_policy: Optional[AddressPolicy]
    sockets: list[socket.socket] = field(default_factory=list)

    def attach(self, sock: socket.socket) -> None:
        self.sockets.append(sock)
        self.signal.attach(sock)


_local = threading.local()


@contextmanager
def watched(signal: AbortSignal, address_policy: Optional[AddressPolicy]) -> Iterator[_Scope]:
    """Within this block, connections made or used by this thread report to ``signal``."""
    scope = _Scope(signal, address_policy)
    previous = getattr(_local, "scope", None)
    _local.scope = scope
    try:
        yield scope
    finally:
        _local.scope = previous
        for sock in scope.sockets:
            signal.detach(sock)


def _current_scope() -> Optional[_Scope]:
    return getattr(_local, "scope", None)


def _check_connected(sock: socket.socket) -> None:
    """Refuse a new connection whose peer the current scope's address policy forbids."""
    scope = _current_scope()
    if scope is not None and scope.address_policy is not None:
        try:
            address = str(sock.getpeername()[0])
        except OSError:
            address = ""
        if not scope.address_policy(address):
            raise BlockedAddressError(f"refused to connect to non-public address {address}")


def _report_socket(sock: socket.socket) -> None:
    """Let the current scope's abort signal shut ``sock`` down while a read blocks on it."""
    scope = _current_scope()
    if scope is not None:
        scope.attach(sock)


class _WatchedConnectionMixin:
    """Checks each new socket against the address policy and reports it to the current scope."""

    sock: Optional[socket.socket]

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            _check_connected(sock)
        except BlockedAddressError:
            sock.close()
            raise
        return sock

    def getresponse(self) -> Any:
        if self.sock is not None:
            _report_socket(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class FetchqAdapter(HTTPAdapter):
    """requests' adapter with fetchq's watched connections; no urllib3 retries (fetchq retries)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def make_session(pool_size: int) -> requests.Session:
    """fetchq's own session, with a pool large enough for every connection open at once."""
    session = requests.Session()
    adapter = FetchqAdapter(pool_connections=32, pool_maxsize=max(10, pool_size), max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


@dataclass(frozen=True)
class TokenRule:
    """Send ``token`` to URLs that ``pattern`` matches (``re.search``)."""

    pattern: re.Pattern[str]
    token: str = field(repr=False)

    @classmethod
    def of(cls, pattern: str, token: str) -> TokenRule:
        return cls(re.compile(pattern), token)


def token_for(url: str, rules: Iterable[TokenRule]) -> Optional[str]:
    """The token of the first rule matching ``url``, or None."""
    for rule in rules:
        if rule.pattern.search(url):
            return rule.token
    return None


@functools.lru_cache(maxsize=1024)
def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class HttpResponse(Protocol):
    """The parts of a response a transfer uses, whichever client sent the request."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Looked up by lower-case names."""

    @property
    def socket(self) -> Optional[socket.socket]:
        """The socket the body is read from, when known: an abort shuts it down."""

    def body_reader(self) -> BodyReader:
        """A ``readinto`` for the body: the bytes that have arrived, waiting only for the first."""

    def pipe_filler(self) -> Optional[PipeFiller]:
        """Moves the body into a kernel pipe instead, when this response can; else None."""

    def release(self) -> None:
        """The body was read to its end: keep the connection for another request."""

    def discard(self) -> None:
        """Drop a body nobody reads, keeping the connection when that is cheap."""

    def close(self) -> None:
        """Close the connection unless it was released; safe to call again."""


class Urllib3Response:
    """A response read through urllib3 (requests, TLS, proxies, a caller's session)."""

    __slots__ = ("headers", "raw", "reason", "socket", "status_code")

    def __init__(
        self, raw: urllib3.BaseHTTPResponse, status: int, reason: str, headers: Mapping[str, str]
    ) -> None:
        self.raw = raw
        self.status_code = status
        self.reason = reason
        self.headers = headers
        connection = getattr(raw, "connection", None)
        sock = getattr(connection, "sock", None)
        self.socket = sock if isinstance(sock, socket.socket) else None

    @classmethod
    def of_requests(cls, response: requests.Response) -> Urllib3Response:
        return cls(response.raw, response.status_code, response.reason or "", response.headers)

    @classmethod
    def of_urllib3(cls, response: urllib3.BaseHTTPResponse) -> Urllib3Response:
        return cls(response, response.status, response.reason or "", response.headers)

    def body_reader(self) -> BodyReader:
        """Copies once, from the socket into our buffer, where http.client allows it.

        urllib3's own ``readinto`` reads into a temporary ``bytes`` first; http.client's does
        not. Bytes are written as served (we ask for ``identity``), so nothing is decoded.
        """
        raw = self.raw
        fp = getattr(raw, "_fp", None)
        buffered = getattr(fp, "fp", None)
        if (
            isinstance(fp, http.client.HTTPResponse)
            and not fp.chunked
            and hasattr(buffered, "readinto1")
            and hasattr(fp, "_close_conn")
        ):
            return _length_reader(fp, buffered)

        def read(view: memoryview) -> int:
            data = raw.read(len(view), decode_content=False)
            view[: len(data)] = data
            return len(data)

        return read

    def pipe_filler(self) -> Optional[PipeFiller]:
        return None  # urllib3 buffers what it reads, and TLS bytes cannot be spliced

    def release(self) -> None:
        self.raw.release_conn()
        self.raw.close()

    def discard(self) -> None:
        try:
            length = int(self.headers.get("content-length", "-1"))
        except ValueError:
            length = -1
        if 0 <= length <= DRAIN_AT_MOST:
            with suppress(Exception):
                self.raw.drain_conn()
        self.raw.close()

    def close(self) -> None:
        self.raw.close()


def _length_reader(fp: http.client.HTTPResponse, buffered: Any) -> BodyReader:
    """Read what one ``recv`` returns, straight into the caller's buffer.

    ``readinto`` would wait until the whole buffer is full, hiding progress on slow links;
    ``readinto1`` returns as soon as bytes arrive. But while the BufferedReader still holds bytes
    (those that came with the headers), ``readinto1`` copies them and then makes a blocking
    socket read anyway, so a stall loses them; ``read1`` returns buffered bytes alone. We use
    ``read1`` until the buffer is provably empty (it returned less than asked), then the
    single-copy ``readinto1``. After its first bytes, a read goes on taking what is already
    waiting in the socket (a zero-timeout poll) until the buffer is full: it never waits longer
    than for its first bytes, yet a fast link hands over a megabyte per call, not 100 KiB, and
    the per-call bookkeeping stays small. http.client's length bookkeeping is kept, so a body
    read to its end leaves the connection reusable.
    """
    may_hold_bytes = True
    raw_socket = getattr(getattr(buffered, "raw", None), "_sock", None)
    poller: Optional[select.poll] = None
    if raw_socket is not None and hasattr(select, "poll"):
        poller = select.poll()
        poller.register(raw_socket, select.POLLIN)

    def read(view: memoryview) -> int:
        nonlocal may_hold_bytes
        remaining = fp.length
        if remaining is not None:
            if remaining <= 0:
                return 0
            if len(view) > remaining:
                view = view[:remaining]
        count: int
        if may_hold_bytes:
            data = buffered.read1(len(view))
            count = len(data)
            view[:count] = data
            may_hold_bytes = count == len(view)
        else:
            count = buffered.readinto1(view)
            if poller is not None:
                while 0 < count < len(view) and poller.poll(0):
                    more: int = buffered.readinto1(view[count:])
                    if not more:
                        break
                    count += more
        if remaining is not None:
            fp.length = remaining - count
        if not count or fp.length == 0:
            fp._close_conn()  # type: ignore[attr-defined]
        return count

    return read


def proxies_configured() -> bool:
    """Whether the environment asks for a proxy (``http_proxy``, ``HTTPS_PROXY``, ...)."""
    return bool(getproxies())


def _keep_request(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that changes nothing: stops a session's own auth from replacing our token."""
    return request


def _trusted_headers(headers: Mapping[str, str], token: Optional[str]) -> dict[str, str]:
    """The headers of a request to the source's origin: the token goes there, and only there."""
    request_headers = dict(headers)
    if token:
        request_headers["Authorization"] = f"Bearer {token}"
    return request_headers


def _direct_headers(headers: dict[str, str]) -> dict[str, str]:
    """Complete the headers of a request on fetchq's own connections (in place)."""
    headers.setdefault("User-Agent", USER_AGENT)
    headers.setdefault("Accept", "*/*")
    return headers


class HttpClient:
    """Opens a streamed GET, following redirects under fetchq's credential policy."""

    def __init__(
        self,
        session: requests.Session,
        timeouts: Timeouts,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        address_policy: Optional[AddressPolicy] = None,
        own_session: bool = False,
        pool_size: int = 10,
    ) -> None:
        self.session = session
        self.timeouts = timeouts
        self.max_redirects = max_redirects
        self.address_policy = address_policy
        self._own_session = own_session
        # With fetchq's own session and no proxy, requests go straight to the session's mounted
        # adapter (its urllib3 pool, with requests' TLS setup): the Session's per-request work
        # (merging settings, reading proxy variables, hooks, cookies) is most of the cost of a
        # small file. A caller's session always gets the full Session.request.
        self._direct = own_session and not proxies_configured()
        # Plain http on that path skips requests and urllib3 altogether (:mod:`._wire`).
        self._wire = WirePool(max(10, pool_size)) if self._direct else None
        self._urllib3_timeout = urllib3.Timeout(connect=timeouts.connect, read=timeouts.read)

    def close_idle(self) -> None:
        """Close the keep-alive connections nobody uses now (fetchq's own, not the session's)."""
        if self._wire is not None:
            self._wire.close()

    def open(
        self, url: str, headers: Mapping[str, str], token: Optional[str]
    ) -> tuple[HttpResponse, str]:
        """GET ``url`` (streamed) and return the final response and URL.

        ``headers`` go to every hop; the token, and the session's auth, cookies and headers, only
        to hops on the source's origin.
        """
        source_origin = origin_of(url)
        current = url
        for _hop in range(self.max_redirects + 1):
            self._check_address_before_connect(current)
            if origin_of(current) == source_origin:
                response = self._send_trusted(current, headers, token)
            else:
                response = self._send_untrusted(current, headers)
            if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                location = response.headers["location"]
                response.discard()
                following = urljoin(current, location)
                scheme = urlsplit(following).scheme.lower()
                if scheme not in ("http", "https"):
                    raise RedirectError(f"refused redirect to a {scheme or 'relative'}: URL")
                current = following
                continue
            return response, current
        raise RedirectError(f"more than {self.max_redirects} redirects")

    def expect_next(
        self, url: Optional[str], headers: Mapping[str, str], token: Optional[str]
    ) -> None:
        """This thread's next ``open`` will probably be of ``url`` (None: unknown).

        On fetchq's own plain-http connections, that request is then sent right behind a small
        answer (HTTP/1.1 pipelining, one request deep), saving a round trip per small file.
        """
        if self._wire is not None:  # a URL the wire client does not send is not expected
            self._wire.expect_next(url, _direct_headers(_trusted_headers(headers, token)))

    def forget_thread(self) -> None:
        """The calling thread is done with this client (a worker that retires)."""
        if self._wire is not None:
            self._wire.forget_thread()

    def _send_trusted(
        self, url: str, headers: Mapping[str, str], token: Optional[str]
    ) -> HttpResponse:
        request_headers = _trusted_headers(headers, token)
        auth: Any = _keep_request if token else None
        if self._direct:
            return self._send_direct(url, request_headers)
        response = self.session.request(
            "GET",
            url,
            headers=request_headers,
            auth=auth,
            stream=True,
            allow_redirects=False,
            timeout=self.timeouts.as_requests(),
        )
        return Urllib3Response.of_requests(response)

    def _send_untrusted(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """A hop to another origin: no session headers, auth or cookies, only ours."""
        plain_headers = dict(headers)
        user_agent = self.session.headers.get("User-Agent")
        if user_agent:
            plain_headers.setdefault("User-Agent", str(user_agent))
        if self._direct:
            return self._send_direct(url, plain_headers)
        request = requests.Request("GET", url, headers=plain_headers).prepare()
        settings = self.session.merge_environment_settings(url, {}, True, None, None)
        response = self.session.send(
            request,
            allow_redirects=False,
            timeout=self.timeouts.as_requests(),
            **settings,
        )
        return Urllib3Response.of_requests(response)

    def _send_direct(self, url: str, headers: dict[str, str]) -> HttpResponse:
        """GET over fetchq's own connections: plain http by :mod:`._wire`, the rest through the
        session's mounted adapter, as ``HTTPAdapter.send`` would."""
        _direct_headers(headers)
        if self._wire is not None and can_send(url):
            return send_get(
                self._wire,
                url,
                headers,
                self.timeouts.connect,
                self.timeouts.read,
                _check_connected,
                _report_socket,
            )
        adapter = self.session.get_adapter(url)
        assert isinstance(adapter, HTTPAdapter)
        target = requests.PreparedRequest()
        target.url = url
        pool = adapter.get_connection_with_tls_context(target, verify=True)
        assert isinstance(pool, HTTPConnectionPool)
        cast(Any, adapter).cert_verify(pool, url, True, None)  # untyped in the stubs
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        raw = pool.urlopen(
            "GET",
            path,
            headers=headers,
            redirect=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            retries=False,
            timeout=self._urllib3_timeout,
        )
        return Urllib3Response.of_urllib3(raw)

    def _check_address_before_connect(self, url: str) -> None:
        """With a caller's session the connect-time hook is absent: check the resolved names."""
        if self.address_policy is None or self._own_session:
            return
        host = urlsplit(url).hostname or ""
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return  # the request itself will report the name error
        for info in infos:
            address = str(info[4][0])
            if not self.address_policy(address):
                raise BlockedAddressError(f"refused to connect to non-public address {address}")


def status_phrase(status: int) -> str:
    """The standard reason phrase, for servers that send none."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
