"""The browser's native messaging protocol, and what a request from the extension may hold.

Chromium and Firefox start the host and speak to it over its standard input and output: each
message is a JSON object (UTF-8) after a 32-bit length in the machine's byte order. Nothing
here trusts the other side: a length over :data:`MAX_INCOMING` is refused before a byte of
the body is read, a short read is a closed pipe, not a message, and a request is checked
field by field like any other input (:func:`parse_request`), and a link a page handed over may
not reach a port browsers block or, from a page on the public internet, an address on the machine
or its network (:func:`check_destination`). Standard library and fetchq
(which the host imports anyway), no Qt: the host must start fast and never open a window.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import BinaryIO, Literal, Optional
from urllib.parse import unquote, urlsplit

from fetchq import url_origin, validate_source

MAX_INCOMING = 1 << 20
"""The largest message fetchq reads (the browsers allow far more; a link never needs it)."""
MAX_OUTGOING = 1 << 20
"""The browsers' limit on a message from the host."""
_LENGTH = struct.Struct("=I")  # native byte order, as the browsers write it

SCHEMES = ("http", "https", "ftp", "ftps")
MAX_URL = 8192
MAX_FIELD = 4096
MAX_COOKIES = 200

StartedBy = Literal["page", "user"]
"""Who started a download: ``"page"``, a download the browser started (a page's link, script or
redirect: the extension captured it), or ``"user"``, a link the user picked in the extension's
menu. A message that does not say is a page's."""

BAD_PORTS = frozenset(
    {0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95,
     101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179,
     389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601,
     636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566,
     6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080}
)  # fmt: skip
"""The ports browsers never fetch from (the Fetch standard's "bad port" list, plus 0), so that a
link cannot make fetchq talk to a mail, SSH or X11 server. FTP's own ports stay open to ftp and
ftps links (:data:`FTP_PORTS`)."""
FTP_PORTS = frozenset({20, 21, 989, 990})


class AddressSpace(IntEnum):
    """Where a host is, from the most to the least protected (the address spaces of Private
    Network Access: a page may send fetchq to its own space or a more public one)."""

    LOCAL = 0
    """This machine: 127.0.0.0/8, ::1, 0.0.0.0/8, ::, and the names localhost and *.localhost."""
    PRIVATE = 1
    """Its networks: 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10."""
    PUBLIC = 2
    """Anything else, host names included: fetchq does not resolve names to check them."""


_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128")
)
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)
_SPACE_WORDS = {
    AddressSpace.LOCAL: "this computer",
    AddressSpace.PRIVATE: "the local network",
    AddressSpace.PUBLIC: "the internet",
}


class ProtocolError(ValueError):
    """A message that breaks the protocol or is not a request fetchq takes."""


def read_message(stream: BinaryIO) -> Optional[object]:
    """The next message, or None when the browser closed the pipe between messages."""
    prefix = stream.read(_LENGTH.size)
    if not prefix:
        return None
    if len(prefix) < _LENGTH.size:
        raise ProtocolError("the pipe closed inside a message's length")
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_INCOMING:
        raise ProtocolError(f"a message of {length} bytes is over the {MAX_INCOMING} allowed")
    body = stream.read(length)
    if len(body) < length:
        raise ProtocolError(f"the pipe closed after {len(body)} of a message's {length} bytes")
    try:
        message: object = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"a message that is not JSON: {exc}") from None
    return message


def write_message(stream: BinaryIO, message: object) -> bool:
    """Send one message; False when the browser has gone (a closed pipe is not an error). Give
    it an unbuffered stream (``os.fdopen(1, "wb", buffering=0)``), so nothing is left in a
    buffer to fail again when the host exits."""
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_OUTGOING:
        raise ProtocolError(f"a reply of {len(body)} bytes is over the browsers' limit")
    try:
        stream.write(_LENGTH.pack(len(body)) + body)
        stream.flush()
    except (BrokenPipeError, ConnectionResetError, ValueError):  # ValueError: closed file
        return False
    return True


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class BrowserRequest:
    """One download handed over by the extension. Cookies and headers belong to this job only
    and to ``url``'s origin; they are never written to the journal or a log."""

    url: str
    referrer: Optional[str] = None
    file_name: Optional[str] = None
    user_agent: Optional[str] = None
    cookies: tuple[Cookie, ...] = field(default=(), repr=False)
    size: Optional[int] = None
    """The size the browser was told, when it knew it: matches a download whose link expired."""
    started_by: StartedBy = "page"

    @property
    def origin(self) -> tuple[str, str, Optional[int]]:
        parts = urlsplit(self.url)
        return (parts.scheme, parts.hostname or "", parts.port)

    @property
    def shown_name(self) -> str:
        """What to call the download before the server names it: the browser's name for it,
        else the link's last path segment, else its host."""
        last = urlsplit(self.url).path.rstrip("/").rpartition("/")[2]
        return self.file_name or unquote(last) or self.origin[1]

    @property
    def cookie_pairs(self) -> list[tuple[str, str]]:
        """The cookies as ``(name, value)`` pairs, as the engine's ``cookies=`` takes them
        (each checked there on its own: a value cannot smuggle in a second cookie)."""
        return [(c.name, c.value) for c in self.cookies]

    @property
    def headers(self) -> dict[str, str]:
        """What the browser would send with the request besides cookies."""
        headers = {}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        if self.referrer:
            headers["Referer"] = self.referrer
        return headers

    def to_message(self) -> dict[str, object]:
        """The request as the extension sends it (:func:`parse_request` reads it back)."""
        message: dict[str, object] = {"type": "download", "url": self.url}
        for key, value in (
            ("referrer", self.referrer),
            ("filename", self.file_name),
            ("userAgent", self.user_agent),
        ):
            if value is not None:
                message[key] = value
        if self.cookies:
            message["cookies"] = [{"name": c.name, "value": c.value} for c in self.cookies]
        if self.size is not None:
            message["size"] = self.size
        message["startedBy"] = self.started_by
        return message


def _text(message: dict[str, object], key: str, limit: int = MAX_FIELD) -> Optional[str]:
    value = message.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be text")
    if len(value) > limit:
        raise ProtocolError(f"{key} is longer than {limit} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ProtocolError(f"{key} holds control characters")
    return value


def _link(value: Optional[str], key: str) -> Optional[str]:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise ProtocolError(f"{key} is not an http, https, ftp or ftps link: {value[:80]}")
    return value


def _host_of(url: str) -> str:
    """The host ``url`` connects to, as fetchq's transport reads it (:func:`fetchq.url_origin`:
    every IPv4 notation browsers and libcurl accept, IDNA, percent-decoding); for a link it
    cannot read, the literal host (an IPv6 address with a zone, say), to place it all the same."""
    origin = url_origin(url)
    return origin[1] if origin is not None else unquote(urlsplit(url).hostname or "")


def address_space(url: str) -> AddressSpace:
    """Where ``url``'s host is, from its literal form only: an IPv4 or IPv6 address (an IPv4 one
    mapped into IPv6 counts as that), or a localhost name. Names are not resolved (no DNS
    here): ``router.lan`` or a name that points at 127.0.0.1 count as public."""
    host = _host_of(url).rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return AddressSpace.LOCAL
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return AddressSpace.PUBLIC  # a name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    plain = ipaddress.ip_address(address.packed)  # without an IPv6 scope, for "in"
    if any(plain in network for network in _LOCAL_NETWORKS):
        return AddressSpace.LOCAL
    if any(plain in network for network in _PRIVATE_NETWORKS):
        return AddressSpace.PRIVATE
    return AddressSpace.PUBLIC


def check_destination(url: str, page: Optional[str], started_by: StartedBy) -> None:
    """Refuse, with a reason the extension shows, a link fetchq must not fetch for a browser:
    one to a port browsers block (whoever started it), and, for a download a page started, one
    to this computer or its network from a page that is not there itself (``page`` is the
    referrer; a page that sends none counts as public). A link the user picked in the menu may
    go anywhere a click could, except a blocked port. Where the link goes is read as fetchq
    connects, not as another parser would (``http://127.0.0.1\\@example.org/`` is 127.0.0.1)."""
    origin = url_origin(url)
    if origin is not None:
        scheme, _host, port = origin
        if port in BAD_PORTS and not (scheme in ("ftp", "ftps") and port in FTP_PORTS):
            raise ProtocolError(
                f"fetchq does not download from port {port}, which browsers block (a bad port "
                "of the Fetch standard): it belongs to another kind of server"
            )
    if started_by == "page":
        target = address_space(url)
        source = address_space(page) if page else AddressSpace.PUBLIC
        if target < source:
            where = f"a page on {_host_of(page)}" if page else "a page that does not say"
            raise ProtocolError(
                f"{where} may not send fetchq to {_host_of(url)}, an address on"
                f" {_SPACE_WORDS[target]}; to download it, add the link in fetchq yourself"
            )
    if origin is None:
        try:
            validate_source(url)  # for its reason: a port 0, a host that is no address
        except ValueError as exc:
            raise ProtocolError(f"fetchq cannot read where this link goes: {exc}") from None
        raise ProtocolError(f"fetchq cannot read where this link goes: {url[:80]}")


def parse_request(message: object) -> BrowserRequest:
    """Check a message from the extension and make it a request; anything else raises
    :class:`ProtocolError` naming the field (or, for a link fetchq must not fetch, saying why:
    :func:`check_destination`)."""
    if not isinstance(message, dict):
        raise ProtocolError("a request must be a JSON object")
    if message.get("type") != "download":
        raise ProtocolError(f"unknown request type: {str(message.get('type'))[:40]!r}")
    url = _link(_text(message, "url", MAX_URL), "url")
    if url is None:
        raise ProtocolError("url is missing")
    referrer = _link(_text(message, "referrer", MAX_URL), "referrer")
    file_name = _text(message, "filename", 255)
    if file_name is not None and ("/" in file_name or "\\" in file_name):
        raise ProtocolError("filename must be a name, not a path")
    cookies_field = message.get("cookies", [])
    if not isinstance(cookies_field, list) or len(cookies_field) > MAX_COOKIES:
        raise ProtocolError(f"cookies must be a list of at most {MAX_COOKIES}")
    cookies = []
    for item in cookies_field:
        if not isinstance(item, dict):
            raise ProtocolError("each cookie must be an object with a name and a value")
        name, value = _text(item, "name", 256), _text(item, "value")
        if not name or value is None or any(ch in name for ch in "=; \t"):
            raise ProtocolError("each cookie must be an object with a name and a value")
        cookies.append(Cookie(name, value))
    size = message.get("size")
    if size is not None and (
        not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 1 << 63
    ):
        raise ProtocolError("size must be a whole number of bytes")
    if message.get("startedBy", "page") not in ("page", "user"):
        raise ProtocolError('startedBy must be "page" or "user"')
    started_by: StartedBy = "user" if message.get("startedBy") == "user" else "page"
    check_destination(url, referrer, started_by)
    return BrowserRequest(
        url=url,
        referrer=referrer,
        file_name=file_name,
        user_agent=_text(message, "userAgent", 512),
        cookies=tuple(cookies),
        size=size,
        started_by=started_by,
    )
