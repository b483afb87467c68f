"""Hostile framing: bytes past a body, odd numbers, odd codings, endless heads."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, RetryPolicy, Timeouts
from tests.helpers import LONG, QueueFactory
from tests.raw_server import RawServer, raw_server, read_request, respond_with

QUICK = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, max_retry_after=0.05)


@pytest.mark.parametrize("late", [False, True], ids=["with-the-body", "after-the-body"])
def test_bytes_after_a_body_never_become_the_next_file(
    make_queue: QueueFactory, downloads: Path, late: bool
) -> None:
    """The pipelining attack: a complete second response slipped behind the first body, in
    the same write or a moment later. A kept-alive connection with bytes nobody asked for is
    never reused (libcurl alone read them as the next answer: it skips its liveness check
    for connections idle under a second)."""
    injected = (
        b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=fake.txt\r\n"
        b"Content-Length: 4\r\n\r\nFAKE"
    )

    injected_sent = threading.Event()

    def serve(connection: socket.socket, request: bytes, number: int) -> None:
        while request:
            if b"/first.bin" in request:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
                time.sleep(0.05)
                if late:
                    connection.sendall(b"hello")
                    time.sleep(0.05)
                    connection.sendall(injected)
                else:
                    connection.sendall(b"hello" + injected)
                injected_sent.set()
            else:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nREAL")
            request = read_request(connection)

    with raw_server(serve) as raw:
        queue = make_queue(max_parallel_dl=1)
        first = queue.download(raw.url("/first.bin"), downloads)
        queue.wait_for_job(first, LONG)
        # On loopback, bytes a sendall() has returned for wait in our socket: the late ones
        # are there before the next request goes out.
        assert injected_sent.wait(LONG)
        second = queue.download(raw.url("/second.bin"), downloads)
        assert queue.join(LONG)
    assert first.complete
    assert second.complete
    assert (downloads / "first.bin").read_bytes() == b"hello"
    assert (downloads / "second.bin").read_bytes() == b"REAL"
    assert not (downloads / "fake.txt").exists()


ODD_ANSWERS = {
    "superscript length": b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb9\r\n\r\nx",
    "huge length": b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\nx",
    "superscript status": b"HTTP/1.1 2\xc2\xb20 OK\r\nContent-Length: 1\r\n\r\nx",
    "superscript retry": b"HTTP/1.1 503 Busy\r\nRetry-After: \xc2\xb2\r\nContent-Length: 0\r\n\r\n",
    "huge retry": b"HTTP/1.1 503 Busy\r\nRetry-After: "
    + b"9" * 400
    + b"\r\nContent-Length: 0\r\n\r\n",
    "gzip coding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot gzip at all",
}


@pytest.mark.parametrize("answer", list(ODD_ANSWERS), ids=list(ODD_ANSWERS))
def test_odd_numbers_and_codings_fail_cleanly_after_retries(
    make_queue: QueueFactory, downloads: Path, answer: str
) -> None:
    with raw_server(respond_with(ODD_ANSWERS[answer])) as raw:
        queue = make_queue(retry=QUICK)
        job = queue.download(raw.url("/odd.bin"), downloads)
        queue.wait_for_job(job, LONG)
        connections = raw.connections
    assert job.status == DownloadJobStatus.ERROR
    assert job.attempts == 2  # a protocol error is retried like the others
    assert connections == 2
    error_type = job.error_type or ""
    assert not error_type.startswith(("ValueError", "OverflowError")), error_type
    assert error_type.startswith(
        (
            "NetworkError(127.0.0.1 sent a reply that is not valid",
            "ResponseError(",
            "HTTPError(Busy)",
        )
    ), error_type
    assert "Traceback" in (job.error or "")


def endless(line: bytes) -> object:
    def serve(connection: socket.socket, request: bytes, number: int) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\n" if line.startswith(b"X-") else b"")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            connection.sendall(line)
            time.sleep(0.01)

    return serve


@pytest.mark.parametrize(
    "line", [b"HTTP/1.1 100 Continue\r\n\r\n", b"X-More: and more\r\n"], ids=["1xx", "header"]
)
def test_a_head_that_never_ends_is_bounded(
    make_queue: QueueFactory, downloads: Path, line: bytes
) -> None:
    raw: RawServer
    with raw_server(endless(line)) as raw:  # type: ignore[arg-type]
        queue = make_queue(retry=RetryPolicy(attempts=1), timeouts=Timeouts(connect=2.0, read=1.0))
        started = time.monotonic()
        job = queue.download(raw.url("/slow-head"), downloads)
        queue.wait_for_job(job, LONG)
        elapsed = time.monotonic() - started
    assert job.status == DownloadJobStatus.ERROR
    assert elapsed < 5  # the read timeout and a second, not the 20 s the server would go on
    assert (job.error_type or "").startswith("NetworkError(")
