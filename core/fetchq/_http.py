"""HTTP policy: redirects, credentials per origin, proxies and the private-address guard.

Redirects are followed here, one hop at a time, never by libcurl or requests: each hop is a URL
parsed by :mod:`._url`, so the origin that decides which credentials a hop gets is the origin
the transport connects to. The bearer token, URL credentials, and a caller's session's auth,
headers and cookies go only to hops on the source's origin (scheme, host, port); schemes other
than http(s) are refused; and the address guard sees every connection of every hop: in
libcurl's socket-open hook where fetchq connects itself, and by resolving the host first where
it cannot see the connection (a proxy, a caller's session).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import socket
import sys
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Optional, cast

from ._abort import AbortSignal
from ._exceptions import RedirectError, UnsafeDownloadURLException
from ._retry import Timeouts
from ._steps import Blocking, Steps, run_blocking
from ._transport import (
    AddressPolicy,
    ByteRange,
    Pace,
    Receiver,
    Request,
    ResponseHead,
    Transport,
)
from ._url import Url, UrlError, join_url, parse_url

if TYPE_CHECKING:
    import requests

USER_AGENT = "fetchq/0.1 (+https://github.com/fetchq/fetchq)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
FIRST_REQUEST_HEADERS: Mapping[str, str] = MappingProxyType({"Accept-Encoding": "identity"})
"""The headers of a download's first request when nothing of the file is on disk yet."""
DEFAULT_MAX_REDIRECTS = 10


def is_public_address(address: str) -> bool:
    """Whether an IP address is globally routable: not private, loopback, link-local, ..."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


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


LOGIN_SCHEMES = ("basic", "digest", "any")


@dataclass(frozen=True)
class Login:
    """A user name and password for a server's HTTP login (Basic or Digest); never printed."""

    username: str
    password: str = field(repr=False)
    scheme: str = "any"
    """``basic``, ``digest``, or ``any``: the server's challenge decides."""

    @classmethod
    def for_challenge(cls, username: str, password: str, challenge: Optional[str]) -> Login:
        """A login in the scheme a ``WWW-Authenticate`` challenge asks for."""
        return cls(username, password, challenge_scheme(challenge))


def challenge_scheme(challenge: Optional[str]) -> str:
    """``digest`` or ``basic`` from a ``WWW-Authenticate`` value (Digest wins when both are
    offered: the password does not cross the wire); ``any`` when it names neither."""
    words = {part.strip().split(" ", 1)[0].lower() for part in (challenge or "").split(",")}
    if "digest" in words:
        return "digest"
    return "basic" if "basic" in words else "any"


@dataclass(frozen=True)
class OriginSecrets:
    """What goes with a download's requests to its own origin only (scheme, host, port): a
    bearer token, extra headers (a browser's user agent, say) and cookies. Never printed."""

    token: Optional[str] = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookies: Optional[str] = field(default=None, repr=False)
    login: Optional[Login] = field(default=None, repr=False)

    @classmethod
    def of(
        cls,
        token: Optional[str],
        headers: Optional[Mapping[str, str]] = None,
        cookies: Optional[str] = None,
        login: Optional[Login] = None,
    ) -> Optional[OriginSecrets]:
        """The secrets, or None when there are none."""
        if not (token or headers or cookies or login):
            return None
        return cls(token, MappingProxyType(dict(headers or {})), cookies, login)

    def apply(self, headers: dict[str, str]) -> None:
        """Add these secrets to a request's ``headers`` (a request to the origin)."""
        headers.update(self.headers)
        if self.cookies:
            headers["Cookie"] = self.cookies
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, as the transport will connect to it."""
    return parse_url(url).origin


@dataclass(frozen=True)
class ProxySettings:
    """Where requests go through a proxy: one for every URL, or the system's, read once.

    ``configured``: None follows the system (``http_proxy``, ``https_proxy``, ``all_proxy``,
    ``no_proxy``; the registry on Windows, the system settings on macOS); ``""`` means no proxy;
    anything else is the proxy for every URL. libcurl is told the answer, never left to read
    the environment itself, so fetchq always knows when a proxy stands between it and a host.
    """

    configured: Optional[str]
    system: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, configured: Optional[str]) -> ProxySettings:
        """Read the system's settings now (reading the environment costs ~0.3 ms a request)."""
        system = urllib.request.getproxies() if configured is None else {}
        return cls(configured, system)

    def proxy_for(self, url: Url) -> Optional[str]:
        """The proxy a request to ``url`` goes through, or None."""
        if self.configured is not None:
            return self.configured or None
        proxy = self.system.get(url.scheme) or self.system.get("all")
        if not proxy or _bypassed(url.host, self.system.get("no", "")):
            return None
        return proxy


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (or the system's exceptions) exempts ``host``."""
    if no_proxy:
        bypass = cast(Any, urllib.request).proxy_bypass_environment  # not in typeshed
        return bool(bypass(host, {"no": no_proxy}))
    return bool(urllib.request.proxy_bypass(host)) if sys.platform in ("win32", "darwin") else False


def check_resolved(host: str, policy: AddressPolicy) -> None:
    """Refuse ``host`` if any address it resolves to is one the policy forbids.

    For connections fetchq cannot watch (through a proxy, or a caller's session). A name that
    does not resolve here is left to the request, which reports it.
    """
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return
    for info in infos:
        address = str(info[4][0])
        if not policy(address):
            raise UnsafeDownloadURLException(
                f"refused to connect to {host} at non-public address {address}"
            )


class _Hop:
    """Receives one hop's response: a redirect is noted and its body dropped, anything else
    goes on to the real receiver (its ``on_data`` then replaces ours: no extra call a chunk)."""

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self.location: Optional[str] = None

    def on_head(self, head: ResponseHead) -> bool:
        location = head.header("location")
        if head.status in REDIRECT_STATUSES and location is not None:
            self.location = location
            return False
        wanted = self._receiver.on_head(head)
        self.on_data = self._receiver.on_data  # type: ignore[method-assign]
        self.on_idle = self._receiver.on_idle  # type: ignore[method-assign]
        return wanted

    def on_data(self, data: bytes) -> Optional[bool]:
        return None

    def on_idle(self) -> Optional[bool]:
        return None


class HttpClient:
    """Fetches URLs under fetchq's redirect, credential, proxy and address policy."""

    def __init__(
        self,
        session: Optional[requests.Session],
        timeouts: Timeouts,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        address_policy: Optional[AddressPolicy] = None,
        proxy: Optional[str] = None,
        http2: bool = True,
        ca_bundle: Optional[str] = None,
    ) -> None:
        """``session``: a caller's requests session, used exactly as given; None for fetchq's
        own transport, libcurl. ``proxy``: see :func:`proxy_for`. ``ca_bundle``: a PEM file of
        certificate authorities trusted besides the system's (:mod:`._trust`)."""
        self.timeouts = timeouts
        self.max_redirects = max_redirects
        self.address_policy = address_policy
        self.proxies = ProxySettings.of(proxy)
        self.transport: Transport
        self._watches_connections = session is None
        if session is None:
            from ._curl import CurlTransport
            from ._trust import system_trust

            self.transport = CurlTransport(
                timeouts, USER_AGENT, system_trust(ca_bundle), http2=http2
            )
        else:
            from ._requests_transport import RequestsTransport

            self.transport = RequestsTransport(session, timeouts)

    def close_idle(self) -> None:
        """Close the connections nobody uses now."""
        self.transport.close()

    def fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        secrets: Optional[OriginSecrets],
        receiver: Receiver,
        signal: AbortSignal,
        byte_range: Optional[ByteRange] = None,
    ) -> str:
        """GET ``url`` into ``receiver`` from the calling thread (blocking); see
        :meth:`fetch_steps`."""
        return run_blocking(
            self.fetch_steps(url, headers, secrets, receiver, signal, byte_range=byte_range)
        )

    def fetch_steps(
        self,
        url: str,
        headers: Mapping[str, str],
        secrets: Optional[OriginSecrets],
        receiver: Receiver,
        signal: AbortSignal,
        byte_range: Optional[ByteRange] = None,
        pace: Optional[Pace] = None,
    ) -> Steps[str]:
        """GET ``url`` into ``receiver``, following redirects; returns the final URL.

        ``headers`` go to every hop; the secrets and the URL's credentials only to hops on the
        source's origin; ``pace`` is the speed limit the body counts against. Raises
        :class:`RedirectError` for a redirect loop or a refused target,
        :class:`UnsafeDownloadURLException` from the guard, and the transport's errors.
        """
        source = parse_url(url)
        current = source
        for _hop in range(self.max_redirects + 1):
            hop = _Hop(receiver)
            request = self._request(source, current, headers, secrets, byte_range)
            if request.resolve_first is not None:
                # The guard checks a host behind a proxy by looking it up: a blocking call,
                # made where blocking is allowed (the engine never waits on DNS).
                yield Blocking(
                    functools.partial(check_resolved, current.host, request.resolve_first)
                )
                request = dataclasses.replace(request, resolve_first=None)
            if pace is not None:
                request = dataclasses.replace(request, pace=pace)
            yield from self.transport.fetch_steps(request, hop, signal)
            if hop.location is None or signal.aborted:
                return current.href
            try:
                current = join_url(current, hop.location)
            except UrlError as exc:
                raise RedirectError(
                    f"refused a redirect to {hop.location[:200]!r}: {exc}"
                ) from None
            if current.scheme not in ("http", "https"):
                raise RedirectError(f"refused a redirect to a {current.scheme}: URL")
        raise RedirectError(f"more than {self.max_redirects} redirects")

    def _request(
        self,
        source: Url,
        current: Url,
        headers: Mapping[str, str],
        secrets: Optional[OriginSecrets],
        byte_range: Optional[ByteRange],
    ) -> Request:
        trusted = current.origin == source.origin
        request_headers = dict(headers)
        credentials: Optional[tuple[str, str]] = None
        scheme = "basic"
        if trusted and secrets is not None:
            secrets.apply(request_headers)
        login = secrets.login if secrets is not None else None
        if trusted and "Authorization" not in request_headers:
            if login is not None:
                credentials, scheme = (login.username, login.password), login.scheme
            elif source.has_credentials:
                credentials = (source.username, source.password)
        proxy = self.proxies.proxy_for(current) if self._watches_connections else None
        policy = self.address_policy
        resolve_first = None
        if policy is not None and (proxy is not None or not self._watches_connections):
            resolve_first = policy  # checked by resolution before the request (fetch_steps)
            policy = None  # the connection goes to the proxy (or requests): nothing to watch
        return Request(
            url=current,
            headers=request_headers,
            byte_range=byte_range,
            credentials=credentials,
            auth_scheme=scheme,
            address_policy=policy,
            resolve_first=resolve_first,
            proxy=proxy,
            trusted=trusted,
        )
