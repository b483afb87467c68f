"""A new link for a download that has part of its file: proof that it serves the same file.

A link may expire in the middle of a download (signed URLs, tokens in the query); the user
finds another. Before the download continues from its part file, the new link must serve that
file: the same size, and the same bytes where the part file has them, asked for as byte
ranges (the first and the last of what is on disk, up to 64 KiB each). Its ETag or
Last-Modified then become the validator that later resumes send. Anything else is refused
with the reason and nothing changes.

Two matching ends prove nothing of the bytes between them: a hostile server can send a public
file's real first and last bytes and its own in the middle. So a link on another host that the
user did not choose (a web page's) continues only when the whole file will be checked
(:func:`restart_reason`); otherwise the download starts again from zero.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional

from ._abort import AbortSignal
from ._exceptions import SourceMismatchError, TransferError
from ._http import FIRST_REQUEST_HEADERS, HttpClient, OriginSecrets
from ._response import ContentRange, parse_content_range, status_phrase
from ._segments import PartState, part_path
from ._transport import RangeAnswer
from ._url import url_origin

WINDOW = 64 * 1024
"""How many bytes of the part file are compared at each end of what it holds."""


def windows(state: PartState) -> list[tuple[int, int]]:
    """The ranges to compare: the start and the end of the bytes the part file holds."""
    ranges = list(state.done)
    if not ranges:
        return []
    first_start, first_end = ranges[0]
    last_start, last_end = ranges[-1]
    head = (first_start, min(first_end, first_start + WINDOW))
    tail = (max(last_start, last_end - WINDOW), last_end)
    return [head] if tail == head else [head, tail]


def restart_reason(
    old_url: str,
    new_url: str,
    checksum: Optional[str],
    recorded_etag: Optional[str],
    new_etag: Optional[str],
) -> Optional[str]:
    """None when a download may go on from its part file with a link that someone else
    chose: on the same host, or with a checksum to check the whole file against, or when the
    new link names the strong ETag the old one recorded. Else why it starts from zero."""
    new, old = url_origin(new_url), url_origin(old_url)
    new_host = new[1] if new is not None else ""
    if new_host and old is not None and new_host == old[1]:
        return None
    if checksum:
        return None  # the finished file is checked whole before it is kept
    if recorded_etag and not recorded_etag.startswith("W/") and recorded_etag == new_etag:
        return None
    return (
        f"Started again from zero: the new link is on {new_host or '?'}, another site, and "
        "nothing could check that its bytes are the file's"
    )


def verify_new_link(
    client: HttpClient,
    url: str,
    secrets: Optional[OriginSecrets],
    download_path: Path,
    state: PartState,
    signal: Optional[AbortSignal] = None,
) -> PartState:
    """The part file's state with ``url`` as its source and the new link's validator, once
    the link has served the same bytes; raises :class:`SourceMismatchError` saying why not."""
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    total = state.total
    for start, end in windows(state):
        window = RangeAnswer(end - start)
        try:
            client.fetch(
                url, FIRST_REQUEST_HEADERS, secrets, window, signal or AbortSignal(), (start, end)
            )
        except TransferError as exc:
            raise SourceMismatchError(f"the new link could not be checked: {exc}") from None
        head = window.head
        if head is None:
            raise SourceMismatchError("the new link sent no answer")
        if head.status == 200:
            raise SourceMismatchError(
                "the new link does not send parts of the file, so the download cannot continue "
                "from what it has"
            )
        if head.status != 206:
            phrase = head.reason or status_phrase(head.status)
            raise SourceMismatchError(f"the new link answers {head.status} {phrase}")
        answered = parse_content_range(head.header("content-range"))
        if not isinstance(answered, ContentRange) or answered.start != start:
            raise SourceMismatchError("the new link answered with other bytes than asked for")
        if total is not None and answered.total is not None and answered.total != total:
            raise SourceMismatchError(
                f"the new link serves a file of {answered.total:,} bytes, not {total:,}"
            )
        total = total if total is not None else answered.total
        if bytes(window.body) != _read(download_path, start, end):
            raise SourceMismatchError(
                f"the new link serves other bytes at {start:,}: it is another file, or "
                "another version of it"
            )
        etag = etag or head.header("etag")
        last_modified = last_modified or head.header("last-modified")
    return dataclasses.replace(
        state, source=url, total=total, etag=etag, last_modified=last_modified
    )


def _read(download_path: Path, start: int, end: int) -> bytes:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(part_path(download_path), flags)
    try:
        os.lseek(fd, start, os.SEEK_SET)
        return os.read(fd, end - start)
    finally:
        os.close(fd)
