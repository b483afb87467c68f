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
