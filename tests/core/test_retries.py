"""Retries with backoff and Retry-After, resuming from the bytes on disk; integrity checks."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from fetchq import (
    ChecksumMismatch,
    DownloadJobStatus,
    DownloadRetryEvent,
    RetryPolicy,
)
from fetchq._retry import parse_retry_after
from fetchq.testing import Fault, TestServer
from tests.helpers import LONG, EventRecorder, QueueFactory, file_sha256, leftovers, payload, sha256


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(
    make_queue: QueueFactory, server: TestServer, downloads: Path, status: int
) -> None:
    data = payload(5000)
    url = server.add("/flaky.bin", data, fail_first=2, fail_status=status)
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert job.attempts == 3
    assert [r.status for r in server.requests_for("/flaky.bin")] == [status, status, 200]
    assert file_sha256(downloads / "flaky.bin") == sha256(data)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 451])
def test_other_client_errors_fail_at_once(
    make_queue: QueueFactory, server: TestServer, downloads: Path, status: int
) -> None:
    url = server.add("/nope.bin", b"x", status=status)
    queue = make_queue()
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.attempts == 1
    assert (job.error_type or "").startswith("HTTPError(")
    assert len(server.requests_for("/nope.bin")) == 1


def test_giving_up_after_the_attempts_without_progress(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    url = server.add("/down.bin", b"x", fail_first=100, fail_status=503)
    queue = make_queue(retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type == "HTTPError(Service Unavailable)"
    assert job.attempts == 3
    retries = [e for e in recorder.of(job.id) if isinstance(e, DownloadRetryEvent)]
    assert [e.attempt for e in retries] == [1, 2]
    assert all(e.error_type == "HTTPError(Service Unavailable)" for e in retries)


def test_retry_after_is_honoured_and_capped(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    url = server.add("/busy.bin", b"ok", fail_first=1, fail_status=429, retry_after="3")
    queue = make_queue(retry=RetryPolicy(base_delay=0.01, max_retry_after=0.3))
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    (retry,) = [e for e in recorder.of(job.id) if isinstance(e, DownloadRetryEvent)]
    assert retry.delay == pytest.approx(0.3)
    first, second = server.requests_for("/busy.bin")
    assert first.status == 429
    assert second.status == 200


def test_parse_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now) == pytest.approx(30.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5)
    assert [policy.delay(n, 0.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.delay(3, 1.0) == 2.0  # the most jitter halves the wait
    assert policy.delay(1, 0.0, retry_after=5.0) == 5.0
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_each_retry_resumes_from_the_bytes_on_disk(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(1_000_000)
    cuts = iter([200_000, 300_000, 250_000])

    def drop_a_few(request: object, resource: object) -> Fault | None:
        cut = next(cuts, None)
        return Fault.drop(cut) if cut is not None else None

    url = server.add("/drops.bin", data, faults=drop_a_few)
    queue = make_queue(max_connections_per_download=1)
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    requests = server.requests_for("/drops.bin")
    assert [r.header("Range") for r in requests] == [
        None,
        "bytes=200000-",
        "bytes=500000-",
        "bytes=750000-",
    ]
    assert sum(r.bytes_sent for r in requests) == len(data)
    assert job.attempts == 4
    assert file_sha256(downloads / "drops.bin") == sha256(data)


def test_a_download_that_keeps_advancing_is_not_given_up(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(600_000)
    url = server.add("/trickle.bin", data, drop_after=50_000)
    queue = make_queue(
        retry=RetryPolicy(attempts=2, base_delay=0.001), max_connections_per_download=1
    )
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert job.attempts == 12
    assert file_sha256(downloads / "trickle.bin") == sha256(data)


def test_overstated_length_is_a_short_body_and_retried(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(100_000)
    faults = iter([Fault.wrong_length(5000)])
    url = server.add("/liar.bin", data, faults=lambda r, s: next(faults, None))
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert job.attempts == 2
    assert file_sha256(downloads / "liar.bin") == sha256(data)


# 20 000 bytes are read whole into memory and checked there; 300 000 go through a part file.
SIZES = pytest.mark.parametrize("size", [20_000, 300_000])


@SIZES
@pytest.mark.parametrize("form", ["sha256", "checksum", "md5", "shake"])
def test_checksums_are_verified(
    make_queue: QueueFactory, server: TestServer, downloads: Path, form: str, size: int
) -> None:
    data = payload(size)
    url = server.add("/sum.bin", data)
    queue = make_queue()
    options = {
        "sha256": {"sha256": sha256(data)},
        "checksum": {"checksum": f"SHA-512:{hashlib.sha512(data).hexdigest().upper()}"},
        "md5": {"checksum": f"md5:{hashlib.md5(data).hexdigest()}"},
        "shake": {"checksum": f"shake_128:{hashlib.shake_128(data).hexdigest(20)}"},
    }[form]
    job = queue.download(url, downloads, **options)  # type: ignore[arg-type]
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "sum.bin") == sha256(data)


@SIZES
def test_checksum_mismatch_is_an_error_and_the_file_never_appears(
    make_queue: QueueFactory, server: TestServer, downloads: Path, size: int
) -> None:
    data = payload(size)
    url = server.add("/bad.bin", data)
    queue = make_queue()
    job = queue.download(url, downloads, sha256="0" * 64)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("ChecksumMismatch(sha256 is ")
    assert "expected 0000" in (job.error_type or "")
    assert "ChecksumMismatch" in (job.error or "")
    assert issubclass(ChecksumMismatch, Exception)
    assert not (downloads / "bad.bin").exists()
    assert leftovers(downloads) == []


def test_unverifiable_partial_is_fetched_again_once_when_the_checksum_fails(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(400_000)
    url = server.add("/stale.bin", data, etag=None, last_modified=None)
    stale = bytearray(data[:150_000])
    stale[1000:1010] = b"corrupted!"
    (downloads / "stale.bin.part").write_bytes(bytes(stale))  # no sidecar, no validator
    queue = make_queue()
    job = queue.download(url, downloads / "stale.bin", sha256=sha256(data))
    assert queue.wait_for_job(job, LONG).complete
    ranges = [r.header("Range") for r in server.requests_for("/stale.bin")]
    # Its last 64 KiB match (the corruption is before them) and a checksum will check the
    # result: continued, found wrong at the end, fetched again once from zero.
    assert ranges == ["bytes=84464-149999", "bytes=150000-", None]
    assert file_sha256(downloads / "stale.bin") == sha256(data)


def test_a_file_shorter_than_announced_never_completes(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(50_000)
    url = server.add("/short.bin", data, content_length=60_000, ranges=False)
    queue = make_queue(retry=RetryPolicy(attempts=2, base_delay=0.001))
    job = queue.download(url, downloads, max_connections=1)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type == (
        "NetworkError(The connection to 127.0.0.1 broke (end of response with 10000 bytes missing))"
    )
    assert not (downloads / "short.bin").exists()
    assert (downloads / "short.bin.part").stat().st_size == 50_000
