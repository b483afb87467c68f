"""What a response's status and headers mean for a download: pure functions, no I/O.

Numbers in headers are read with an ASCII-digit grammar and a bound (``int()`` accepts ``¹``,
``٣`` and 5000-digit strings); a header that is present but malformed raises
:class:`ResponseError`, which a transfer retries like any other protocol error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Union

from ._exceptions import ResponseError
from ._transport import ByteRange, ResponseHead

MAX_DIGITS = 18
"""Byte counts above a quintillion are not files; they are attacks on the parser."""
_COUNT = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def parse_count(text: str) -> Optional[int]:
    """A non-negative decimal of ASCII digits (surrounding spaces allowed), or None."""
    stripped = text.strip(" \t")
    return int(stripped) if _COUNT.fullmatch(stripped) else None


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int
    """Exclusive."""
    total: Optional[int]


def parse_content_range(value: Optional[str]) -> Union[ContentRange, int, None]:
    """``bytes a-b/T`` -> ContentRange; ``bytes */T`` -> T; anything else -> None."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    span, _, total_text = spec.strip().partition("/")
    total: Optional[int] = None
    if total_text.strip() != "*":
        total = parse_count(total_text)
        if total is None:
            return None
    if span.strip() == "*":
        return total
    first_text, _, last_text = span.partition("-")
    first, last = parse_count(first_text), parse_count(last_text)
    if first is None or last is None:
        return None
    end = last + 1
    if end <= first or (total is not None and end > total):
        return None
    return ContentRange(first, end, total)


def content_length(head: ResponseHead) -> Optional[int]:
    """The body's announced length; None when not announced (or chunked)."""
    value = head.header("content-length")
    if value is None or "chunked" in (head.header("transfer-encoding") or "").lower():
        return None
    # Repeated identical values ("5, 5") are one length (RFC 9110, 8.6); different ones are not.
    values = {part.strip() for part in value.split(",")}
    length = parse_count(values.pop()) if len(values) == 1 else None
    if length is None:
        raise ResponseError(f"the server sent an invalid Content-Length: {value[:40]!r}")
    return length


def accepts_ranges(head: ResponseHead) -> bool:
    return (head.header("accept-ranges") or "").strip().lower() == "bytes"


def matches_range(content_range: object, wanted: ByteRange, known_total: Optional[int]) -> bool:
    """Whether a 206's Content-Range is the answer to a request for ``wanted``."""
    return (
        isinstance(content_range, ContentRange)
        and content_range.start == wanted[0]
        and content_range.total in (None, known_total)
    )


def range_header(byte_range: ByteRange) -> str:
    """The ``Range`` value asking for ``byte_range``."""
    first, end = byte_range
    return f"bytes={first}-" if end is None else f"bytes={first}-{end - 1}"


def same_validators(head: ResponseHead, etag: Optional[str], last_modified: Optional[str]) -> bool:
    """Whether a response carries the validators recorded for the partial file."""
    return head.header("etag") == etag and head.header("last-modified") == last_modified
