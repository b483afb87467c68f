"""HTTP policy: tokens, redirects and credentials, the caller's session, headers, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from fetchq import DownloadJobStatus, DownloadQueueService, HTTPError, RetryPolicy, Timeouts
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload

TOKEN = "hf_secret_token_123"


def test_bearer_token_goes_to_the_source(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    job = queue.download(server.add("/private.bin", b"p"), downloads, access_token=TOKEN)
    assert queue.wait_for_job(job, LONG).complete
    assert server.requests_for("/private.bin")[0].header("Authorization") == f"Bearer {TOKEN}"


def test_token_rules_choose_by_url(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue(tokens=[(r"/models/", TOKEN), (r"/other/", "other-token")])
    model = queue.download(server.add("/models/m.bin", b"m"), downloads)
    public = queue.download(server.add("/public/p.bin", b"p"), downloads)
    mine = queue.download(server.url("/models/m.bin"), downloads / "mine", access_token="mine")
    assert queue.join(LONG)
    assert all(j.complete for j in (model, public, mine))
    headers = [r.header("Authorization") for r in server.requests]
    assert headers.count(f"Bearer {TOKEN}") == 1
    assert headers.count("Bearer mine") == 1
    assert headers.count(None) == 1


def test_credentials_stay_on_their_origin_across_redirects(
    server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(5000)
    other_server.add("/cdn/file.bin", data)
    server.add("/same", redirect="/start")
    server.add("/start", redirect=other_server.url("/cdn/file.bin"))
    session = requests.Session()
    session.headers["X-Api-Key"] = "session-secret"
    session.auth = ("user", "password")
    session.cookies.set("session", "cookie-secret")  # a host-only cookie for 127.0.0.1, any port
    with DownloadQueueService(requests_session=session) as queue:
        job = queue.download(server.url("/same"), downloads, access_token=TOKEN)
        assert queue.wait_for_job(job, LONG).complete
    assert (downloads / "file.bin").read_bytes() == data
    for hop in server.requests:
        assert hop.header("Authorization") == f"Bearer {TOKEN}"
        assert hop.header("X-Api-Key") == "session-secret"
        assert "cookie-secret" in (hop.header("Cookie") or "")
    (final,) = other_server.requests
    assert final.header("Authorization") is None
    assert final.header("X-Api-Key") is None
    assert final.header("Cookie") is None
    assert final.header("Accept-Encoding") == "identity"


def test_session_auth_is_used_when_no_token(server: TestServer, downloads: Path) -> None:
    session = requests.Session()
    session.auth = ("user", "password")
    with DownloadQueueService(requests_session=session) as queue:
        job = queue.download(server.add("/basic.bin", b"b"), downloads)
        assert queue.wait_for_job(job, LONG).complete
    header = server.requests_for("/basic.bin")[0].header("Authorization")
    assert header is not None
    assert header.startswith("Basic ")


def test_redirects_to_other_schemes_and_loops_are_refused(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    server.add("/to-file", redirect="file:///etc/passwd")
    server.add("/to-ftp", redirect="ftp://127.0.0.1/x")
    server.add("/loop", redirect="/loop")
    jobs = [queue.download(server.url(p), downloads) for p in ("/to-file", "/to-ftp", "/loop")]
    assert queue.join(LONG)
    errors = [j.error_type or "" for j in jobs]
    assert all(j.status == DownloadJobStatus.ERROR for j in jobs)
    assert errors[0].startswith("RedirectError(")
    assert "file" in errors[0]
    assert errors[1].startswith("RedirectError(")
    assert "ftp" in errors[1]
    assert errors[2] == "RedirectError(more than 10 redirects)"
    assert len(server.requests_for("/loop")) == 11


def test_the_callers_session_is_used_as_given(server: TestServer, downloads: Path) -> None:
    class CountingAdapter(HTTPAdapter):
        sent = 0

        def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
            CountingAdapter.sent += 1
            return super().send(request, **kwargs)  # type: ignore[arg-type]

    session = requests.Session()
    session.mount("http://", CountingAdapter())
    with DownloadQueueService(requests_session=session) as queue:
        job = queue.download(server.add("/s.bin", payload(1000)), downloads)
        assert queue.wait_for_job(job, LONG).complete
    assert CountingAdapter.sent == 1


def test_identity_encoding_keeps_bytes_as_served(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    import gzip

    raw = gzip.compress(payload(20_000))
    url = server.add("/archive.gz", raw, headers={"Content-Encoding": "gzip"})
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert server.requests_for("/archive.gz")[0].header("Accept-Encoding") == "identity"
    assert (downloads / "archive.gz").read_bytes() == raw


def test_read_timeout_is_always_set(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/stuck.bin", payload(10_000), stall_after=0, stall_seconds=60)
    queue = make_queue(
        timeouts=Timeouts(connect=1.0, read=0.3), retry=RetryPolicy(attempts=2, base_delay=0.01)
    )
    started = time.monotonic()
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    assert time.monotonic() - started < 5
    assert job.status == DownloadJobStatus.ERROR
    assert job.attempts == 2
    # A stall is noticed at libcurl's next progress call: within a second of the timeout.
    assert (job.error_type or "").startswith("NetworkError(127.0.0.1 stopped sending data")


def test_private_address_guard(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/internal.bin", b"secret")
    queue = make_queue(allow_private_addresses=False)
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("UnsafeDownloadURLException(")
    assert server.requests == []  # refused at connect time, before a byte was sent


def test_probe_reports_name_size_and_ranges(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    data = payload(12_345)
    url = server.add(
        "/p/model.bin", data, content_disposition='attachment; filename="m.safetensors"'
    )
    result = queue.probe(url)
    assert (result.name, result.size, result.accepts_ranges) == ("m.safetensors", 12_345, True)
    plain = queue.probe(server.add("/plain.txt", b"hello", ranges=False, content_type="text/plain"))
    assert (plain.name, plain.size, plain.accepts_ranges) == ("plain.txt", 5, False)
    assert server.bytes_sent("/p/model.bin") == 1
    with pytest.raises(HTTPError, match="Not Found"):
        queue.probe(server.url("/nothing"))


def test_origins_differ_by_scheme_host_and_port() -> None:
    from fetchq._http import origin_of

    assert origin_of("http://Example.org/a") == origin_of("http://example.org:80/b")
    assert origin_of("https://example.org/") == ("https", "example.org", 443)
    assert origin_of("http://example.org/") != origin_of("https://example.org/")
    assert origin_of("https://example.org/") != origin_of("https://example.org:8443/")
    assert origin_of("https://example.org/") != origin_of("https://cdn.example.org/")


def test_credentials_in_the_url_reach_the_server_as_basic_auth(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    """User info never goes into the URL libcurl gets; it goes as Basic auth, to its origin."""
    data = payload(300_000)
    url = server.add("/secret.bin", data).replace("http://", "http://user:pw@")
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert (downloads / "secret.bin").read_bytes() == data
    (request,) = server.requests_for("/secret.bin")
    assert request.header("Authorization") == "Basic dXNlcjpwdw=="  # user:pw


def test_a_proxy_from_the_environment_is_used(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``http_proxy`` set, plain http goes to the proxy as an absolute-URI request."""
    data = payload(50_000)
    origin = "http://fetchq-proxied.invalid"  # resolvable only by the proxy
    server.add("/via-proxy.bin", data)
    monkeypatch.setenv("http_proxy", server.url("/").rstrip("/"))
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    queue = make_queue()
    job = queue.download(f"{origin}/via-proxy.bin", downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error_type
    assert (downloads / "via-proxy.bin").read_bytes() == data
