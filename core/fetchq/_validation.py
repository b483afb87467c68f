"""Validation of what callers ask for: the source URL, the destination, the checksum.

Each raises a ValueError subclass with a message a person can act on, in the caller's thread,
before anything is queued. Messages never show a URL's user info.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from ._exceptions import (
    InvalidChecksumError,
    InvalidDestinationError,
    InvalidRequestError,
    InvalidSourceError,
)
from ._http import LOGIN_SCHEMES, Login
from ._url import SUPPORTED_SCHEMES, UrlError, parse_url

_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f\s]")


def redact_url(url: str) -> str:
    """A URL fit for a message: user info removed, even from URLs that do not parse."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        return re.sub(r"//[^/@]*@", "//", url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def validate_source(source: object) -> str:
    """The source as a string, or InvalidSourceError saying why it can never be downloaded."""
    text = str(source).strip() if source is not None else ""
    if not text:
        raise InvalidSourceError("the URL is empty")
    if _SPACE_OR_CONTROL.search(text):
        raise InvalidSourceError(f"{redact_url(text)!r} contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidSourceError(f"{redact_url(text)!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in SUPPORTED_SCHEMES:
        shown = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise InvalidSourceError(
            f"{redact_url(text)!r} is not an http, https, ftp or ftps URL ({shown})"
        )
    if not parts.hostname:
        raise InvalidSourceError(f"{redact_url(text)!r} has no host")
    if port == 0:
        raise InvalidSourceError(f"{redact_url(text)!r} has port 0")
    try:
        parse_url(text)  # the parser every request goes through must read it too
    except UrlError as exc:
        raise InvalidSourceError(f"{redact_url(text)!r} is not a valid URL: {exc}") from None
    return text


def _mode(path: Path) -> Optional[int]:
    """The file's mode bits, or None when nothing (usable) is there."""
    try:
        return os.stat(path).st_mode
    except (OSError, ValueError):
        return None


def prepare_destination(dest: object) -> Path:
    """The absolute destination; creates missing folders; InvalidDestinationError if unusable.

    An existing folder, or a path ending with a separator, is a folder to download into; any
    other path is the file itself.
    """
    raw = os.fspath(dest) if isinstance(dest, (str, os.PathLike)) else None
    if not raw or not str(raw).strip():
        raise InvalidDestinationError("the destination is empty")
    text = str(raw)
    if "\x00" in text:
        raise InvalidDestinationError("the destination contains a NUL character")
    path = Path(text).expanduser().absolute()
    wants_folder = text.endswith(("/", os.sep))
    mode = _mode(path)
    is_folder = mode is not None and stat.S_ISDIR(mode)
    if mode is not None and not is_folder and wants_folder:
        raise InvalidDestinationError(f"{path} is a file, not a folder")
    folder = path if wants_folder or is_folder else path.parent
    if not is_folder:
        folder_mode = _mode(folder)
        if folder_mode is None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidDestinationError(
                    f"cannot create the folder {folder}: {exc.strerror}"
                ) from None
        elif not stat.S_ISDIR(folder_mode):
            raise InvalidDestinationError(f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidDestinationError(f"the folder {folder} is not writable")
    return path


def parse_checksum(checksum: Optional[str], sha256: Optional[str]) -> Optional[str]:
    """Normalise ``checksum="ALGO:HEX"`` or ``sha256=HEX`` to ``"algo:hex"``; None if neither."""
    if checksum is not None and sha256 is not None:
        raise InvalidChecksumError("give checksum= or sha256=, not both")
    if sha256 is not None:
        checksum = f"sha256:{sha256}"
    if checksum is None:
        return None
    algorithm, separator, expected = checksum.strip().partition(":")
    algorithm, expected = algorithm.strip().lower(), expected.strip().lower()
    if not separator or not algorithm or not expected:
        raise InvalidChecksumError(
            f"{checksum!r} is not of the form ALGO:HEX (e.g. sha256:9f86...)"
        )
    available = {name.lower() for name in hashlib.algorithms_available}
    # "SHA-256" is hashlib's "sha256"; "SHA3-256" is "sha3_256".
    spellings = (algorithm, algorithm.replace("-", ""), algorithm.replace("-", "_"))
    known = next((name for name in spellings if name in available), None)
    if known is None:
        raise InvalidChecksumError(f"unknown checksum algorithm {algorithm!r}")
    algorithm = known
    if any(c not in "0123456789abcdef" for c in expected):
        raise InvalidChecksumError("the checksum is not hexadecimal")
    size = hashlib.new(algorithm).digest_size
    if size and len(expected) != 2 * size:
        raise InvalidChecksumError(
            f"a {algorithm} checksum has {2 * size} hex digits, not {len(expected)}"
        )
    return f"{algorithm}:{expected}"


_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def validate_token(token: object) -> Optional[str]:
    """A bearer token fit for an ``Authorization`` header, or None for none.

    Headers are bytes on the wire: a token with spaces, control characters or letters outside
    ASCII cannot be sent as given, and would fail in a worker; refuse it here, saying why.
    """
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise InvalidRequestError(f"the access token must be a string, not {type(token).__name__}")
    if not _VISIBLE_ASCII.fullmatch(token):
        raise InvalidRequestError(
            "the access token may hold only visible ASCII characters (no spaces, control "
            "characters or letters beyond ASCII)"
        )
    return token


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 9110's ``token``: what a field name may be."""
_FIELD_VALUE = re.compile(r"[\x20-\x7e\t]*")
_MAX_HEADER_BYTES = 16 * 1024
"""Headers and cookies of one download together; servers refuse far less (8 KiB is common)."""
ENGINE_HEADERS = frozenset(
    {
        "accept-encoding",
        "connection",
        "content-length",
        "expect",
        "host",
        "if-range",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "range",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
"""Fields fetchq sets itself to frame, resume and route a download: a caller's value would break
it (a ``Range`` of its own, a compressed body written as the file), so they are refused."""


def validate_headers(headers: object) -> dict[str, str]:
    """Extra request headers for one download, checked: names are tokens, values printable
    ASCII, and none of :data:`ENGINE_HEADERS`; ``Cookie`` belongs in ``cookies=``."""
    if headers is None:
        return {}
    if not hasattr(headers, "items"):
        raise InvalidRequestError(f"headers must be a mapping, not {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidRequestError(f"{name!r} is not a header name")
        if not isinstance(value, str) or not _FIELD_VALUE.fullmatch(value):
            raise InvalidRequestError(
                f"the value of header {name} may hold only printable ASCII on one line"
            )
        lowered = name.lower()
        if lowered in ENGINE_HEADERS:
            raise InvalidRequestError(f"fetchq sets the {name} header itself")
        if lowered == "cookie":
            raise InvalidRequestError("give cookies as cookies=, not as a Cookie header")
        if any(known.lower() == lowered for known in checked):
            raise InvalidRequestError(f"the header {name} is given twice")
        checked[name] = value.strip()
    _check_size(sum(len(name) + len(value) + 4 for name, value in checked.items()))
    return checked


_COOKIE_NAME = _HEADER_NAME
_COOKIE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
"""Printable ASCII but ``;``: looser than RFC 6265's cookie-octets, as browsers are (a space or a
comma inside a value is sent as it is), and still nothing that could end the pair or the line."""


def validate_cookies(cookies: object) -> Optional[str]:
    """The ``Cookie`` header for one download, from ``"a=1; b=2"``, a name-to-value mapping or
    ``(name, value)`` pairs; None for none. Each pair is checked on its own, so nothing else
    rides along."""
    if cookies is None or cookies in ("", {}, [], ()):
        return None
    items: list[tuple[object, object]] = []
    if isinstance(cookies, str):
        for part in filter(str.strip, cookies.split(";")):
            before, sep, after = part.partition("=")
            if not sep:
                raise InvalidRequestError("cookies are name=value pairs separated by ';'")
            items.append((before.strip(), after.strip()))
    elif hasattr(cookies, "items"):
        items = list(cookies.items())
    elif isinstance(cookies, (list, tuple)) and all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in cookies
    ):
        items = list(cookies)  # (name, value) pairs: a name may come twice, as browsers send
    else:
        raise InvalidRequestError(
            "cookies must be a string, a mapping or (name, value) pairs, "
            f"not {type(cookies).__name__}"
        )
    for key, value in items:
        if not isinstance(key, str) or not _COOKIE_NAME.fullmatch(key):
            raise InvalidRequestError(f"{str(key)[:40]!r} is not a cookie name")
        if not isinstance(value, str) or not _COOKIE_VALUE.fullmatch(value):
            raise InvalidRequestError(
                f"the value of cookie {key} holds characters a cookie cannot carry"
            )
    header = "; ".join(f"{key}={value}" for key, value in items)
    _check_size(len(header))
    return header or None


def _check_size(size: int) -> None:
    if size > _MAX_HEADER_BYTES:
        raise InvalidRequestError(
            f"headers and cookies of one download may take {_MAX_HEADER_BYTES // 1024} KiB at most"
        )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_login(login: object) -> Optional[Login]:
    """A user name and password (a pair, or a :class:`Login`) fit for an HTTP login, or None.

    A name or password with control characters could end the header it travels in; a name
    with ``:`` cannot be sent as Basic auth (the colon ends the name)."""
    if login is None:
        return None
    scheme = None
    if isinstance(login, Login):
        username, password, scheme = login.username, login.password, login.scheme
    elif (
        isinstance(login, tuple)
        and len(login) == 2
        and all(isinstance(part, str) for part in login)
    ):
        username, password = login
    else:
        raise InvalidRequestError("a login is a (user name, password) pair of strings")
    if not username or _CONTROL.search(username) or ":" in username:
        raise InvalidRequestError("a user name must not be empty or hold ':' or control characters")
    if _CONTROL.search(password) or len(password) > 1024:
        raise InvalidRequestError("a password must not hold control characters")
    if scheme is not None and scheme not in LOGIN_SCHEMES:
        raise InvalidRequestError(f"a login is sent as {', '.join(LOGIN_SCHEMES)}, not {scheme}")
    return Login(username, password, scheme or "any")
