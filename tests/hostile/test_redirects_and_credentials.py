"""Hostile redirects: where a token, URL credentials or a session's auth may go, and the guard."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from fetchq import BlockedAddressError, DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload
from tests.raw_server import raw_server


@pytest.mark.parametrize("session", [False, True])
def test_a_backslash_in_a_redirect_sends_no_token_to_the_other_host(
    other_server: TestServer, downloads: Path, session: bool
) -> None:
    """``http://B\\@A/x``: B to browsers (``\\`` is ``/``), A to urlsplit. fetchq reads it once,
    as browsers do, so the request goes to B and carries nothing meant for A."""
    data = payload(20_000)

    def redirect(connection: socket.socket, request: bytes, number: int) -> None:
        own_port = connection.getsockname()[1]  # urlsplit would call this the host
        location = f"http://127.0.0.1:{other_server.port}\\@127.0.0.1:{own_port}/x"
        other_server.add(f"/@127.0.0.1:{own_port}/x", data)
        answer = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
        connection.sendall(answer.encode())

    with raw_server(redirect) as source:
        options = {"requests_session": requests.Session()} if session else {}
        with DownloadQueueService(**options) as queue:  # type: ignore[arg-type]
            job = queue.download(source.url("/f.bin"), downloads, access_token="SECRET")
            assert queue.wait_for_job(job, LONG).complete, job.error
        assert b"Authorization: Bearer SECRET" in source.requests[0]
    (request,) = other_server.requests
    assert request.header("Authorization") is None
    assert (downloads / "x").read_bytes() == data


def test_url_credentials_stay_on_their_origin_across_a_redirect(
    server: TestServer, other_server: TestServer, downloads: Path, make_queue: QueueFactory
) -> None:
    data = payload(10_000)
    elsewhere = other_server.add("/cdn.bin", data)
    url = server.add("/start", redirect=elsewhere).replace("http://", "http://alice:pw@")
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert server.requests[0].header("Authorization") == "Basic YWxpY2U6cHc="
    assert other_server.requests[0].header("Authorization") is None


def test_a_redirect_with_credentials_of_its_own_sends_none(
    server: TestServer, other_server: TestServer, downloads: Path, make_queue: QueueFactory
) -> None:
    """A server cannot make fetchq log in somewhere with credentials it chose."""
    other_server.add("/cdn.bin", b"x")
    url = server.add("/start", redirect=f"http://mallory:pw@127.0.0.1:{other_server.port}/cdn.bin")
    queue = make_queue()
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert other_server.requests[0].header("Authorization") is None


def test_probe_goes_through_the_address_guard(server: TestServer) -> None:
    url = server.add("/f", b"secret")
    with (
        DownloadQueueService(allow_private_addresses=False) as queue,
        pytest.raises(BlockedAddressError),
    ):
        queue.probe(url)
    assert server.requests == []


def test_a_callers_session_with_a_proxy_cannot_reach_private_addresses(
    server: TestServer, downloads: Path
) -> None:
    """The proxy hides the target from the connection; the target is resolved and checked."""
    server.add("/internal.bin", b"secret")
    with TestServer() as proxy:  # a forward proxy: it serves absolute-URI requests
        session = requests.Session()
        session.proxies = {"http": proxy.origin}
        with DownloadQueueService(requests_session=session, allow_private_addresses=False) as queue:
            job = queue.download(server.url("/internal.bin"), downloads)
            queue.wait_for_job(job, LONG)
        assert proxy.requests == []
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("UnsafeDownloadURLException(")
    assert server.requests == []
