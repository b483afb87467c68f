"""URLs, parsed once, by one parser, the way browsers parse them.

Where a request goes and which credentials it carries must be decided from the same reading of
the URL: a URL that two parsers read differently (``http://a:1\\@b:2/`` is host ``b`` to one and
``a`` to another) is how tokens leak to the wrong host. So every URL fetchq fetches, including
each redirect's ``Location``, is parsed by ada (the WHATWG URL parser that Node.js uses) into a
:class:`Url`, and what libcurl or requests receives is that value's :attr:`Url.href`: canonical,
percent-encoded, with no user info and no fragment, so there is nothing left for them to read
differently. Credentials from the URL travel separately, and only to the URL's own origin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import unquote

import ada_url

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}
SUPPORTED_SCHEMES = frozenset(DEFAULT_PORTS)
"""What fetchq downloads from; libcurl is told to speak nothing else."""

Origin = tuple[str, str, int]
"""(scheme, host, port): where credentials may go."""


class UrlError(ValueError):
    """Not a URL fetchq can fetch; the message says why."""


@dataclass(frozen=True)
class Url:
    """A parsed URL. ``href`` is what goes on the wire; ``username``/``password`` never do."""

    scheme: str
    host: str
    """ASCII (IDNA), lower case; IPv6 literals without brackets."""
    port: int
    """Always set: the scheme's default when the URL names none."""
    path: str
    """Path and query, percent-encoded, as sent in a request line."""
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)

    @property
    def origin(self) -> Origin:
        return (self.scheme, self.host, self.port)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def href(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password)

    def __str__(self) -> str:
        return self.href


@functools.lru_cache(maxsize=2048)
def parse_url(text: str) -> Url:
    """Parse an absolute http(s) or ftp(s) URL; UrlError if it is not one."""
    return _parsed(text, None)


def url_origin(url: str) -> Optional[Origin]:
    """Where a link's connection goes, ``(scheme, host, port)``, read as the transport reads it
    (the WHATWG URL standard, as browsers do: ``http://a\\@b/`` goes to ``a``, ``http://0x7f.1/``
    to 127.0.0.1); None for a link fetchq cannot fetch. Decisions about where a link goes (the
    same site, this computer) must use this reading, not another parser's."""
    try:
        return parse_url(url).origin
    except UrlError:
        return None


def join_url(base: Url, location: str) -> Url:
    """Resolve a redirect's ``Location`` against the URL it came from, as a browser does
    (``\\`` is ``/``, tabs and newlines are dropped, ``..`` is resolved). User info in the
    location is dropped: credentials are the source's and go to its origin only."""
    resolved = _parsed(location, base.href)
    if resolved.has_credentials:
        resolved = Url(resolved.scheme, resolved.host, resolved.port, resolved.path)
    return resolved


def _parsed(text: str, base: Optional[str]) -> Url:
    # ftps is not one of WHATWG's special schemes, so ada would not parse its host as a host
    # (no IDNA, no IPv4 forms); read it as ftp, which is, and put the scheme back after (and
    # the port ada drops as ftp's default: ftps://host:21/ means 21, with TLS from the first
    # byte, as libcurl speaks ftps:// on any port).
    ftps = text[:5].lower() == "ftps:"
    if ftps:
        text = "ftp:" + text[5:]
    try:
        # One call for every part (reading them one by one from a URL object costs twice).
        parts = ada_url.parse_url(
            text if base is None else ada_url.join_url(base, text), attributes=_PARTS
        )
    except ValueError:
        raise UrlError("not a valid URL") from None
    scheme = "ftps" if ftps else str(parts["protocol"]).rstrip(":")
    if scheme not in SUPPORTED_SCHEMES:
        raise UrlError(f"{scheme}: URLs are not supported (http, https, ftp and ftps are)")
    host = str(parts["hostname"])
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise UrlError("the URL has no host")
    port_text = str(parts["port"])
    if ftps and not port_text:
        port_text = _port_given_to_ftps(text, base)
    port = int(port_text) if port_text else DEFAULT_PORTS[scheme]
    if port == 0:
        raise UrlError("the URL has port 0")
    return Url(
        scheme=scheme,
        host=host,
        port=port,
        path=(str(parts["pathname"]) or "/") + str(parts["search"]),
        username=unquote(str(parts["username"])),
        password=unquote(str(parts["password"])),
    )


def _port_given_to_ftps(as_ftp: str, base: Optional[str]) -> str:
    """The port an ftps URL names, read as ftp (``ftp:`` + the rest), or ``""`` when it names none.

    Read as ftp, ``ftps://host:21/`` has no port: ada drops ftp's default. But 21 is not ftps's
    default (990), and a port the link names is the port it means. Read as http, whose default
    is another, the same URL keeps ``:21``; and a port equal to http's default, ``:80``, is one
    the ftp reading kept, so this is asked only for what ftp dropped."""
    as_http = "http:" + as_ftp.removeprefix("ftp:")
    try:
        if base is not None:
            as_http = ada_url.join_url(base, as_http)
        return str(ada_url.parse_url(as_http, attributes=("port",))["port"])
    except ValueError:
        raise UrlError("not a valid URL") from None


_PARTS = ("protocol", "hostname", "port", "pathname", "search", "username", "password")
