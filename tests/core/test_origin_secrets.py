"""Per-download headers and cookies: sent to the source's origin only, on every connection,
never written to the journal, a sidecar or a repr, and refused when they could break a request."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fetchq import DownloadQueueService, InvalidRequestError
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256, wait_until

COOKIE = "session=s3cr3t-cookie-41; theme=dark"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chromium/156.0"


@pytest.mark.parametrize("session", [False, True])
def test_cookies_and_headers_go_to_the_origin_and_not_through_a_redirect(
    server: TestServer, other_server: TestServer, downloads: Path, session: bool
) -> None:
    data = payload(30_000)
    elsewhere = other_server.add("/cdn.bin", data)
    url = server.add("/start", redirect=elsewhere)
    options = {"requests_session": requests.Session()} if session else {}
    with DownloadQueueService(**options) as queue:  # type: ignore[arg-type]
        job = queue.download(
            url, downloads, headers={"User-Agent": AGENT, "Referer": url}, cookies=COOKIE
        )
        assert queue.wait_for_job(job, LONG).complete, job.error
    (first,) = server.requests
    assert first.header("Cookie") == COOKIE
    assert first.header("User-Agent") == AGENT
    assert first.header("Referer") == url
    (hop,) = other_server.requests
    assert hop.header("Cookie") is None
    assert hop.header("Referer") is None
    assert hop.header("User-Agent") != AGENT
    assert (downloads / "cdn.bin").read_bytes() == data


def test_every_connection_of_a_segmented_download_carries_the_cookie(
    server: TestServer, downloads: Path, make_queue: QueueFactory
) -> None:
    data = payload(6_000_000)
    url = server.add("/big.bin", data, rate=3_000_000)
    queue = make_queue()
    job = queue.download(url, downloads, cookies={"session": "abc", "v": '"quoted"'})
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert file_sha256(downloads / "big.bin") == sha256(data)
    ranges = [r for r in server.requests_for("/big.bin") if r.header("Range")]
    assert len(server.requests_for("/big.bin")) >= 2, "the download was not split"
    assert ranges
    assert {r.header("Cookie") for r in server.requests_for("/big.bin")} == {
        'session=abc; v="quoted"'
    }


def test_cookies_and_headers_are_never_written_or_printed(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    url = server.add("/private.bin", payload(300_000), stall_after=100_000, stall_seconds=10)
    queue = make_queue(journal=journal)
    job = queue.download(url, downloads, headers={"X-Api-Key": "hdr-secret-9"}, cookies=COOKIE)
    wait_until(lambda: job.bytes > 0)
    queue.pause_job(job)
    wait_until(lambda: not job.running)
    queue.close()
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in (b"s3cr3t-cookie-41", b"hdr-secret-9"):
        assert secret not in written
        assert secret.decode() not in repr(job)
        assert secret.decode() not in job.model_dump_json()
    second = make_queue(journal=journal)
    (restored,) = second.list_jobs()
    assert restored.cookies is None
    assert restored.headers == {}


def test_cookie_pairs_keep_a_name_given_twice(
    server: TestServer, downloads: Path, make_queue: QueueFactory
) -> None:
    """A browser sends two cookies of one name (set for two paths) as they are: so does fetchq."""
    url = server.add("/f.bin", b"hello")
    queue = make_queue()
    job = queue.download(url, downloads, cookies=[("id", "1"), ("id", "2 two")])
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert server.requests[0].header("Cookie") == "id=1; id=2 two"


def test_probe_sends_them_too(server: TestServer) -> None:
    url = server.add("/f.bin", b"hello")
    with DownloadQueueService() as queue:
        queue.probe(url, cookies="a=1", headers={"X-Test": "yes"})
    (request,) = server.requests
    assert request.header("Cookie") == "a=1"
    assert request.header("X-Test") == "yes"


@pytest.mark.parametrize(
    ("headers", "cookies", "reason"),
    [
        ({"Range": "bytes=0-"}, None, "sets the Range header itself"),
        ({"accept-encoding": "gzip"}, None, "sets the accept-encoding header itself"),
        ({"X-A": "one\r\nHost: evil"}, None, "printable ASCII on one line"),
        ({"Bad Name": "x"}, None, "is not a header name"),
        ({"X-A": "caf\u00e9"}, None, "printable ASCII"),
        ({"Cookie": "a=1"}, None, "as cookies="),
        ({"X-A": "1", "x-a": "2"}, None, "given twice"),
        ({"X-Big": "v" * 20_000}, None, "KiB at most"),
        (["X-A"], None, "must be a mapping"),
        (None, "novalue", "name=value pairs"),
        (None, {"a": "1; admin=1"}, "cannot carry"),
        (None, {"a b": "1"}, "is not a cookie name"),
        (None, "a=1\r\nX: y", "cannot carry"),
        (None, 42, "a string, a mapping or"),
        (None, [("a", "1; admin=1")], "cannot carry"),
        (None, [("a", "1", "x")], "a string, a mapping or"),
    ],
)
def test_bad_headers_and_cookies_are_refused_before_anything_is_queued(
    server: TestServer, downloads: Path, headers: object, cookies: object, reason: str
) -> None:
    url = server.add("/f.bin", b"x")
    with DownloadQueueService() as queue:
        with pytest.raises(InvalidRequestError, match=reason):
            queue.download(url, downloads, headers=headers, cookies=cookies)  # type: ignore[arg-type]
        assert queue.list_jobs() == []
    assert server.requests == []
