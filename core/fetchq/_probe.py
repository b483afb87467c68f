"""Probe a URL: its file name, size and type, without downloading it.

Asks for one byte (``Range: bytes=0-0``) with GET, since HEAD is often missing or wrong on CDNs
and signed URLs; the size comes from ``Content-Range`` or ``Content-Length``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ._exceptions import http_error
from ._http import HttpClient, HttpResponse, status_phrase
from ._naming import choose_filename
from ._transfer import ContentRange, parse_content_range


@dataclass(frozen=True)
class ProbeResult:
    """What a server says about a URL before it is downloaded."""

    url: str
    final_url: str
    name: str
    size: Optional[int]
    content_type: Optional[str]
    accepts_ranges: bool


def probe(client: HttpClient, url: str, token: Optional[str]) -> ProbeResult:
    """Ask the server about ``url``; raises HTTPError for error statuses, requests' for I/O."""
    headers = {"Accept-Encoding": "identity", "Range": "bytes=0-0"}
    response, final_url = client.open(url, headers, token)
    try:
        return _result(url, final_url, response)
    finally:
        response.close()


def _result(url: str, final_url: str, response: HttpResponse) -> ProbeResult:
    status = response.status_code
    if status >= 400:
        raise http_error(response.reason or status_phrase(status), status)
    size: Optional[int] = None
    accepts_ranges = False
    if status == 206:
        content_range = parse_content_range(response.headers.get("content-range"))
        if isinstance(content_range, ContentRange):
            size = content_range.total
            accepts_ranges = True
    elif status == 416:
        total = parse_content_range(response.headers.get("content-range"))
        size = total if isinstance(total, int) else 0
        accepts_ranges = True
    else:
        length = response.headers.get("content-length")
        size = int(length) if length and length.isdigit() else None
        accepts_ranges = response.headers.get("accept-ranges", "").lower() == "bytes"
    content_type = response.headers.get("content-type")
    name = choose_filename(response.headers.get("content-disposition"), final_url, content_type)
    return ProbeResult(url, final_url, name, size, content_type, accepts_ranges)
