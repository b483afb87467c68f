"""Error wording: one mapping from what the engine reports to a short sentence for people.

The table, notifications and the Add dialog show :func:`human_error`; the technical text
(``error_type`` and the traceback) stays available in tooltips and "Copy error details".
"""

from __future__ import annotations

import re
from typing import Optional

_HTTP_REASONS = {
    "not found": "Not found on the server",
    "gone": "The file is gone from the server",
    "forbidden": "The server refuses access",
    "unauthorized": "The server wants a login",
    "too many requests": "The server is busy: too many requests",
    "service unavailable": "The server is unavailable",
    "internal server error": "The server failed",
    "bad gateway": "The server failed (bad gateway)",
    "gateway timeout": "The server timed out",
}

_BY_TYPE = {
    "ChecksumMismatch": "The file does not match its checksum",
    "SizeMismatch": "The file's size is not what the server announced",
    "InsufficientSpaceError": "Not enough free disk space",
    "DiskError": "The file could not be written",
    "DestinationExistsError": "A different file with this name is already there",
    "DestinationInUseError": "Another download is writing this file",
    "UnsafeFileNameError": "The server's file name is not safe to use",
    "UnsafeDownloadURLException": "Blocked: the link leads to a private network address",
    "BlockedAddressError": "Blocked: the link leads to a private network address",
    "CertificateError": "The server's certificate is not trusted",
    "RedirectError": "The server's redirects go nowhere useful",
    "PermissionError": "No permission to write there",
}

_ERRNO = re.compile(r"\[Errno \d+\]\s*")
MAX_LENGTH = 80


def split_error_type(error_type: str) -> tuple[str, str]:
    """``HTTPError(Not Found)`` -> ``("HTTPError", "Not Found")``."""
    name, paren, rest = error_type.partition("(")
    if not paren:
        return error_type, ""
    return name, rest[:-1] if rest.endswith(")") else rest


def human_error(error_type: Optional[str]) -> str:
    """A short sentence for a job's ``error_type``; never an exception's repr."""
    if not error_type:
        return "Unknown error"
    name, message = split_error_type(error_type)
    if name == "HTTPError":
        reason = _HTTP_REASONS.get(message.strip().lower())
        return reason or f"The server said: {message or 'an error'}"
    known = _BY_TYPE.get(name)
    if known is not None:
        return known
    return human_message(message or name)


def human_message(message: str) -> str:
    """An exception's text, without its library's detail: the engine words network failures
    as a sentence first (``Nothing answers at host:1 (libcurl's words)``)."""
    text = _ERRNO.sub("", message).strip()
    if text.endswith(")") and " (" in text:
        text = text[: text.index(" (")]
    text = text[:1].upper() + text[1:]
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


def human_exception(exc: BaseException) -> str:
    """:func:`human_error` for an exception in hand (a probe's, a refusal's)."""
    if type(exc).__name__ == "HTTPError":
        response = getattr(exc, "response", None)
        reason = getattr(response, "reason", None) or str(exc)
        return human_error(f"HTTPError({reason})")
    if type(exc).__name__ in _BY_TYPE:
        return _BY_TYPE[type(exc).__name__]
    return human_message(str(exc) or type(exc).__name__)


def error_details(source: str, error_type: Optional[str], error: Optional[str]) -> str:
    """What "Copy error details" puts on the clipboard: enough for a bug report."""
    lines = [f"Link: {source}", f"Error: {error_type or 'unknown'}"]
    if error:
        lines += ["", error.rstrip()]
    return "\n".join(lines)
