"""One request on one libcurl handle: its options' callbacks, and what they learnt.

An exchange is steps (:mod:`._steps`): it yields its handle to be performed (by the engine's
multi, or by ``perform()`` for a blocking call), reads the head when the body begins, feeds the
body to its receiver, and maps libcurl's outcome to fetchq's failures. The address guard runs
in its socket-open and connection-ready hooks, so the address checked is the one connected to.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Optional

import pycurl

from ._abort import AbortSignal
from ._exceptions import UnsafeDownloadURLException
from ._failures import Failure, network_error
from ._idle_connections import IDLE, shutdown
from ._steps import Perform, Steps
from ._transport import Headers, Receiver, Request, ResponseHead
from ._url import Url

if TYPE_CHECKING:
    from ._curl import CurlTransport

DRAIN_AT_MOST = 64 * 1024
"""A body nobody wants (a redirect's) is read to its end up to this size, keeping the
connection; a longer one closes it."""
FTP_SCHEMES = frozenset({"ftp", "ftps"})
_HTTP = frozenset({"http", "https"})
_IDLE_AFTER = 0.1
"""Seconds without a byte before the receiver is told it may write out what it holds."""

# libcurl's codes, mapped once to what happened. Anything else is Failure.OTHER.
_CURL_FAILURES: dict[int, Failure] = {
    pycurl.E_COULDNT_RESOLVE_HOST: Failure.RESOLVE,
    pycurl.E_COULDNT_CONNECT: Failure.CONNECT,
    pycurl.E_COULDNT_RESOLVE_PROXY: Failure.PROXY,
    97: Failure.PROXY,  # CURLE_PROXY: the proxy's handshake failed
    pycurl.E_OPERATION_TIMEDOUT: Failure.TIMEOUT,
    pycurl.E_RECV_ERROR: Failure.BROKEN,
    pycurl.E_SEND_ERROR: Failure.BROKEN,
    pycurl.E_GOT_NOTHING: Failure.BROKEN,
    pycurl.E_PARTIAL_FILE: Failure.BROKEN,
    pycurl.E_HTTP2: Failure.BROKEN,
    92: Failure.BROKEN,  # CURLE_HTTP2_STREAM
    95: Failure.BROKEN,  # CURLE_HTTP3
    8: Failure.PROTOCOL,  # CURLE_WEIRD_SERVER_REPLY
    # A status line libcurl cannot read ("HTTP/1.1 2\u00b20") is reported as an unsupported
    # protocol; fetchq's own URLs were checked before, so it can only be the reply.
    pycurl.E_UNSUPPORTED_PROTOCOL: Failure.PROTOCOL,
    pycurl.E_BAD_CONTENT_ENCODING: Failure.PROTOCOL,
    pycurl.E_FTP_WEIRD_PASV_REPLY: Failure.PROTOCOL,
    pycurl.E_FTP_WEIRD_227_FORMAT: Failure.PROTOCOL,
    pycurl.E_FTP_CANT_GET_HOST: Failure.PROTOCOL,
    pycurl.E_FTP_ACCEPT_TIMEOUT: Failure.TIMEOUT,
    100: Failure.PROTOCOL,  # CURLE_TOO_LARGE: a header section beyond libcurl's bound
    pycurl.E_SSL_CONNECT_ERROR: Failure.TLS,
    pycurl.E_USE_SSL_FAILED: Failure.TLS,
    pycurl.E_PEER_FAILED_VERIFICATION: Failure.CERTIFICATE,
    pycurl.E_SSL_CACERT_BADFILE: Failure.CERTIFICATE,
    pycurl.E_SSL_ISSUER_ERROR: Failure.CERTIFICATE,
    pycurl.E_SSL_PINNEDPUBKEYNOTMATCH: Failure.CERTIFICATE,
    pycurl.E_LOGIN_DENIED: Failure.LOGIN,
    pycurl.E_REMOTE_ACCESS_DENIED: Failure.LOGIN,
    pycurl.E_REMOTE_FILE_NOT_FOUND: Failure.MISSING,
    pycurl.E_FTP_COULDNT_RETR_FILE: Failure.MISSING,
    pycurl.E_FTP_COULDNT_USE_REST: Failure.NO_RESUME,
    pycurl.E_BAD_DOWNLOAD_RESUME: Failure.NO_RESUME,
    pycurl.E_RANGE_ERROR: Failure.NO_RESUME,
}


def curl_failure(code: int) -> Failure:
    """What libcurl's error ``code`` means for a download."""
    return _CURL_FAILURES.get(code, Failure.OTHER)


class Exchange:
    """One request on one handle: its callbacks, and what they learnt."""

    __slots__ = (
        "_blocking",
        "_complete",
        "_curl",
        "_downloaded",
        "_ftp_head",
        "_head",
        "_idle_told",
        "_last_byte",
        "_lines",
        "_local_port",
        "_opened",
        "_pace",
        "_reading",
        "_receiver",
        "_request",
        "_resume_at",
        "_smuggled",
        "_socket_key",
        "_stalled",
        "_stopped",
        "_transport",
        "blocked",
        "error",
        "signal",
    )

    def __init__(
        self,
        transport: CurlTransport,
        curl: pycurl.Curl,
        request: Request,
        receiver: Receiver,
        signal: AbortSignal,
    ) -> None:
        self._transport = transport
        self._curl = curl
        self._request = request
        self._receiver = receiver
        self.signal = signal
        self._pace = request.pace
        self._resume_at = 0.0
        self._blocking = False
        self._lines: list[bytes] = []
        self._head: Optional[ResponseHead] = None
        self._reading = True
        self._stopped = False
        self._socket_key = -1
        self._complete = True
        self._downloaded = 0
        self._last_byte = time.monotonic()
        self._stalled = False
        self._idle_told = False
        self._opened: list[int] = []  # the sockets this request made
        self._local_port = 0
        self._smuggled = False
        self._ftp_head: Optional[ResponseHead] = None
        self.error: Optional[BaseException] = None
        self.blocked: Optional[str] = None

    def steps(self) -> Steps[bool]:
        curl = self._curl
        if self._request.url.scheme in FTP_SCHEMES:
            self._ftp_head = yield from self._ask_ftp_size()
            if self._ftp_head.status == 416:
                self._deliver(self._ftp_head)
                return self._result()
            curl.reset()
        self._configure_transfer()
        yield from self._perform()
        if self._smuggled:
            # A kept connection held bytes nobody asked for: ask again on a new one.
            self._smuggled = False
            curl.reset()
            self._configure_transfer()
            curl.setopt(pycurl.FRESH_CONNECT, 1)
            yield from self._perform()
        if self._head is None and self._complete and self.error is None:
            self._deliver_head()  # a response with no body, or an empty FTP file
        return self._result()

    def _configure_transfer(self) -> None:
        curl = self._curl
        self._transport.configure(curl, self._request)
        # Header lines are kept by a C method, not a Python call each; the head is read once,
        # when the body begins (or the response ends without one).
        curl.setopt(pycurl.HEADERFUNCTION, _discard if self._ftp_head else self._lines.append)
        curl.setopt(pycurl.WRITEFUNCTION, self._write)

    def _perform(self) -> Steps[None]:
        curl = self._curl
        curl.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
        curl.setopt(pycurl.PREREQFUNCTION, self._connected)
        try:
            failure = yield Perform(curl, self)
        finally:
            if self._socket_key >= 0:
                self.signal.detach(self._socket_key)
                self._socket_key = -1
        if failure is not None:
            self._failed(failure)

    def blocking(self) -> None:
        """Performed in the caller's thread: libcurl's progress hook watches for an abort and
        a stall, and an abort shuts the socket down (a blocked read returns at once)."""
        self._blocking = True
        self._curl.setopt(pycurl.NOPROGRESS, 0)
        self._curl.setopt(pycurl.XFERINFOFUNCTION, self._progress)

    def on_tick(self, now: float) -> bool:
        """The engine's clock: end a paused read's pause, notice a stall, and let the receiver
        write out what it holds (so no chunk needs a clock read of its own)."""
        if self.signal.aborted:
            return False
        if self._resume_at:
            self._last_byte = now  # not a stall: the speed limit holds it
            if now < self._resume_at:
                return True
            self._resume_at = 0.0
            self._curl.pause(pycurl.PAUSE_CONT)
        if self._count(self._curl.getinfo(pycurl.SIZE_DOWNLOAD_T), now):
            return False
        if self._reading and self._head is not None:
            try:
                if self._receiver.on_idle() is False:
                    self._stopped = True
                    return False
            except BaseException as exc:  # raised by steps()
                self.error = exc
                return False
        return True

    def _result(self) -> bool:
        if self.error is not None:
            raise self.error
        return self._reading and not self._stopped and self._complete

    def _ask_ftp_size(self) -> Steps[ResponseHead]:
        """FTP has no response head: ask for the file's size and date first (``SIZE`` and
        ``MDTM``, on the control connection the transfer then reuses), and make one."""
        curl = self._curl
        self._transport.configure(curl, dataclasses.replace(self._request, byte_range=None))
        curl.setopt(pycurl.NOBODY, 1)
        curl.setopt(pycurl.HEADERFUNCTION, _discard)
        curl.setopt(pycurl.WRITEFUNCTION, _discard)  # libcurl writes the size as text here
        yield from self._perform()
        if self.error is not None:
            raise self.error
        size = int(curl.getinfo(pycurl.CONTENT_LENGTH_DOWNLOAD_T))
        filetime = int(curl.getinfo(pycurl.INFO_FILETIME))
        return _ftp_head(size, filetime, self._request)

    def _failed(self, exc: pycurl.error) -> None:
        """Sort out why perform() failed: a receiver's exception (kept for run() to raise), an
        abort or a receiver that had enough (not failures), the guard, or the network."""
        self._complete = False
        if self.error is not None or self.signal.aborted:
            return
        code = exc.args[0]
        if self._stopped and code in (pycurl.E_WRITE_ERROR, pycurl.E_ABORTED_BY_CALLBACK):
            return  # the receiver had enough
        if self._smuggled:
            self._complete = True  # asked again at once, on a new connection
            return
        url = self._request.url
        if self.blocked is not None:
            self.error = UnsafeDownloadURLException(
                f"refused to connect to {url.host} at non-public address {self.blocked}"
            )
            return
        if self._stalled:
            seconds = self._transport.timeouts.read
            self.error = network_error(
                Failure.TIMEOUT, url.host, url.authority, f"no data for {seconds:g} s"
            )
            return
        detail = exc.args[1] if len(exc.args) > 1 else None
        self.error = network_error(curl_failure(code), url.host, url.authority, detail)

    # -- callbacks (the thread performing the handle) ---------------------------------------

    def _open_socket(self, purpose: int, address: tuple[int, int, int, tuple[str, int]]) -> int:
        """Make the socket of a new connection, if the address policy allows its peer.

        While this request runs, an abort shuts the socket down, so a read blocked on it
        returns at once. (A reused connection is reached by the progress hook instead,
        within a second.) libcurl closes the socket only when this request has failed and
        ends, so the number is still this socket's whenever the abort comes before the end.
        """
        family, socktype, protocol, peer = address
        policy = self._request.address_policy
        if policy is not None and not policy(str(peer[0])):
            self.blocked = str(peer[0])
            return pycurl.SOCKET_BAD  # type: ignore[no-any-return]
        try:
            fd = socket.socket(family, socktype, protocol).detach()
        except OSError:
            return pycurl.SOCKET_BAD  # type: ignore[no-any-return]
        if self._blocking:  # in the engine, an abort takes the handle out of its multi instead
            if self._socket_key >= 0:
                self.signal.detach(self._socket_key)
            self._socket_key = self.signal.attach(lambda: shutdown(fd))
        self._opened.append(fd)
        return fd

    def _connected(self, primary_ip: str, local_ip: str, primary_port: int, local_port: int) -> int:
        """The connection is ready, new or reused: the guard looks at its peer once more, and
        a reused one must hold no bytes that arrived while it was idle."""
        policy = self._request.address_policy
        if policy is not None and not policy(primary_ip):
            self.blocked = primary_ip
            return pycurl.PREREQFUNC_ABORT  # type: ignore[no-any-return]
        self._local_port = local_port
        url = self._request.url
        if url.scheme in _HTTP and url.origin not in self._transport.multiplexing:
            if self._opened:
                IDLE.opened(self._opened, local_port, primary_ip, primary_port)
            elif IDLE.has_bytes(local_port, primary_ip, primary_port):
                self._smuggled = True
                return pycurl.PREREQFUNC_ABORT  # type: ignore[no-any-return]
        return pycurl.PREREQFUNC_OK  # type: ignore[no-any-return]

    def _deliver_head(self) -> Optional[int]:
        """Hand the head over: the FTP one made earlier, or the HTTP one read from the lines."""
        head = self._ftp_head or parse_head(self._lines, self._request.url)
        if head is None:
            return None
        url = self._request.url
        if url.scheme == "https" and url.origin not in self._transport.known:
            # The status line says the version (pycurl's getinfo is refused in a callback).
            self._transport.known.add(url.origin)
            if multiplexed(self._lines):
                self._transport.multiplexing.add(url.origin)  # the next requests share
                IDLE.forget(self._local_port)  # bytes of other streams are normal there
            self._transport.heard_from(url.origin)
        return self._deliver(head)

    def _deliver(self, head: ResponseHead) -> Optional[int]:
        self._head = head
        try:
            self._reading = self._receiver.on_head(head)
        except BaseException as exc:
            self.error = exc
            return -1
        if not self._reading and _body_longer_than(head, DRAIN_AT_MOST):
            self._stopped = True
            return -1
        return None

    def _write(self, data: bytes) -> Optional[int]:
        if self._head is None and self._deliver_head() is not None:
            return 0
        if not self._reading:
            return None  # a short body nobody wants: read it, keep the connection
        try:
            if self._receiver.on_data(data) is False:
                self._stopped = True
                return 0
            if self._pace is not None:
                delay = self._pace(len(data))
                if delay > 0:
                    self._wait(delay)
        except BaseException as exc:
            self.error = exc
            return 0
        return None

    def _wait(self, delay: float) -> None:
        """Hold reading for ``delay`` seconds (the speed limit): in the engine, the handle is
        paused and its next tick past the time resumes it."""
        if self._blocking:
            self.signal.wait(delay)
        else:
            self._resume_at = time.monotonic() + delay
            self._curl.pause(pycurl.PAUSE_RECV)

    def _count(self, downloaded: int, now: float) -> bool:
        """Note the bytes libcurl has read so far; True when none came for the read timeout
        (a stall), counted from the last byte (the engine's tick and the blocking progress
        hook both ask)."""
        if downloaded != self._downloaded:
            self._downloaded, self._last_byte = downloaded, now
            self._idle_told = False
            return False
        self._stalled = now - self._last_byte > self._transport.timeouts.read
        return self._stalled

    def _progress(
        self, download_total: int, downloaded: int, upload_total: int, uploaded: int
    ) -> int:
        """Abort when asked to, or when no byte came for the read timeout.

        libcurl's own low-speed limit averages over several seconds, so after a fast start
        a stall went unnoticed for five more; this counts from the last byte. libcurl calls
        here many times a second while bytes flow and about once a second when they stop.
        """
        if self.signal.aborted:
            return 1
        now = time.monotonic()
        if self._count(downloaded, now):
            return 1
        if not self._idle_told and now - self._last_byte >= _IDLE_AFTER and self._reading:
            self._idle_told = True
            try:
                self._receiver.on_idle()
            except BaseException as exc:  # re-raised by run()
                self.error = exc
                return 1
        return 0


def parse_head(lines: list[bytes], url: Url) -> Optional[ResponseHead]:
    """The final response's head from the header lines libcurl passed on (interim 1xx
    answers included, and parsed by libcurl already: this only splits them). Folded lines
    (obs-fold) continue the field before them."""
    start = None
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(b"HTTP/"):
            status = _status_of(lines[index])
            if status >= 200 or status == 0:
                start = index
                break
    if start is None:
        return None
    status_line = lines[start].decode("latin-1").rstrip("\r\n")
    _version, _, rest = status_line.partition(" ")
    _code, _, reason = rest.partition(" ")
    fields: list[tuple[str, str]] = []
    for raw in lines[start + 1 :]:
        text = raw.decode("latin-1")
        if text in ("\r\n", "\n"):
            break
        if text[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {text.strip()}")
            continue
        name, colon, value = text.partition(":")
        if colon:
            fields.append((name.strip(), value.strip()))
    return ResponseHead(_status_of(lines[start]), reason.strip(), Headers(fields), url)


def multiplexed(lines: list[bytes]) -> bool:
    """Whether the response in these header lines came over HTTP/2 or HTTP/3."""
    for line in reversed(lines):
        if line.startswith(b"HTTP/"):
            return line.startswith((b"HTTP/2", b"HTTP/3"))
    return False


def _status_of(status_line: bytes) -> int:
    parts = status_line.split(None, 2)
    code = parts[1] if len(parts) > 1 else b""
    return int(code) if code.isdigit() and len(code) == 3 else 0


def _discard(data: bytes) -> None:
    return None


def _body_longer_than(head: ResponseHead, limit: int) -> bool:
    length = head.header("content-length")
    return length is None or not length.isdigit() or int(length) > limit


def _ftp_head(size: int, filetime: int, request: Request) -> ResponseHead:
    """What an HTTP server would have answered to ``request`` for a file of ``size`` bytes
    (-1: unknown) last modified at ``filetime`` (-1: unknown)."""
    fields = [("Accept-Ranges", "bytes")]
    if filetime > 0:
        fields.append(("Last-Modified", formatdate(filetime, usegmt=True)))
    byte_range = request.byte_range
    if size < 0:
        return ResponseHead(200, "OK", Headers(fields), request.url)
    first = byte_range[0] if byte_range is not None else 0
    if byte_range is not None and first >= size:
        fields.append(("Content-Range", f"bytes */{size}"))
        return ResponseHead(416, "Range Not Satisfiable", Headers(fields), request.url)
    end = size if byte_range is None or byte_range[1] is None else min(size, byte_range[1])
    fields.append(("Content-Length", str(end - first)))
    if byte_range is None:
        return ResponseHead(200, "OK", Headers(fields), request.url)
    fields.append(("Content-Range", f"bytes {first}-{end - 1}/{size}"))
    return ResponseHead(206, "Partial Content", Headers(fields), request.url)
