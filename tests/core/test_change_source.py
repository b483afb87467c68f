"""Expired links: a download whose link stops serving its file pauses as "link expired" with
its part file untouched, and continues from it with a new link only when that link serves the
same file (issue 17, item 1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fetchq import (
    DownloadJob,
    DownloadJobStatus,
    DownloadQueueService,
    InvalidRequestError,
    SourceMismatchError,
)
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256, wait_until

SIZE = 2_000_000
HELD = 600_000


def half_done(queue: DownloadQueueService, server: TestServer, downloads: Path) -> DownloadJob:
    """A download paused with its first HELD bytes on disk (the server stalls after them)."""
    url = server.add("/iso/file.iso", payload(SIZE), stall_after=HELD, stall_seconds=30)
    job = queue.download(url, downloads, max_connections=1, access_token="T0KEN")
    wait_until(lambda: job.bytes >= HELD, LONG)
    queue.pause_job(job)
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED, LONG)
    return job


def part(downloads: Path) -> Path:
    return downloads / "file.iso.part"


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_link_that_now_refuses_pauses_the_download_as_expired(
    make_queue: QueueFactory, server: TestServer, downloads: Path, status: int
) -> None:
    queue = make_queue()
    job = half_done(queue, server, downloads)
    before = file_sha256(part(downloads))
    server.add("/iso/file.iso", b"gone", status=status)
    queue.resume_job(job)
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED and job.link_expired, LONG)
    assert job.resume_message is not None
    assert job.resume_message.startswith(f"Link expired: the server now answers {status}")
    assert job.error is None
    assert file_sha256(part(downloads)) == before


def test_a_web_page_in_place_of_the_file_pauses_it_and_never_replaces_the_part_file(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = half_done(queue, server, downloads)
    before = file_sha256(part(downloads))
    server.add("/iso/file.iso", b"<html>Please log in</html>", content_type="text/html")
    queue.resume_job(job)
    wait_until(lambda: job.link_expired, LONG)
    assert job.status == DownloadJobStatus.PAUSED
    assert job.resume_message == "Link expired: the server now sends a web page, not the file"
    assert file_sha256(part(downloads)) == before
    assert not (downloads / "file.iso").exists()


def test_a_new_link_to_the_same_file_continues_from_the_part_file(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = half_done(queue, server, downloads)
    server.add("/iso/file.iso", b"gone", status=403)
    queue.resume_job(job)
    wait_until(lambda: job.link_expired, LONG)
    mirror = other_server.add("/mirror/file.iso?sig=new", payload(SIZE), etag='"mirror-7"')
    queue.change_source(job, mirror)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert file_sha256(downloads / "file.iso") == sha256(payload(SIZE))
    assert not job.link_expired
    assert str(job.source) == mirror
    served = other_server.requests_for("/mirror/file.iso")
    checks, rest = served[:2], served[2:]
    assert [r.header("Range") for r in checks] == [
        "bytes=0-65535",
        f"bytes={HELD - 65536}-{HELD - 1}",
    ]
    ranges = [r.header("Range") or "" for r in rest]
    assert ranges[0].startswith(f"bytes={HELD}-"), ranges  # on from the part file's end
    assert all(int(r.removeprefix("bytes=").split("-")[0]) >= HELD for r in ranges), ranges
    assert rest[0].header("If-Range") == '"mirror-7"'  # the new link's version from now on
    # the token was the old origin's: the mirror never sees it
    assert all(r.header("Authorization") is None for r in served)


@pytest.mark.parametrize(
    ("body", "ranges", "words"),
    [
        (payload(SIZE, seed=9), True, "serves other bytes at 0"),
        (payload(SIZE + 1), True, "a file of 2,000,001 bytes, not 2,000,000"),
        (payload(SIZE), False, "does not send parts of the file"),
    ],
)
def test_a_new_link_to_another_file_is_refused_and_nothing_changes(
    make_queue: QueueFactory,
    server: TestServer,
    other_server: TestServer,
    downloads: Path,
    body: bytes,
    ranges: bool,
    words: str,
) -> None:
    queue = make_queue()
    job = half_done(queue, server, downloads)
    source, before = str(job.source), file_sha256(part(downloads))
    sidecar = (downloads / "file.iso.part.json").read_bytes()
    other = other_server.add("/other.iso", body, ranges=ranges)
    with pytest.raises(SourceMismatchError, match=words):
        queue.change_source(job, other)
    assert job.status == DownloadJobStatus.PAUSED
    assert str(job.source) == source
    assert file_sha256(part(downloads)) == before
    assert (downloads / "file.iso.part.json").read_bytes() == sidecar


def test_a_new_link_that_answers_an_error_is_refused(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = half_done(queue, server, downloads)
    with pytest.raises(SourceMismatchError, match="answers 404 Not Found"):
        queue.change_source(job, server.url("/nothing-here"))


def test_the_link_of_a_running_download_cannot_be_changed(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    url = server.add("/slow.iso", payload(SIZE), stall_after=HELD, stall_seconds=30)
    job = queue.download(url, downloads)
    wait_until(lambda: job.bytes > 0, LONG)
    with pytest.raises(InvalidRequestError, match="pause the download"):
        queue.change_source(job, server.url("/elsewhere.iso"))
    queue.cancel_job(job)


def test_a_failed_download_without_bytes_takes_any_new_link(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = queue.download(server.url("/missing.bin"), downloads / "wanted.bin")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert not job.link_expired  # a link that never served anything is broken, not expired
    data = payload(10_000)
    queue.change_source(job, server.add("/found.bin", data))
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert (downloads / "wanted.bin").read_bytes() == data


def test_an_expired_link_survives_a_restart(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    queue = make_queue(journal=journal)
    job = half_done(queue, server, downloads)
    server.add("/iso/file.iso", b"gone", status=410)
    queue.resume_job(job)
    wait_until(lambda: job.link_expired, LONG)
    queue.close()
    (restored,) = make_queue(journal=journal).list_jobs()
    assert restored.status == DownloadJobStatus.PAUSED
    assert restored.link_expired
    assert restored.resume_message == job.resume_message
    assert hashlib.sha256(part(downloads).read_bytes()).hexdigest() == file_sha256(part(downloads))
