"""fetchq.testing's server does what it promises (the other tests lean on it)."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from fetchq.testing import Fault, RandomFaults, TestServer
from tests.helpers import payload


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers={"Accept-Encoding": "identity", **headers}, timeout=5)


def test_listens_on_loopback_only(server: TestServer) -> None:
    assert server.origin.startswith("http://127.0.0.1:")
    assert server._server is not None
    assert server._server.server_address[0] == "127.0.0.1"


def test_serves_ranges_and_records(server: TestServer) -> None:
    data = payload(1000)
    url = server.add("/f", data, content_disposition="attachment; filename=x.bin")
    whole = get(url, **{"X-Probe": "1"})
    assert whole.content == data
    assert whole.headers["Content-Disposition"] == "attachment; filename=x.bin"
    part = get(url, Range="bytes=10-19")
    assert (part.status_code, part.content) == (206, data[10:20])
    assert part.headers["Content-Range"] == "bytes 10-19/1000"
    assert get(url, Range="bytes=-5").content == data[-5:]
    assert get(url, Range="bytes=2000-").status_code == 416
    stale = get(url, Range="bytes=10-19", **{"If-Range": '"other"'})
    assert stale.status_code == 200
    assert stale.content == data
    recorded = server.requests_for("/f")
    assert recorded[0].header("x-probe") == "1"
    assert [r.status for r in recorded] == [200, 206, 206, 416, 200]
    assert recorded[1].bytes_sent == 10


def test_failures_then_success_with_retry_after(server: TestServer) -> None:
    url = server.add("/flaky", b"ok", fail_first=2, fail_status=503, retry_after="7")
    first, second, third = get(url), get(url), get(url)
    assert (first.status_code, first.headers["Retry-After"]) == (503, "7")
    assert second.status_code == 503
    assert third.content == b"ok"


def test_rate_limit_drop_and_wrong_length(server: TestServer) -> None:
    data = payload(200_000)
    slow = server.add("/slow", data, rate=1_000_000)
    started = time.monotonic()
    assert get(slow).content == data
    assert 0.15 <= time.monotonic() - started < 2.0
    dropped = server.add("/drop", data, drop_after=1234)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(dropped).content  # noqa: B018
    assert server.requests_for("/drop")[0].bytes_sent == 1234
    liar = server.add("/liar", b"short", content_length=100)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(liar).content  # noqa: B018


def test_stall_and_status_and_redirects(server: TestServer, other_server: TestServer) -> None:
    stalled = server.add("/stall", b"abcdef", stall_after=3, stall_seconds=0.3)
    started = time.monotonic()
    assert get(stalled).content == b"abcdef"
    assert time.monotonic() - started >= 0.29
    assert get(server.add("/teapot", status=418)).status_code == 418
    other_server.add("/there", b"there")
    server.add("/away", redirect=other_server.url("/there"), redirect_status=307)
    assert get(server.url("/away")).content == b"there"
    assert get(server.url("/missing")).status_code == 404


def test_fault_chooser_and_random_faults(server: TestServer) -> None:
    data = payload(5000)
    url = server.add("/f", data, faults=lambda request, resource: Fault.ignore_range())
    assert get(url, Range="bytes=0-9").status_code == 200
    chaos = RandomFaults(seed=7, probability=1.0, stall_seconds=0.01)
    server.add("/c", data, faults=chaos)
    outcomes = set()
    for _ in range(40):
        try:
            outcomes.add(get(server.url("/c"), Range="bytes=100-").status_code)
        except requests.RequestException:
            outcomes.add(-1)
    assert sum(chaos.injected.values()) >= 30
    assert len(chaos.injected) >= 4
    assert outcomes & {416, 500, 502, 503, 504, 429}


def test_close_drops_stalled_connections() -> None:
    server = TestServer()
    server.start()
    server.add("/hang", b"x", stall_after=0, stall_seconds=60)
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2
    connection.close()
