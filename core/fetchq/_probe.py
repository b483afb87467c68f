"""Probe a URL: its file name, size and type, without downloading it.

Asks for one byte (``Range: bytes=0-0``) with GET, since HEAD is often missing or wrong on CDNs
and signed URLs; the size comes from ``Content-Range`` or ``Content-Length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ._abort import AbortSignal
from ._exceptions import ResponseError, http_error
from ._http import HttpClient, OriginSecrets
from ._naming import choose_filename
from ._response import (
    ContentRange,
    accepts_ranges,
    content_length,
    parse_content_range,
    status_phrase,
)
from ._transport import ResponseHead

PROBE_HEADERS = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class ProbeResult:
    """What a server says about a URL before it is downloaded."""

    url: str
    final_url: str
    name: str
    size: Optional[int]
    content_type: Optional[str]
    accepts_ranges: bool


class _HeadOnly:
    """Keeps the head; the body (one byte, or a whole file from a server that ignores Range)
    is not wanted."""

    def __init__(self) -> None:
        self.head: Optional[ResponseHead] = None

    def on_head(self, head: ResponseHead) -> bool:
        self.head = head
        return False

    def on_data(self, data: bytes) -> Optional[bool]:
        return False

    def on_idle(self) -> None:
        return None


def probe(
    client: HttpClient,
    url: str,
    secrets: Optional[OriginSecrets],
    signal: Optional[AbortSignal] = None,
) -> ProbeResult:
    """Ask the server about ``url``; raises HTTPError for error statuses, NetworkError for
    network trouble, and what the address guard or redirect policy refuse."""
    receiver = _HeadOnly()
    final_url = client.fetch(
        url, PROBE_HEADERS, secrets, receiver, signal or AbortSignal(), byte_range=(0, 1)
    )
    if receiver.head is None:
        raise ResponseError("the server sent no response")
    return _result(url, final_url, receiver.head)


def _result(url: str, final_url: str, head: ResponseHead) -> ProbeResult:
    status = head.status
    if status >= 400 and status != 416:
        raise http_error(head.reason or status_phrase(status), status, final_url)
    size: Optional[int] = None
    ranges = False
    if status == 206:
        content_range = parse_content_range(head.header("content-range"))
        if isinstance(content_range, ContentRange):
            size = content_range.total
            ranges = True
    elif status == 416:
        total = parse_content_range(head.header("content-range"))
        size = total if isinstance(total, int) else 0
        ranges = True
    else:
        try:
            size = content_length(head)
        except ResponseError:
            size = None
        ranges = accepts_ranges(head)
    content_type = head.header("content-type")
    name = choose_filename(head.header("content-disposition"), final_url, content_type)
    return ProbeResult(url, final_url, name, size, content_type, ranges)
