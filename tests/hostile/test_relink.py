"""A web page offers a new link for a download whose link expired.

The page serves a public file's real first bytes (which fetchq compares at both ends of what it
has) and its own after them. Matching ends prove nothing of the middle: from another site the
download goes on from its part file only when the whole file will be checked.
"""

from __future__ import annotations

from pathlib import Path

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService, url_origin
from fetchq._relink import restart_reason
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256, wait_until

SIZE, HELD = 2_000_000, 600_000


def _expired(
    queue: DownloadQueueService, server: TestServer, data: bytes, downloads: Path, **options: str
) -> DownloadJob:
    """A download that has HELD bytes of ``data`` and whose link then expired."""
    url = server.add("/file.iso", data, stall_after=HELD, stall_seconds=30)
    job = queue.download(url, downloads, **options)  # type: ignore[arg-type]
    wait_until(lambda: job.bytes >= HELD, LONG)
    queue.pause_job(job)
    queue.wait_for_job(job, LONG)
    server.add("/file.iso", b"gone", status=410)
    queue.resume_job(job)
    wait_until(lambda: job.link_expired, LONG)
    return job


def _on_another_site(url: str) -> str:
    return url.replace("127.0.0.1", "localhost", 1)


def test_a_pages_link_on_another_site_starts_the_file_again(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    real = payload(SIZE, 1)
    spliced = real[:HELD] + payload(SIZE, 2)[HELD:]  # its ends match what fetchq has
    queue = make_queue(max_connections_per_download=1)
    job = _expired(queue, server, real, downloads)
    page_link = _on_another_site(other_server.add("/mirror/file.iso", spliced))
    queue.change_source(job, page_link, prove_whole_file=True)
    assert (job.resume_message or "").startswith("Started again from zero")
    assert "localhost" in (job.resume_message or "")
    assert queue.wait_for_job(job, LONG).complete, job.error
    # all of it came from the new site: nothing of the old download was spliced to it
    assert other_server.bytes_sent("/mirror/file.iso") >= SIZE
    assert file_sha256(downloads / "file.iso") == sha256(spliced)


def test_with_a_checksum_the_spliced_file_is_caught(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    real = payload(SIZE, 1)
    spliced = real[:HELD] + payload(SIZE, 2)[HELD:]
    queue = make_queue(max_connections_per_download=1)
    job = _expired(queue, server, real, downloads, checksum=f"sha256:{sha256(real)}")
    page_link = _on_another_site(other_server.add("/mirror/file.iso", spliced))
    queue.change_source(job, page_link, prove_whole_file=True)
    assert job.resume_message is None  # it may go on: the whole file will be checked
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert "Checksum" in (job.error_type or ""), job.error_type
    assert not (downloads / "file.iso").exists()
    assert other_server.bytes_sent("/mirror/file.iso") < SIZE  # it went on from its bytes


def test_a_mirror_with_the_old_links_strong_etag_goes_on_from_its_bytes(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    real = payload(SIZE, 1)
    queue = make_queue(max_connections_per_download=1)
    job = _expired(queue, server, real, downloads)
    assert job.etag
    assert not job.etag.startswith("W/")
    mirror = _on_another_site(other_server.add("/mirror/file.iso", real, etag=job.etag))
    queue.change_source(job, mirror, prove_whole_file=True)
    assert job.resume_message is None
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert other_server.bytes_sent("/mirror/file.iso") < SIZE
    assert file_sha256(downloads / "file.iso") == sha256(real)


def test_the_same_site_goes_on_from_its_bytes(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    real = payload(SIZE, 1)
    queue = make_queue(max_connections_per_download=1)
    job = _expired(queue, server, real, downloads)
    fresh = other_server.add("/signed/file.iso", real, etag=None)
    queue.change_source(job, fresh, prove_whole_file=True)
    assert job.resume_message is None
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert other_server.bytes_sent("/signed/file.iso") < SIZE
    assert file_sha256(downloads / "file.iso") == sha256(real)


def test_the_same_site_is_the_host_the_connection_goes_to() -> None:
    """``http://evil.example\\@old.example/`` goes to evil.example (WHATWG, as libcurl is
    driven here); another URL parser reads old.example and would keep the part file."""
    old = "https://old.example/file.iso"
    disguised = "https://evil.example\\@old.example/file.iso"
    assert url_origin(disguised) == ("https", "evil.example", 443)
    reason = restart_reason(old, disguised, None, None, None)
    assert reason is not None
    assert "evil.example" in reason
    assert restart_reason(old, "https://OLD.example:443/other.iso", None, None, None) is None
