"""The browser's native messaging protocol, and what a request from the extension may hold.

Chromium and Firefox start the host and speak to it over its standard input and output: each
message is a JSON object (UTF-8) after a 32-bit length in the machine's byte order. Nothing
here trusts the other side: a length over :data:`MAX_INCOMING` is refused before a byte of
the body is read, a short read is a closed pipe, not a message, and a request is checked
field by field like any other input (:func:`parse_request`). Standard library only, no Qt:
the host must start fast and never open a window.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Optional
from urllib.parse import unquote, urlsplit

MAX_INCOMING = 1 << 20
"""The largest message fetchq reads (the browsers allow far more; a link never needs it)."""
MAX_OUTGOING = 1 << 20
"""The browsers' limit on a message from the host."""
_LENGTH = struct.Struct("=I")  # native byte order, as the browsers write it

SCHEMES = ("http", "https", "ftp", "ftps")
MAX_URL = 8192
MAX_FIELD = 4096
MAX_COOKIES = 200


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


def parse_request(message: object) -> BrowserRequest:
    """Check a message from the extension and make it a request; anything else raises
    :class:`ProtocolError` naming the field."""
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
    return BrowserRequest(
        url=url,
        referrer=referrer,
        file_name=file_name,
        user_agent=_text(message, "userAgent", 512),
        cookies=tuple(cookies),
        size=size,
    )
