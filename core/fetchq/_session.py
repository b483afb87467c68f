"""Requests through requests and urllib3: TLS, proxies, and callers' sessions.

Plain http on fetchq's own session never comes here (:mod:`._wire` sends it), so this module,
and requests and urllib3 with it, load only when the first such request is made: importing
them costs about a tenth of a second of start-up.
"""

from __future__ import annotations

import http.client
import select
import socket
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, Optional, cast
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ._exceptions import BlockedAddressError
from ._http import USER_AGENT, HttpResponse, check_connected, report_socket
from ._retry import Timeouts
from ._wire import DRAIN_AT_MOST, BodyReader, PipeFiller, path_and_query


class _WatchedConnectionMixin:
    """Checks each new socket against the address policy and reports it to the current scope."""

    sock: Optional[socket.socket]

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            check_connected(sock)
        except BlockedAddressError:
            sock.close()
            raise
        return sock

    def getresponse(self) -> Any:
        if self.sock is not None:
            report_socket(self.sock)
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


def _keep_request(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that changes nothing: stops a session's own auth from replacing our token."""
    return request


def send_with_session(
    session: requests.Session,
    url: str,
    headers: Mapping[str, str],
    keep_authorization: bool,
    timeouts: Timeouts,
) -> HttpResponse:
    """GET through the session's full ``request`` (its auth, cookies, hooks, proxies).

    ``keep_authorization``: our token is in the headers; the session's auth must not replace it.
    """
    response = session.request(
        "GET",
        url,
        headers=dict(headers),
        auth=_keep_request if keep_authorization else None,
        stream=True,
        allow_redirects=False,
        timeout=timeouts.as_requests(),
    )
    return Urllib3Response.of_requests(response)


def send_untrusted(
    session: requests.Session, url: str, headers: Mapping[str, str], timeouts: Timeouts
) -> HttpResponse:
    """GET to another origin: the session's proxies and TLS settings, but none of its headers,
    auth or cookies."""
    request = requests.Request("GET", url, headers=dict(headers)).prepare()
    settings = session.merge_environment_settings(url, {}, True, None, None)
    response = session.send(
        request, allow_redirects=False, timeout=timeouts.as_requests(), **settings
    )
    return Urllib3Response.of_requests(response)


def send_on_adapter(
    session: requests.Session, url: str, headers: dict[str, str], timeouts: Timeouts
) -> HttpResponse:
    """GET straight on the session's mounted adapter, as ``HTTPAdapter.send`` would, skipping
    the Session's per-request work (used for fetchq's own session without a proxy)."""
    adapter = session.get_adapter(url)
    assert isinstance(adapter, HTTPAdapter)
    target = requests.PreparedRequest()
    target.url = url
    pool = adapter.get_connection_with_tls_context(target, verify=True)
    assert isinstance(pool, HTTPConnectionPool)
    cast(Any, adapter).cert_verify(pool, url, True, None)  # untyped in the stubs
    raw = pool.urlopen(
        "GET",
        path_and_query(urlsplit(url)),
        headers=headers,
        redirect=False,
        assert_same_host=False,
        preload_content=False,
        decode_content=False,
        retries=False,
        timeout=urllib3.Timeout(connect=timeouts.connect, read=timeouts.read),
    )
    return Urllib3Response.of_urllib3(raw)
