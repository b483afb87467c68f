"""HTTP policy: the session and its pool, timeouts, tokens, redirects, credentials, address guard.

Redirects are followed here, not by requests, so that credentials (the bearer token, the
session's auth, headers and cookies) reach only the origin (scheme, host, port) of the source,
schemes other than http(s) are refused, and the private-address guard sees every hop.

Connections made through fetchq's own session report their sockets to the transfer that uses
them (:func:`watched`), so cancel and pause can shut a socket down while a read is blocked on it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Optional, cast
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._exceptions import BlockedAddressError, RedirectError
from ._retry import Timeouts

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


class _WatchedConnectionMixin:
    """Checks each new socket against the address policy and reports it to the current scope."""

    sock: Optional[socket.socket]

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        scope = _current_scope()
        if scope is not None and scope.address_policy is not None:
            try:
                address = str(sock.getpeername()[0])
            except OSError:
                address = ""
            if not scope.address_policy(address):
                sock.close()
                raise BlockedAddressError(f"refused to connect to non-public address {address}")
        return sock

    def getresponse(self) -> Any:
        scope = _current_scope()
        if scope is not None and self.sock is not None:
            scope.attach(self.sock)
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


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


class HttpResponse:
    """The parts of a response a transfer uses: status, reason, headers, and urllib3's raw
    response to read the body from. The same for both ways of sending a request."""

    __slots__ = ("headers", "raw", "reason", "status_code")

    def __init__(
        self, raw: urllib3.BaseHTTPResponse, status: int, reason: str, headers: Mapping[str, str]
    ) -> None:
        self.raw = raw
        self.status_code = status
        self.reason = reason
        self.headers = headers

    @classmethod
    def of_requests(cls, response: requests.Response) -> HttpResponse:
        return cls(response.raw, response.status_code, response.reason or "", response.headers)

    @classmethod
    def of_urllib3(cls, response: urllib3.BaseHTTPResponse) -> HttpResponse:
        return cls(response, response.status, response.reason or "", response.headers)

    def close(self) -> None:
        self.raw.close()


def proxies_configured() -> bool:
    """Whether the environment asks for a proxy (``http_proxy``, ``HTTPS_PROXY``, ...)."""
    return bool(getproxies())


def _keep_request(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that changes nothing: stops a session's own auth from replacing our token."""
    return request


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
        self._urllib3_timeout = urllib3.Timeout(connect=timeouts.connect, read=timeouts.read)

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
                _discard(response)
                following = urljoin(current, location)
                scheme = urlsplit(following).scheme.lower()
                if scheme not in ("http", "https"):
                    raise RedirectError(f"refused redirect to a {scheme or 'relative'}: URL")
                current = following
                continue
            return response, current
        raise RedirectError(f"more than {self.max_redirects} redirects")

    def _send_trusted(
        self, url: str, headers: Mapping[str, str], token: Optional[str]
    ) -> HttpResponse:
        request_headers = dict(headers)
        auth: Any = None
        if token:
            request_headers["Authorization"] = f"Bearer {token}"
            auth = _keep_request
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
        return HttpResponse.of_requests(response)

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
        return HttpResponse.of_requests(response)

    def _send_direct(self, url: str, headers: dict[str, str]) -> HttpResponse:
        """GET through the session's mounted adapter, as ``HTTPAdapter.send`` would."""
        adapter = self.session.get_adapter(url)
        assert isinstance(adapter, HTTPAdapter)
        target = requests.PreparedRequest()
        target.url = url
        pool = adapter.get_connection_with_tls_context(target, verify=True)
        assert isinstance(pool, HTTPConnectionPool)
        cast(Any, adapter).cert_verify(pool, url, True, None)  # untyped in the stubs
        headers.setdefault("User-Agent", USER_AGENT)
        headers.setdefault("Accept", "*/*")
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
        return HttpResponse.of_urllib3(raw)

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


def _discard(response: HttpResponse) -> None:
    """Drop a response we do not read: drain a small body to keep the connection, else close."""
    try:
        length = int(response.headers.get("content-length", "-1"))
    except ValueError:
        length = -1
    if 0 <= length <= 65536:
        with suppress(Exception):
            response.raw.drain_conn()
    response.close()


def status_phrase(status: int) -> str:
    """The standard reason phrase, for servers that send none."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def socket_of(response: HttpResponse) -> Optional[socket.socket]:
    """The socket a streamed response reads from, when urllib3 exposes it."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None
