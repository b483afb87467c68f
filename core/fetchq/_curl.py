"""libcurl, through pycurl: the transport of every request fetchq makes with its own session.

The bytes move in C: libcurl connects, speaks TLS and HTTP/1.1 or HTTP/2 (or FTP), and hands
the body over in chunks of at most 16 KiB (``CURL_MAX_WRITE_SIZE``). fetchq keeps the
decisions: libcurl never follows a redirect, never sends credentials of its own accord, speaks
only http, https, ftp and ftps, and connects only where the address policy allows, checked in
its socket-open hook, so the address checked is the address connected to.

An exchange (one request) is written as steps (:mod:`._steps`): it yields its handle to be
performed, by the engine's one ``CurlMulti`` (:mod:`._engine`) for downloads, or by
``perform()`` in the caller's thread for a single request (:meth:`CurlTransport.fetch`). Handles
are pooled and share a DNS cache and TLS session cache (a ``CurlShare``); in the engine they
share its connection cache too, so the next small file of a host reuses the connection the
last one left open, and HTTP/2 requests to one host are multiplexed on one connection.
"""

from __future__ import annotations

import threading
from typing import Optional

import pycurl

from ._abort import AbortSignal
from ._exchange import FTP_SCHEMES, Exchange, curl_failure
from ._retry import Timeouts
from ._steps import Counter, Steps, Take, run_blocking
from ._transport import Receiver, Request
from ._trust import Trust, joined_bundle_file, system_trust
from ._url import Origin, Url

_SUPPRESS_CONNECT_HEADERS = 265
"""CURLOPT_SUPPRESS_CONNECT_HEADERS (pycurl has no name for it): a proxy's answer to CONNECT
is not the response, so it never reaches the header callback."""
_PROTOCOLS = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS | pycurl.PROTO_FTP | pycurl.PROTO_FTPS
_MAX_IDLE_HANDLES = 64
_CONNECTIONS_PER_HANDLE = 8
RECEIVE_BUFFER = 512 * 1024
"""libcurl's receive buffer: the size of its ``recv`` calls (16 KiB by default). It does not
change the write callbacks: libcurl hands the body over in chunks of at most
``CURL_MAX_WRITE_SIZE`` (16 KiB) whatever the buffer, about 65,500 calls a GiB over http and
https alike (measured with libcurl 8.23). Fewer, larger reads still cost less system time."""
PROBE_WAIT = 1.0
"""Seconds the requests to a host wait for the first one's answer to say HTTP/2 or not."""

_HTTP_AUTH = {
    "basic": pycurl.HTTPAUTH_BASIC,
    "digest": pycurl.HTTPAUTH_DIGEST,
    "any": pycurl.HTTPAUTH_BASIC | pycurl.HTTPAUTH_DIGEST,  # libcurl asks, then picks Digest
}


def _version() -> str:
    return pycurl.version_info()[1]  # type: ignore[no-any-return]


def libcurl_version() -> str:
    """libcurl's version, for the About box and bug reports."""
    return _version()


class CurlTransport:
    """Sends requests with pooled libcurl handles: as steps for the engine
    (:meth:`fetch_steps`), or blocking in the calling thread (:meth:`fetch`)."""

    def __init__(
        self,
        timeouts: Timeouts,
        user_agent: str,
        trust: Optional[Trust] = None,
        *,
        http2: bool = True,
    ) -> None:
        self.timeouts = timeouts
        self.user_agent = user_agent
        self.trust = trust or system_trust()
        self.http2 = http2
        bundles = self.trust.bundles
        self._ca_file = joined_bundle_file(bundles) if len(bundles) > 1 else (bundles or ("",))[0]
        self._share = pycurl.CurlShare()
        # Not the connection cache: libcurl would then close a connection through the
        # close-socket hook of whichever handle opened it, which may be gone by then. Each
        # pooled handle keeps its own connections, and the pool hands out the latest first.
        for data in (pycurl.LOCK_DATA_DNS, pycurl.LOCK_DATA_SSL_SESSION):
            self._share.setopt(pycurl.SH_SHARE, data)
        self._idle: list[pycurl.Curl] = []
        self._lock = threading.Lock()  # the pool: the engine's thread and a caller's probe
        self.multiplexing: set[Origin] = set()
        """Origins that answered over HTTP/2: their requests share a connection."""
        self.known: set[Origin] = set()
        """Origins that answered over https at all (HTTP/2 or not): no more probing."""
        self._probes: dict[Origin, Counter] = {}  # the engine's: origins asked the first time

    def fetch(self, request: Request, receiver: Receiver, signal: AbortSignal) -> bool:
        """Send ``request`` from the calling thread, blocking until its answer has been read."""
        return run_blocking(self._steps(request, receiver, signal, share=False))

    def fetch_steps(self, request: Request, receiver: Receiver, signal: AbortSignal) -> Steps[bool]:
        """Send ``request`` and push its answer into ``receiver``; returns whether the body was
        read to its end. Raises the network's failure, or the receiver's own exception."""
        return self._steps(request, receiver, signal, share=True)

    def _steps(
        self, request: Request, receiver: Receiver, signal: AbortSignal, share: bool
    ) -> Steps[bool]:
        url = request.url
        probing = False
        if share and self.http2 and url.scheme == "https" and url.origin not in self.known:
            # The first request to a host says whether it speaks HTTP/2; the others wait for
            # its answer (a second at most), and then share its connection if it does.
            first = self._probes.get(url.origin)
            if first is None:
                self._probes[url.origin] = Counter()
                probing = True
            else:
                yield Take(first, PROBE_WAIT)
        curl = self._acquire()
        try:
            return (yield from Exchange(self, curl, request, receiver, signal).steps())
        finally:
            self._release(curl)
            if probing:
                self.heard_from(url.origin)

    def heard_from(self, origin: Origin) -> None:
        """The first request to ``origin`` was answered (or ended): let the others go."""
        waiting = self._probes.pop(origin, None)
        while waiting is not None and waiting.waiters:
            waiting.release()

    def close(self) -> None:
        """Close every idle handle and, with the last of them, the shared connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for curl in idle:
            curl.close()

    def _acquire(self) -> pycurl.Curl:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        curl = pycurl.Curl()
        curl.setopt(pycurl.SHARE, self._share)  # kept by reset(), like the caches it shares
        return curl

    def _release(self, curl: pycurl.Curl) -> None:
        curl.reset()  # drops the exchange's callbacks (no cycle keeps it alive); keeps connections
        with self._lock:
            if len(self._idle) < _MAX_IDLE_HANDLES:
                self._idle.append(curl)
                return
        curl.close()

    def configure(self, curl: pycurl.Curl, request: Request) -> None:
        """Every option of one request, on a handle just reset."""
        url = request.url
        setopt = curl.setopt
        setopt(pycurl.URL, url.href)
        setopt(pycurl.PROTOCOLS, _PROTOCOLS)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.FOLLOWLOCATION, 0)
        setopt(pycurl.MAXCONNECTS, _CONNECTIONS_PER_HANDLE)
        setopt(pycurl.CONNECTTIMEOUT_MS, int(self.timeouts.connect * 1000))
        setopt(pycurl.USERAGENT, self.user_agent)
        setopt(pycurl.HTTP_CONTENT_DECODING, 0)
        setopt(_SUPPRESS_CONNECT_HEADERS, 1)
        setopt(pycurl.TCP_KEEPALIVE, 1)
        setopt(pycurl.BUFFERSIZE, RECEIVE_BUFFER)
        if not self.http2:
            setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        elif url.origin in self.multiplexing:
            # The host spoke HTTP/2 before: wait for a connection being made to it rather than
            # open one more, and many small files share one connection. Not for a host not
            # known yet: a TLS server without ALPN says nothing before its first answer, and
            # every other request would wait for that.
            setopt(pycurl.PIPEWAIT, 1)
        trust = self.trust
        if self._ca_file:
            setopt(pycurl.CAINFO, self._ca_file)
        if trust.directory:
            setopt(pycurl.CAPATH, trust.directory)
        if trust.native:
            setopt(pycurl.SSL_OPTIONS, pycurl.SSLOPT_NATIVE_CA)
        setopt(pycurl.PROXY, request.proxy or "")
        setopt(pycurl.NOPROXY, "")  # fetchq decided already; libcurl must not read no_proxy
        if request.headers:
            setopt(
                pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in request.headers.items()]
            )
        if request.byte_range is not None:
            first, end = request.byte_range
            setopt(pycurl.RANGE, f"{first}-" if end is None else f"{first}-{end - 1}")
        if request.credentials is not None:
            username, password = request.credentials
            setopt(pycurl.USERNAME, username)
            setopt(pycurl.PASSWORD, password)
            if url.scheme in ("http", "https"):
                setopt(pycurl.HTTPAUTH, _HTTP_AUTH[request.auth_scheme])
        if url.scheme in FTP_SCHEMES:
            setopt(pycurl.OPT_FILETIME, 1)
            if url.scheme == "ftps":
                setopt(pycurl.USE_SSL, pycurl.USESSL_ALL)


__all__ = ["CurlTransport", "Url", "curl_failure", "libcurl_version"]
