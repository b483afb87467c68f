"""HTTP policy: the clients and their pools, timeouts, tokens, redirects, credentials, guard.

Redirects are followed here, not by requests, so that credentials (the bearer token, the
session's auth, headers and cookies) reach only the origin (scheme, host, port) of the source,
schemes other than http(s) are refused, and the private-address guard sees every hop.

Connections made through fetchq's own session report their sockets to the transfer that uses
them (:func:`watched`), so cancel and pause can shut a socket down while a read is blocked on it.
Plain http goes through :mod:`._wire`; whatever needs requests (TLS, proxies, credentials in the
URL, a caller's session) through :mod:`._session`, imported on first use.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Optional, Protocol
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies

from ._exceptions import BlockedAddressError, RedirectError
from ._retry import Timeouts
from ._wire import BodyReader, PipeFiller, WirePool, can_send, send_get

if TYPE_CHECKING:
    import requests

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


def check_connected(sock: socket.socket) -> None:
    """Refuse a new connection whose peer the current scope's address policy forbids."""
    scope = _current_scope()
    if scope is not None and scope.address_policy is not None:
        try:
            address = str(sock.getpeername()[0])
        except OSError:
            address = ""
        if not scope.address_policy(address):
            raise BlockedAddressError(f"refused to connect to non-public address {address}")


def report_socket(sock: socket.socket) -> None:
    """Let the current scope's abort signal shut ``sock`` down while a read blocks on it."""
    scope = _current_scope()
    if scope is not None:
        scope.attach(sock)


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


def proxies_configured() -> bool:
    """Whether the environment asks for a proxy (``http_proxy``, ``HTTPS_PROXY``, ...)."""
    return bool(getproxies())


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
        session: Optional[requests.Session],
        timeouts: Timeouts,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        address_policy: Optional[AddressPolicy] = None,
        pool_size: int = 10,
    ) -> None:
        """``session``: a caller's requests session, or None for fetchq's own (made when a
        request first needs it: plain http does not)."""
        self._session = session
        self._session_lock = threading.Lock()
        self._pool_size = pool_size
        self.timeouts = timeouts
        self.max_redirects = max_redirects
        self.address_policy = address_policy
        self._own_session = session is None
        # With fetchq's own session and no proxy, requests go straight to the session's mounted
        # adapter (its urllib3 pool, with requests' TLS setup): the Session's per-request work
        # (merging settings, reading proxy variables, hooks, cookies) is most of the cost of a
        # small file. A caller's session always gets the full Session.request.
        self._direct = self._own_session and not proxies_configured()
        # Plain http on that path skips requests and urllib3 altogether (:mod:`._wire`).
        self._wire = WirePool(max(10, pool_size)) if self._direct else None

    @property
    def session(self) -> requests.Session:
        """The requests session: the caller's, or fetchq's own, made on first use."""
        with self._session_lock:
            if self._session is None:
                from ._session import make_session

                self._session = make_session(self._pool_size)
            return self._session

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
        if self._goes_direct(url):
            return self._send_direct(url, request_headers)
        from ._session import send_with_session

        return send_with_session(self.session, url, request_headers, bool(token), self.timeouts)

    def _send_untrusted(self, url: str, headers: Mapping[str, str]) -> HttpResponse:
        """A hop to another origin: no session headers, auth or cookies, only ours."""
        plain_headers = dict(headers)
        if self._goes_direct(url):
            return self._send_direct(url, plain_headers)  # adds our User-Agent
        from ._session import send_untrusted

        session = self.session
        user_agent = session.headers.get("User-Agent")
        if user_agent:
            plain_headers.setdefault("User-Agent", str(user_agent))
        return send_untrusted(session, url, plain_headers, self.timeouts)

    def _goes_direct(self, url: str) -> bool:
        """Whether ``url`` may skip the Session: fetchq's own session, no proxy, and no
        ``user:password@`` in it (requests' full path turns that into Basic auth, unless a
        token is sent; a bare connection pool would silently drop it)."""
        return self._direct and "@" not in urlsplit(url).netloc

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
                check_connected,
                report_socket,
            )
        from ._session import send_on_adapter

        return send_on_adapter(self.session, url, headers, self.timeouts)

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
