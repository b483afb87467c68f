"""A lean HTTP/1.1 GET for plain ``http://`` URLs, over pooled keep-alive sockets.

For a small file, most of the time requests and urllib3 take goes to building the request and
parsing the answer (http.client hands the headers to the ``email`` package): about half a
millisecond a file, more than the file itself costs on a fast link. This client does only what
fetchq's transfers use: one GET, status and headers into a dict, and a body read straight from
the socket into the caller's buffer (or, on Linux, spliced into a kernel pipe), framed by
Content-Length, chunked coding or the end of the connection. It is used for fetchq's own
session without a proxy; TLS, proxies, URLs with credentials and callers' sessions keep going
through requests.

Malformed answers raise :class:`WireError`, an ``http.client.HTTPException`` like http.client's
own, so transfers retry them the same way. A connection goes back to the pool only after its
body was read exactly to its end; one that answered with extra bytes, or says ``close``, never.
"""

from __future__ import annotations

import collections
import functools
import http.client
import re
import select
import socket
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import NamedTuple, Optional
from urllib.parse import SplitResult, quote, urlsplit

from . import _splice
from ._splice import KernelPipe

BodyReader = Callable[[memoryview], int]
"""Reads the next bytes of a body into the view; returns how many, 0 at the end."""
PipeFiller = Callable[[KernelPipe, int], int]
"""Moves up to that many next bytes of a body into the pipe; returns how many, 0 at the end."""

MAX_HEAD = 64 * 1024
"""Bytes a status line and headers may take together (http.client allows 100 lines of 64 KiB)."""
MAX_HEADERS = 100
DRAIN_AT_MOST = 64 * 1024
"""A body nobody reads is read to its end, to keep the connection, only up to this length."""
PIPELINE_BELOW = 256 * 1024
"""The next request is sent behind an answer only when its body is at most this long."""
PIPELINE_TRIAL_TIMEOUT = 2.0
"""Seconds the first pipelined answer from a host may take before we conclude the host does
not answer pipelined requests, and send that request again on its own."""
_RECV = 64 * 1024
_NO_BODY = frozenset({204, 304})
_SAFE_IN_TARGET = "!#$%&'()*+,/:;=?@[]~"
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9_.\-~!#$%&'()*+,/:;=?@\[\]]*")
"""A request target ``quote`` would leave as it is: no need to call it."""


class WireError(http.client.HTTPException):
    """The server's answer is not HTTP/1.x as we can read it."""


def can_send(url: str) -> bool:
    """Whether this client handles ``url``: plain http, no credentials in it."""
    return _request_line_parts(url) is not None


@functools.lru_cache(maxsize=1024)
def _request_line_parts(url: str) -> Optional[tuple[tuple[str, int], str, str]]:
    """(host, port), request target and Host header of a URL this client sends, else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or "@" in parts.netloc:  # "@": credentials in the URL
        return None
    host = parts.hostname or ""
    given_port = parts.port
    port = given_port or 80
    path = path_and_query(parts)
    host_header = f"[{host}]" if ":" in host else host
    if given_port is not None and given_port != 80:
        host_header += f":{port}"
    target = path if _PLAIN_TARGET.fullmatch(path) else quote(path, _SAFE_IN_TARGET)
    return (host, port), target, host_header


def path_and_query(parts: SplitResult) -> str:
    """A request's target as an origin server takes it: the path (``/`` if empty) and query."""
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class _Connection:
    """One socket and the bytes read from it but not yet used."""

    __slots__ = ("ahead", "key", "pending", "poller", "sock")

    def __init__(self, key: tuple[str, int], sock: socket.socket) -> None:
        self.key = key
        self.sock = sock
        self.pending = bytearray()
        self.ahead: Optional[bytes] = None
        """A request sent before the answer in progress was read: pipelined, not yet answered."""
        self.poller: Optional[select.poll] = None
        if hasattr(select, "poll"):
            self.poller = select.poll()
            self.poller.register(sock, select.POLLIN)

    def readable_now(self) -> bool:
        """Bytes (or the end) are waiting: a check that never blocks."""
        if self.poller is not None:
            return bool(self.poller.poll(0))
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        with suppress(OSError):
            self.sock.close()


class _Expected(NamedTuple):
    """The request a thread expects to send next, already built."""

    url: str
    headers: dict[str, str]
    key: tuple[str, int]
    request: bytes


class WirePool:
    """Idle keep-alive connections by (host, port); at most ``per_host`` kept for each."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, int], collections.deque[_Connection]] = {}
        # Pipelining, per thread: the request a thread expects to send next, and the connection
        # on which it was sent ahead (see :meth:`expect_next`).
        self._next: dict[int, _Expected] = {}
        self._ahead: dict[int, _Connection] = {}
        self._pipelining_works: set[tuple[str, int]] = set()
        self._pipelining_fails: set[tuple[str, int]] = set()
        weakref.finalize(self, _close_all, self._idle, self._ahead)  # a pool nobody closed

    def expect_next(self, url: Optional[str], headers: Optional[dict[str, str]] = None) -> None:
        """This thread's next request will probably be ``GET url`` with ``headers`` (None: unknown).

        When the answer in progress is a small body on a keep-alive connection, that request is
        sent on it at once, so the server prepares the next answer while this one is handled:
        a round trip per small file saved. If the next request turns out different, the
        connection is closed and the request sent again: a GET has no side effects.
        """
        ident = threading.get_ident()
        headers = dict(headers or {})
        built = None
        if url is not None:
            with suppress(WireError):  # a bad header: the request itself will say so
                built = build_request(url, headers)
        with self._lock:
            if url is None or built is None:
                self._next.pop(ident, None)
            else:
                self._next[ident] = _Expected(url, headers, *built)

    def _take_expected(
        self, url: str, headers: dict[str, str]
    ) -> Optional[tuple[tuple[str, int], bytes]]:
        """The request expected next, already built, when this is it: no longer expected."""
        ident = threading.get_ident()
        with self._lock:
            expected = self._next.get(ident)
            if expected is None or expected.url != url or expected.headers != headers:
                return None
            del self._next[ident]
        return expected.key, expected.request

    def forget_thread(self) -> None:
        """This thread sends no more requests: drop what it expected and what it sent ahead."""
        ident = threading.get_ident()
        with self._lock:
            self._next.pop(ident, None)
            connection = self._ahead.pop(ident, None)
        if connection is not None:
            connection.close()

    def _send_ahead(self, connection: _Connection) -> None:
        """Send this thread's expected next request on ``connection``, if it goes there and
        its host takes pipelined requests."""
        if connection.key in self._pipelining_fails:
            return
        ident = threading.get_ident()
        with self._lock:
            expected = self._next.get(ident)
            if expected is None or expected.key != connection.key:
                return
            del self._next[ident]
        try:
            connection.sock.sendall(expected.request)
        except OSError:
            return  # the answer in progress decides what happens to this connection
        connection.ahead = expected.request

    def _keep_ahead(self, connection: _Connection) -> None:
        ident = threading.get_ident()
        with self._lock:
            previous = self._ahead.pop(ident, None)
            self._ahead[ident] = connection
        if previous is not None:
            previous.close()

    def _take_ahead(self, request: bytes) -> Optional[_Connection]:
        """This thread's connection whose request in flight is ``request``; others are closed."""
        with self._lock:
            connection = self._ahead.pop(threading.get_ident(), None)
        if connection is None:
            return None
        if connection.ahead == request:
            return connection
        connection.close()  # the answer would be to a request nobody makes now
        return None

    def take(self, key: tuple[str, int]) -> Optional[_Connection]:
        """An idle connection the server has not closed meanwhile, or None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                return None
            # An idle connection with anything to read was closed by the server (or holds
            # bytes nobody asked for): either way it cannot carry another request.
            if not connection.pending and not connection.readable_now():
                return connection
            connection.close()

    def give(self, connection: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(connection.key, collections.deque())
            if len(idle) < self.per_host:
                idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        """Close every idle connection; the pool stays usable."""
        with self._lock:
            idle = dict(self._idle)
            self._idle.clear()
            ahead = dict(self._ahead)
            self._ahead.clear()
        _close_all(idle, ahead)


def _close_all(
    idle: dict[tuple[str, int], collections.deque[_Connection]],
    ahead: dict[int, _Connection],
) -> None:
    for connections in idle.values():
        for connection in connections:
            connection.close()
    for connection in ahead.values():
        connection.close()


OnSocket = Callable[[socket.socket], None]
"""Called with every socket a request uses before it blocks on it (may raise to refuse it)."""


def send_get(
    pool: WirePool,
    url: str,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    on_new_socket: OnSocket,
    on_socket: OnSocket,
) -> WireResponse:
    """Send ``GET url`` with ``headers`` and read the status and headers of the answer.

    A reused connection that turns out to be closed before the first byte of the answer is
    replaced by a new one once (a GET may be sent again); any other failure raises.
    """
    built = pool._take_expected(url, headers) or build_request(url, headers)
    if built is None:
        raise WireError(f"not a plain http URL: {url.split(':', 1)[0]}:")
    key, request = built
    ahead = pool._take_ahead(request)
    if ahead is not None:
        on_socket(ahead.sock)
        ahead.ahead = None
        trial = key not in pool._pipelining_works
        try:
            response = _exchange(
                pool,
                ahead,
                None,
                read_timeout,
                min(read_timeout, PIPELINE_TRIAL_TIMEOUT) if trial else read_timeout,
            )
        except _ClosedBeforeAnswer:
            ahead.close()  # closed instead of answering: this request goes out again below
            if trial:
                pool._pipelining_fails.add(key)
        except TimeoutError:
            if not trial:
                raise
            # No answer to a request sent before the last answer was read: the host does not
            # take pipelined requests. Never again for it; this one goes out again on its own.
            ahead.close()
            pool._pipelining_fails.add(key)
        else:
            pool._pipelining_works.add(key)
            return response
    reused = pool.take(key)
    if reused is not None:
        on_socket(reused.sock)
        try:
            return _exchange(pool, reused, request, read_timeout)
        except _ClosedBeforeAnswer:
            reused.close()
    sock = socket.create_connection(key, timeout=connect_timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        on_new_socket(sock)
        on_socket(sock)
    except BaseException:
        sock.close()
        raise
    connection = _Connection(key, sock)
    try:
        return _exchange(pool, connection, request, read_timeout)
    except _ClosedBeforeAnswer as exc:
        connection.close()
        raise http.client.RemoteDisconnected(
            "the server closed the connection without answering"
        ) from exc


def build_request(url: str, headers: dict[str, str]) -> Optional[tuple[tuple[str, int], bytes]]:
    """(host, port) and the bytes of ``GET url`` with ``headers``; None if not for this client."""
    request_parts = _request_line_parts(url)
    if request_parts is None:
        return None
    key, target, host_header = request_parts
    lines = [f"GET {target} HTTP/1.1", f"Host: {host_header}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise WireError(f"invalid header {name!r}")
        lines.append(f"{name}: {value}")
    return key, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")


class _ClosedBeforeAnswer(Exception):
    pass


def _exchange(
    pool: WirePool,
    connection: _Connection,
    request: Optional[bytes],
    read_timeout: float,
    head_timeout: Optional[float] = None,
) -> WireResponse:
    """Send ``request`` (None: it was sent ahead) and read the answer's head."""
    sock = connection.sock
    try:
        _set_timeout(sock, read_timeout if head_timeout is None else head_timeout)
        if request is not None:
            try:
                sock.sendall(request)
            except (ConnectionResetError, BrokenPipeError) as exc:
                raise _ClosedBeforeAnswer() from exc
        while True:  # skip 1xx interim answers
            head = _read_head(connection)
            response = WireResponse(pool, connection, head)
            if not 100 <= response.status_code < 200:
                break
        if head_timeout is not None:
            _set_timeout(sock, read_timeout)
        if response.pipelinable():
            pool._send_ahead(connection)
        return response
    except _ClosedBeforeAnswer:
        raise
    except BaseException:
        connection.close()
        raise


def _set_timeout(sock: socket.socket, seconds: float) -> None:
    """``settimeout`` costs a system call each time, even when nothing changes."""
    if sock.gettimeout() != seconds:
        sock.settimeout(seconds)


def _read_head(connection: _Connection) -> bytes:
    buffer = connection.pending
    searched = 0
    while True:
        end = buffer.find(b"\r\n\r\n", max(0, searched - 3))
        if end >= 0:
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            return head
        if len(buffer) > MAX_HEAD:
            raise WireError("the response headers are too long")
        searched = len(buffer)
        try:
            data = connection.sock.recv(_RECV)
        except (ConnectionResetError, BrokenPipeError) as exc:
            if not buffer:
                raise _ClosedBeforeAnswer() from exc
            raise
        if not data:
            if not buffer:
                raise _ClosedBeforeAnswer()
            raise http.client.IncompleteRead(bytes(buffer))
        buffer += data


_FIELD_LINE = re.compile(r"^([!-9;-~]+):[ \t]*([^\r\n]*?)[ \t]*\r$", re.MULTILINE)
"""One ordinary header line: a token, a colon, a value without line breaks."""


def _parse_fields(lines: list[str]) -> dict[str, str]:
    """Header lines (after the status line) into a dict, names in lower case, repeats joined.

    One regular expression takes the common case in a single call; if any line is not an
    ordinary one, the lines are read one by one, which also names the bad line.
    """
    fields = lines[1:]
    pairs: list[tuple[str, str]] = []
    if fields:
        pairs = _FIELD_LINE.findall("\r\n".join(fields) + "\r\n")
    if len(pairs) != len(fields):
        pairs = [_split_field(line) for line in fields]
    headers: dict[str, str] = {}
    for raw_name, value in pairs:
        name = raw_name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _split_field(line: str) -> tuple[str, str]:
    """One header line's name and value, or WireError naming the line."""
    name, colon, value = line.partition(":")
    if not colon or not name or name != name.strip():
        raise WireError(f"bad header line {line[:100]!r}")
    return name, value.strip(" \t")


class WireResponse:
    """Status, headers and body of one answer; gives its connection back when read to the end."""

    def __init__(self, pool: WirePool, connection: _Connection, head: bytes) -> None:
        self._pool = pool
        self._connection: Optional[_Connection] = connection
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise WireError(f"bad status line {lines[0][:100]!r}")
        if len(lines) > MAX_HEADERS + 1:
            raise WireError("too many response headers")
        self.status_code = int(code)
        self.reason = reason.strip()
        self.headers = headers = _parse_fields(lines)
        self.socket: Optional[socket.socket] = connection.sock
        self._keep_alive = version == "HTTP/1.1" and not _has_token(
            headers.get("connection"), "close"
        )
        self._chunked = _has_token(headers.get("transfer-encoding"), "chunked")
        self._remaining: Optional[int] = None  # bytes of the body (or chunk) still to come
        self._finished = False
        if self.status_code in _NO_BODY or self._chunked:
            self._remaining = 0
        else:
            length = headers.get("content-length")
            if length is not None:
                if not length.isdigit():
                    raise WireError(f"bad Content-Length {length[:40]!r}")
                self._remaining = int(length)
            else:
                self._keep_alive = False  # the body ends when the connection does
        if not self._chunked and self._remaining == 0:
            self._finished = True

    def pipelinable(self) -> bool:
        """A successful, small, keep-alive answer: the next request may be sent behind it.

        Not when more bytes than the body have already arrived: sent before the server could
        have seen our next request, they cannot be its answer, only a broken server's excess.
        """
        connection = self._connection
        return (
            connection is not None
            and 200 <= self.status_code < 300
            and self._keep_alive
            and not self._chunked
            and self._remaining is not None
            and self._remaining <= PIPELINE_BELOW
            and len(connection.pending) <= self._remaining
        )

    # -- the body ---------------------------------------------------------------------------

    def body_reader(self) -> BodyReader:
        return self.readinto

    def readinto(self, view: memoryview) -> int:
        """Bytes that have arrived (waiting for the first ones), up to ``len(view)``.

        0 at the end of the body, and also when a body with a length ends early (the caller
        compares what it got with the length); a chunked body that ends early raises.
        """
        if self._finished or not len(view):
            return 0
        connection = self._open_connection()
        if self._chunked:
            return self._read_chunked(connection, view)
        remaining = self._remaining
        if remaining is not None and len(view) > remaining:
            view = view[:remaining]
        return self._count_read(self._read_some(connection, view))

    def pipe_filler(self) -> Optional[PipeFiller]:
        """Moves the body into a kernel pipe where the platform can; not for chunked bodies."""
        return self.fill_pipe if _splice.AVAILABLE and not self._chunked else None

    def fill_pipe(self, pipe: KernelPipe, count: int) -> int:
        """Like :meth:`readinto`, but the bytes go into ``pipe``, up to ``count`` of them."""
        if self._finished or count <= 0:
            return 0
        connection = self._open_connection()
        if self._remaining is not None:
            count = min(count, self._remaining)
        pending = connection.pending
        if pending:
            got = pipe.put(pending[:count])
            del pending[:got]
        else:
            got = pipe.fill_from(connection.sock, count)
        return self._count_read(got)

    def _open_connection(self) -> _Connection:
        connection = self._connection
        if connection is None:
            raise ValueError("read from a closed response")
        return connection

    def _count_read(self, count: int) -> int:
        """Account for ``count`` bytes of a body that is not chunked."""
        remaining = self._remaining
        if remaining is not None:
            if not count:  # the end came early: the caller sees 0 bytes short of the length
                self._keep_alive = False
                return 0
            self._remaining = remaining - count
            if self._remaining == 0:
                self._finished = True
        elif not count:
            self._finished = True
        return count

    def _read_some(self, connection: _Connection, view: memoryview) -> int:
        pending = connection.pending
        if pending:
            count = min(len(view), len(pending))
            view[:count] = pending[:count]
            del pending[:count]
            return count
        count = connection.sock.recv_into(view)
        # Take what else has already arrived, without waiting: a fast link fills the whole
        # buffer in one call, a slow one still reports its bytes as soon as they come.
        while 0 < count < len(view) and connection.readable_now():
            more = connection.sock.recv_into(view[count:])
            if not more:
                break
            count += more
        return count

    def _read_chunked(self, connection: _Connection, view: memoryview) -> int:
        if not self._remaining:
            size = self._next_chunk_size(connection)
            if size == 0:
                self._skip_trailers(connection)
                self._finished = True
                return 0
            self._remaining = size
        assert self._remaining is not None
        count = self._read_some(connection, view[: self._remaining])
        if not count:
            raise http.client.IncompleteRead(b"", self._remaining)
        self._remaining -= count
        if self._remaining == 0:
            self._expect_line_end(connection)
        return count

    def _line(self, connection: _Connection) -> bytes:
        pending = connection.pending
        while True:
            end = pending.find(b"\r\n")
            if end >= 0:
                line = bytes(pending[:end])
                del pending[: end + 2]
                return line
            if len(pending) > 4096:
                raise WireError("a chunk header is too long")
            data = connection.sock.recv(_RECV)
            if not data:
                raise http.client.IncompleteRead(bytes(pending))
            pending += data

    def _next_chunk_size(self, connection: _Connection) -> int:
        text = self._line(connection).split(b";", 1)[0].strip()
        try:
            size = int(text, 16)
        except ValueError:
            raise WireError(f"bad chunk size {text[:20]!r}") from None
        if size < 0:
            raise WireError("negative chunk size")
        return size

    def _expect_line_end(self, connection: _Connection) -> None:
        if self._line(connection):
            raise WireError("a chunk is longer than its size")

    def _skip_trailers(self, connection: _Connection) -> None:
        for _ in range(MAX_HEADERS + 1):
            if not self._line(connection):
                return
        raise WireError("too many trailer lines")

    # -- the connection ---------------------------------------------------------------------

    def release(self) -> None:
        """Keep the connection for the next request when this body was read to its end."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if not (self._finished and self._keep_alive):
            connection.close()
        elif connection.ahead is not None:
            self._pool._keep_ahead(connection)
        else:
            self._pool.give(connection)

    def discard(self) -> None:
        """Drop an answer we do not read: keep the connection if its body is small, else close."""
        length = None if self._chunked else self._remaining  # None: it ends when the socket does
        if self._connection is not None and length is not None and length <= DRAIN_AT_MOST:
            with suppress(Exception):
                scratch = memoryview(bytearray(DRAIN_AT_MOST))
                while self.readinto(scratch):
                    pass
        self.release()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _has_token(value: Optional[str], token: str) -> bool:
    """Whether a comma-separated header value (absent: None) lists ``token``."""
    return value is not None and token in _tokens(value)


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}
