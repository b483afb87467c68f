"""What a response's status and headers mean for a download: pure functions, no I/O.

Numbers in headers are read with an ASCII-digit grammar and a bound (``int()`` accepts ``¹``,
``٣`` and 5000-digit strings); a header that is present but malformed raises
:class:`ResponseError`, which a transfer retries like any other protocol error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from http import HTTPStatus
from typing import Optional, Union

from ._exceptions import HTTPStatusError, ResponseError
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


def closed_after(done: int, total: Optional[int]) -> str:
    """Why a body that ended early is retried."""
    return f"the connection closed after {done} of {total} bytes"


class FileChanged(Exception):
    """The server's file is not the one the part file holds: start again from its first byte."""


@dataclass(frozen=True)
class Body:
    """Where a response's body goes in the file, and what the response said about the file."""

    start: int
    end: Optional[int]
    """Exclusive; None: to the end of the body."""
    total: Optional[int]
    """The file's size, when known."""
    fresh: bool
    """The body is the file from its first byte (a 200): what is on disk does not count."""
    accepts_ranges: bool


def check_coding(head: ResponseHead) -> None:
    """Refuse a transfer coding fetchq did not ask for (it asks for none): the body would be
    the coded bytes, not the file. Only ``chunked`` (which libcurl undoes) is taken."""
    coding = head.header("transfer-encoding")
    if coding is None:
        return
    codings = [part.strip().lower() for part in coding.split(",") if part.strip()]
    if codings not in (["chunked"], ["identity"], []):
        raise ResponseError(f"the server used a transfer coding not asked for: {coding[:60]!r}")


def read_first_answer(
    head: ResponseHead, wanted: Optional[ByteRange], known_total: Optional[int]
) -> Body:
    """What the first response of an attempt (not a 416, not a redirect) means for the file.

    ``wanted``: the range asked for, if any; ``known_total``: the size recorded for the part
    file. Raises :class:`ResponseError` for an answer that contradicts the request (worth
    another attempt), :class:`FileChanged`, or :class:`HTTPStatusError` for a status we
    cannot use.
    """
    status = head.status
    if 200 <= status < 300:
        check_coding(head)
    if status in (200, 203):
        length = content_length(head)
        return Body(0, length, length, True, accepts_ranges(head))
    if status == 206:
        if wanted is None:
            raise ResponseError("206 Partial Content to a request without Range")
        raw = head.header("content-range") or ""
        content_range = parse_content_range(raw)
        if not isinstance(content_range, ContentRange) or content_range.start != wanted[0]:
            raise ResponseError(
                f"Content-Range {raw[:80]!r} does not match the requested bytes {wanted[0]}-"
            )
        if known_total is not None and content_range.total not in (None, known_total):
            raise FileChanged()
        total = content_range.total if content_range.total is not None else known_total
        return Body(content_range.start, content_range.end, total, False, True)
    if status >= 300:
        raise status_error(head)
    raise ResponseError(f"unexpected HTTP status {status} {head.reason}")


EXPIRED_STATUSES = frozenset({403, 404, 410})
"""What a link that served part of a file answers once it has expired (signed links, tokens
in the URL, a mirror that dropped the file): the download waits for a new link."""


def _is_page(content_type: Optional[str]) -> bool:
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


def serves_a_page_instead(
    status: int, content_type: Optional[str], known_type: Optional[str]
) -> bool:
    """Whether a success answer to a resume is a web page (a login or "link expired" page)
    where the file, of another type, was served before. Without a known type, a page is
    believed: some downloads are pages."""
    return (
        200 <= status < 300
        and _is_page(content_type)
        and not (known_type is None or _is_page(known_type))
    )


def status_phrase(status: int) -> str:
    """The standard reason phrase, for servers (and HTTP/2) that send none."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def status_error(head: ResponseHead) -> HTTPStatusError:
    """The error for a status we cannot use, with the reason as the server sent it."""
    return HTTPStatusError(head.reason or status_phrase(head.status), head.status, head.url.href)


class SegmentAnswer(Enum):
    RANGE = "range"
    """The range asked for: read on."""
    CHANGED = "changed"
    """A whole file whose validators differ: it changed on the server (If-Range failed)."""
    IGNORED = "ignored"
    """A whole file, the same one: the server ignores ranges."""


def read_segment_answer(
    head: ResponseHead,
    wanted: ByteRange,
    known_total: Optional[int],
    validators: tuple[Optional[str], Optional[str]],
) -> tuple[SegmentAnswer, int]:
    """What the answer to a segment's Range request means, and (for RANGE) where its body ends.

    ``validators`` are the ETag and Last-Modified recorded for the part file. Raises like
    :func:`read_first_answer` for anything else.
    """
    status = head.status
    if 200 <= status < 300:
        check_coding(head)
    if status == 206:
        content_range = parse_content_range(head.header("content-range"))
        if isinstance(content_range, ContentRange) and matches_range(
            content_range, wanted, known_total
        ):
            return SegmentAnswer.RANGE, content_range.end
        raise ResponseError("a range response does not match its request")
    if status in (200, 203):
        etag, last_modified = validators
        if (etag or last_modified) and not same_validators(head, etag, last_modified):
            return SegmentAnswer.CHANGED, 0
        return SegmentAnswer.IGNORED, 0
    raise status_error(head)


class NotSatisfiable(Enum):
    COMPLETE = "complete"
    """The part file already holds every byte: finish it."""
    RETRY = "retry"
    """The server refused a range inside the file: a glitch, worth another attempt."""
    RESTART = "restart"
    """The file shrank, or the answer says nothing usable: start again from zero."""


def read_416(
    head: ResponseHead, wanted: Optional[ByteRange], covers: Callable[[int], bool]
) -> tuple[NotSatisfiable, Optional[int]]:
    """What a 416 means for a part file; ``covers(total)`` says whether it holds every byte."""
    total = parse_content_range(head.header("content-range"))
    if wanted is not None and isinstance(total, int):
        if covers(total):
            return NotSatisfiable.COMPLETE, total
        if wanted[0] < total:
            return NotSatisfiable.RETRY, total
    return NotSatisfiable.RESTART, None


def adopted_partial_is_whole(head: ResponseHead, size: int, expected: Optional[int]) -> bool:
    """InvokeAI's rule for a 416 to the resume of its partial file of ``size`` bytes: whole when
    the size the 416 gives (``bytes */N``), or else the size ``expected`` beforehand, is its
    size. Never the partial file's own size alone: that would call every partial file whole."""
    total = parse_content_range(head.header("content-range"))
    known = total if isinstance(total, int) else expected
    return known is not None and known == size
