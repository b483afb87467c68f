"""The libcurl transport on its own: one hop in, a head and a body out, and nothing more."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from fetchq import BlockedAddressError, CertificateError, NetworkError
from fetchq._abort import AbortReason, AbortSignal
from fetchq._curl import CurlTransport, curl_failure
from fetchq._failures import Failure
from fetchq._retry import Timeouts
from fetchq._transport import Request, ResponseHead
from fetchq._trust import system_trust
from fetchq._url import parse_url
from fetchq.testing import TestServer, ca_bundle
from tests.helpers import Collect, payload
from tests.raw_server import raw_server, respond_with

TIMEOUTS = Timeouts(connect=2.0, read=1.0)


@pytest.fixture
def transport() -> Iterator[CurlTransport]:
    made = CurlTransport(TIMEOUTS, "fetchq-tests", system_trust(ca_bundle()))
    yield made
    made.close()


def fetch(transport: CurlTransport, url: str, receiver: object, **options: object) -> bool:
    request = Request(url=parse_url(url), **options)  # type: ignore[arg-type]
    return transport.fetch(request, receiver, AbortSignal())  # type: ignore[arg-type]


def test_a_head_then_the_body_in_chunks(transport: CurlTransport, server: TestServer) -> None:
    data = payload(1_000_000)
    received = Collect()
    assert fetch(transport, server.add("/file.bin", data), received) is True
    assert received.head is not None
    assert received.head.status == 200
    assert received.head.header("Content-Length") == str(len(data))
    assert bytes(received.body) == data
    assert server.requests[0].header("User-Agent") == "fetchq-tests"


def test_a_redirect_is_a_head_like_any_other(transport: CurlTransport, server: TestServer) -> None:
    """libcurl never follows: the policy above decides, hop by hop."""
    server.add("/target", b"there")
    received = Collect()
    fetch(transport, server.add("/moved", redirect="/target"), received)
    assert received.head is not None
    assert received.head.status == 302
    assert [r.path for r in server.requests] == ["/moved"]


def test_a_receiver_that_has_enough_stops_the_body(
    transport: CurlTransport, server: TestServer
) -> None:
    class FirstChunkOnly(Collect):
        def on_data(self, data: bytes) -> Optional[bool]:
            self.body += data
            return False

    received = FirstChunkOnly()
    assert fetch(transport, server.add("/long.bin", payload(5_000_000)), received) is False
    assert 0 < len(received.body) < 5_000_000


def test_what_a_receiver_raises_comes_out_of_fetch(
    transport: CurlTransport, server: TestServer
) -> None:
    class Refuse(Collect):
        def on_head(self, head: ResponseHead) -> bool:
            raise ValueError("not this one")

    with pytest.raises(ValueError, match="not this one"):
        fetch(transport, server.add("/x.bin", b"x"), Refuse())


def test_interim_answers_are_skipped_and_folded_headers_unfolded(
    transport: CurlTransport,
) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
        b'Content-Disposition: attachment;\r\n filename="folded.txt"\r\n\r\nhello'
    )
    with raw_server(respond_with(answer)) as raw:
        received = Collect()
        fetch(transport, raw.url("/x"), received)
    assert received.head is not None
    assert received.head.status == 200
    assert received.head.header("content-disposition") == 'attachment; filename="folded.txt"'
    assert "link" not in received.head.headers
    assert bytes(received.body) == b"hello"


def test_a_refused_address_is_never_connected_to(transport: CurlTransport) -> None:
    with raw_server(respond_with(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) as raw:
        with pytest.raises(BlockedAddressError, match=r"non-public address 127\.0\.0\.1"):
            fetch(transport, raw.url("/x"), Collect(), address_policy=lambda ip: False)
        time.sleep(0.1)  # time for a connection to arrive, if one had been made
        assert raw.connections == 0


def test_connections_are_kept_alive_between_requests(
    transport: CurlTransport, server: TestServer
) -> None:
    for name in ("a", "b", "c"):
        fetch(transport, server.add(f"/{name}", name.encode()), Collect())
    assert len({r.client_port for r in server.requests}) == 1


@pytest.mark.parametrize("scheme", ["https"])
def test_tls_connections_are_kept_alive_too(transport: CurlTransport, server: TestServer) -> None:
    for name in ("a", "b", "c"):
        fetch(transport, server.add(f"/{name}", name.encode()), Collect())
    assert len({r.client_port for r in server.requests}) == 1


@pytest.mark.parametrize("scheme", ["https"])
def test_an_untrusted_certificate_is_refused(server: TestServer) -> None:
    stranger = CurlTransport(TIMEOUTS, "fetchq-tests", system_trust())
    try:
        with pytest.raises(
            CertificateError, match=r"The certificate of 127\.0\.0\.1 is not trusted"
        ):
            fetch(stranger, server.add("/x", b"x"), Collect())
    finally:
        stranger.close()
    assert server.requests == []


def test_nothing_listening_is_said_plainly(transport: CurlTransport) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(NetworkError, match=f"Nothing answers at 127.0.0.1:{port}") as raised:
        fetch(transport, f"http://127.0.0.1:{port}/x", Collect())
    assert raised.value.failure == "connect"
    assert raised.value.retryable


def test_a_stall_ends_after_the_read_timeout(transport: CurlTransport) -> None:
    def stall(connection: socket.socket, request: bytes, number: int) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(5)

    with raw_server(stall) as raw:
        started = time.monotonic()
        with pytest.raises(NetworkError, match="stopped sending data") as raised:
            fetch(transport, raw.url("/x"), Collect())
    assert 1.0 <= time.monotonic() - started < 3.0  # the timeout, plus at most a second
    assert raised.value.failure == "timeout"


@pytest.mark.parametrize("headers_first", [True, False])
def test_an_abort_wakes_a_blocked_read_at_once(
    transport: CurlTransport, headers_first: bool
) -> None:
    def stall(connection: socket.socket, request: bytes, number: int) -> None:
        if headers_first:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(5)

    signal = AbortSignal()
    with raw_server(stall) as raw:
        request = Request(url=parse_url(raw.url("/x")))
        timer = threading.Timer(0.3, signal.abort, (AbortReason.CANCEL,))
        timer.start()
        started = time.monotonic()
        assert transport.fetch(request, Collect(), signal) is False
        assert time.monotonic() - started < 0.6
        timer.join()


def test_curl_codes_map_to_a_closed_set() -> None:
    import pycurl

    assert curl_failure(pycurl.E_COULDNT_RESOLVE_HOST) is Failure.RESOLVE
    assert curl_failure(pycurl.E_PEER_FAILED_VERIFICATION) is Failure.CERTIFICATE
    assert curl_failure(pycurl.E_PARTIAL_FILE) is Failure.BROKEN
    assert curl_failure(12345) is Failure.OTHER
    assert not Failure.CERTIFICATE.retryable
    assert Failure.BROKEN.retryable


def test_only_our_schemes_are_spoken(transport: CurlTransport, tmp_path: Path) -> None:
    """libcurl speaks dozens of protocols; fetchq lets it speak four. A file: URL that slipped
    past the parser would still be refused by libcurl itself."""
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    url = parse_url("http://example.invalid/")
    forged = Request(url=type(url)("http", "example.invalid", 80, "/"))
    import pycurl

    curl = pycurl.Curl()
    try:
        transport.configure(curl, forged)
        curl.setopt(pycurl.URL, f"file://{secret}")
        curl.setopt(pycurl.WRITEFUNCTION, lambda data: None)
        with pytest.raises(pycurl.error) as raised:
            curl.perform()
        assert raised.value.args[0] == pycurl.E_UNSUPPORTED_PROTOCOL
    finally:
        curl.close()
