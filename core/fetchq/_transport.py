"""The narrow interface between fetchq's policy and the code that moves bytes.

A transport sends one request (one hop: it never follows a redirect) and pushes what comes back
into a :class:`Receiver`: the head once, then the body in chunks, until the body ends or the
receiver says it has enough. Everything that decides anything (which credentials a hop gets,
whether a redirect may be followed, what a status means for a resume) lives above it, in
:mod:`._http` and :mod:`._response`; below it is libcurl (:mod:`._curl`), or requests for a
caller's own session (:mod:`._requests_transport`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Optional, Protocol

from ._abort import AbortSignal
from ._steps import Steps
from ._url import Url

AddressPolicy = Callable[[str], bool]
"""Returns True when connecting to this IP address is allowed."""

Pace = Callable[[int], float]
"""Charges the bytes a request received to the speed limit; returns the seconds to wait
before reading more (0: go on)."""

ByteRange = tuple[int, Optional[int]]
"""``(first, end)``: bytes ``first`` up to ``end`` (exclusive), or to the end of the file."""


@dataclass(frozen=True)
class Request:
    """One GET, as the policy layer decided it."""

    url: Url
    headers: Mapping[str, str] = field(default_factory=dict)
    """Sent as given; never ``Range`` (see ``byte_range``) or credentials for another origin."""
    byte_range: Optional[ByteRange] = None
    credentials: Optional[tuple[str, str]] = field(default=None, repr=False)
    """User name and password for this hop: HTTP Basic auth, or the FTP login."""
    auth_scheme: str = "basic"
    """How ``credentials`` go over HTTP: ``basic`` (sent at once), ``digest``, or ``any`` (the
    server's 401 says which; one more round trip)."""
    address_policy: Optional[AddressPolicy] = None
    """Checked against the peer of every new connection, before it is made."""
    proxy: Optional[str] = None
    """The proxy for this request (``http://``, ``https://``, ``socks5h://``...), or None."""
    trusted: bool = True
    """The hop is on the source's origin: a caller's session may add its own auth, headers
    and cookies (never to a hop elsewhere)."""
    pace: Optional[Pace] = field(default=None, repr=False, compare=False)
    """The speed limit this request's body counts against, if any."""
    resolve_first: Optional[AddressPolicy] = field(default=None, repr=False, compare=False)
    """The address policy to check the host against by resolving it before the request
    (a proxy, or a caller's session, makes the connection: fetchq cannot watch it)."""


class Headers(Mapping[str, str]):
    """Response headers, looked up by any case; repeated fields joined with ``, ``."""

    __slots__ = ("_fields",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        fields: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            fields[key] = f"{fields[key]}, {value}" if key in fields else value
        self._fields = fields

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"


@dataclass(frozen=True)
class ResponseHead:
    """The status and headers of a final (non-1xx) response."""

    status: int
    reason: str
    headers: Headers
    url: Url

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


class Receiver(Protocol):
    """What a transport pushes a response into. Either method may raise: the transfer is
    stopped and the exception comes out of :meth:`Transport.fetch`."""

    def on_head(self, head: ResponseHead) -> bool:
        """The head arrived; True to read the body, False to drop it."""

    def on_data(self, data: bytes) -> Optional[bool]:
        """A chunk of the body; False when no more is wanted (the connection is closed)."""

    def on_idle(self) -> Optional[bool]:
        """Time passed (the engine's tick, a few times a second, bytes or not): a good time
        to write out what is held back. False: no more is wanted (as from :meth:`on_data`)."""


class RangeAnswer:
    """A receiver for a small range request: the head, and the body up to ``limit`` bytes
    (a longer body is not the range asked for, and stops the transfer)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head: Optional[ResponseHead] = None
        self.body = bytearray()

    def on_head(self, head: ResponseHead) -> bool:
        self.head = head
        return head.status == 206

    def on_data(self, data: bytes) -> Optional[bool]:
        self.body += data
        return len(self.body) <= self.limit

    def on_idle(self) -> None:
        return None


class Transport(Protocol):
    def fetch(self, request: Request, receiver: Receiver, signal: AbortSignal) -> bool:
        """Send ``request`` and feed the response to ``receiver``; True when the body was read
        to its end. Network failures raise :class:`~._exceptions.NetworkError`; an abort by
        ``signal`` returns (the caller looks at the signal)."""

    def fetch_steps(self, request: Request, receiver: Receiver, signal: AbortSignal) -> Steps[bool]:
        """:meth:`fetch`, as steps for the engine (:mod:`._steps`)."""

    def close(self) -> None:
        """Close idle connections."""
