"""A caller's requests session as a transport: the reference API's ``requests_session``.

Code written for InvokeAI passes its own session (with its adapters, auth, cookies, proxies) and
expects it to be used as it is, so this transport sends each hop through that session, and
fetchq's own requests never come here. Only hops on the source's origin get the session's own
auth, headers and cookies; hops elsewhere get its proxies and TLS settings alone. Loaded with
the first such session: fetchq's own downloads never import requests.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Optional

import requests
import urllib3

from ._abort import AbortSignal
from ._failures import Failure, network_error
from ._retry import Timeouts
from ._steps import Blocking, Steps
from ._transport import Headers, Receiver, Request, ResponseHead

CHUNK_SIZE = 256 * 1024
DRAIN_AT_MOST = 64 * 1024
IDLE_EVERY = 0.05
"""How often the receiver hears that time passed (:meth:`Receiver.on_idle`) while bytes flow."""


def _keep_request(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An auth that changes nothing: stops a session's own auth from replacing our token."""
    return request


def requests_failure(exc: BaseException) -> Failure:
    """What a requests or urllib3 exception means for a download."""
    if isinstance(exc, requests.exceptions.SSLError):
        return Failure.CERTIFICATE if "CERTIFICATE" in str(exc).upper() else Failure.TLS
    if isinstance(exc, requests.exceptions.ProxyError):
        return Failure.PROXY
    if isinstance(
        exc, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    ):
        return Failure.TIMEOUT
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "NameResolutionError" in text or "Name or service not known" in text:
            return Failure.RESOLVE
        if "NewConnectionError" in text or "Connection refused" in text:
            return Failure.CONNECT
        return Failure.BROKEN
    if isinstance(
        exc,
        (
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            ConnectionError,
        ),
    ):
        return Failure.BROKEN
    if isinstance(exc, (requests.exceptions.InvalidHeader, urllib3.exceptions.HTTPError)):
        return Failure.PROTOCOL
    return Failure.OTHER


class RequestsTransport:
    """Sends each hop through a caller's ``requests.Session``."""

    def __init__(self, session: requests.Session, timeouts: Timeouts) -> None:
        self.session = session
        self.timeouts = timeouts

    def close(self) -> None:
        """The session is the caller's: its connections are theirs to close."""

    def fetch_steps(self, request: Request, receiver: Receiver, signal: AbortSignal) -> Steps[bool]:
        """requests can only block: the exchange runs on a thread (:class:`._steps.Blocking`),
        where the receiver is called."""
        done: bool = yield Blocking(lambda: self.fetch(request, receiver, signal))
        return done

    def fetch(self, request: Request, receiver: Receiver, signal: AbortSignal) -> bool:
        url = request.url
        try:
            response = self._send(request)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if signal.aborted:
                return False
            raise network_error(requests_failure(exc), url.host, url.authority, str(exc)) from exc
        raw = response.raw
        key = signal.attach(_closer(raw))
        try:
            head = ResponseHead(
                response.status_code,
                response.reason or "",
                # str(): an adapter a caller mounts (a test's) may hold ints, as requests allows
                Headers((name, str(value)) for name, value in response.headers.items()),
                url,
            )
            if not receiver.on_head(head):
                _drop(response)
                return False
            return self._read_body(raw, receiver, signal, request)
        finally:
            signal.detach(key)
            response.close()

    def _send(self, request: Request) -> requests.Response:
        headers = dict(request.headers)
        if request.byte_range is not None:
            first, end = request.byte_range
            headers["Range"] = f"bytes={first}-" if end is None else f"bytes={first}-{end - 1}"
        timeout = self.timeouts.as_requests()
        if request.trusted:
            auth: Any = None
            if "Authorization" in headers:
                auth = _keep_request
            elif request.credentials is not None:
                auth = (
                    requests.auth.HTTPDigestAuth(*request.credentials)
                    if request.auth_scheme == "digest"
                    else request.credentials  # requests cannot negotiate: Basic
                )
            return self.session.request(
                "GET",
                request.url.href,
                headers=headers,
                auth=auth,
                stream=True,
                allow_redirects=False,
                timeout=timeout,
            )
        prepared = requests.Request("GET", request.url.href, headers=headers).prepare()
        settings = self.session.merge_environment_settings(request.url.href, {}, True, None, None)
        return self.session.send(prepared, allow_redirects=False, timeout=timeout, **settings)

    def _read_body(
        self, raw: Any, receiver: Receiver, signal: AbortSignal, request: Request
    ) -> bool:
        read = _reader(raw)
        url = request.url
        pace = request.pace
        idle_at = time.monotonic() + IDLE_EVERY
        try:
            while True:
                data = read()
                if not data:
                    return True
                if receiver.on_data(data) is False:
                    return False
                if pace is not None:
                    delay = pace(len(data))
                    if delay > 0:
                        signal.wait(delay)
                now = time.monotonic()  # no engine ticks here: tell the receiver time passed
                if now >= idle_at:
                    idle_at = now + IDLE_EVERY
                    if receiver.on_idle() is False:
                        return False
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
            ValueError,
        ) as exc:
            if signal.aborted:
                return False
            raise network_error(requests_failure(exc), url.host, url.authority, str(exc)) from exc


def _reader(raw: Any) -> Callable[[], bytes]:
    """Reads what has arrived (up to a chunk), as served: we asked for no encoding."""
    if isinstance(raw, urllib3.BaseHTTPResponse):
        return lambda: raw.read1(CHUNK_SIZE, decode_content=False)
    return lambda: bytes(raw.read(CHUNK_SIZE))


def _closer(raw: Any) -> Any:
    """Shuts the response's socket down, so a read blocked on it returns at once."""
    connection = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock: Optional[socket.socket] = getattr(connection, "sock", None)

    def close() -> None:
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)

    return close


def _drop(response: requests.Response) -> None:
    """Read a short unwanted body to keep the connection; close a long one."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) <= DRAIN_AT_MOST:
        with suppress(Exception):
            response.raw.drain_conn()
