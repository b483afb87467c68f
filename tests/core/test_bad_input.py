"""Bad input fails at once with a clear ValueError; no server can kill a worker."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq import (
    DownloadJob,
    DownloadQueueService,
    InvalidChecksumError,
    InvalidSourceError,
)
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, payload, sha256


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("gopher://example.org/file", "not an http, https, ftp or ftps URL"),
        ("file:///etc/passwd", "not an http, https, ftp or ftps URL"),
        ("javascript:alert(1)", "not an http, https, ftp or ftps URL"),
        ("example.org/file", "not an http, https, ftp or ftps URL"),
        ("http://", "has no host"),
        ("http:///path", "has no host"),
        ("http://exa mple.org/", "spaces or control"),
        ("http://example.org:99999/", "not a valid URL"),
        ("http://example.org:0/", "port 0"),
        ("https://user:hunter2@[::1/", "not a valid URL"),
    ],
)
def test_bad_sources_raise_in_the_caller(
    queue: DownloadQueueService, tmp_path: Path, source: object, message: str
) -> None:
    with pytest.raises(InvalidSourceError, match=re.escape(message)) as raised:
        queue.download(source, tmp_path)
    assert isinstance(raised.value, ValueError)
    assert "hunter2" not in str(raised.value)
    assert queue.list_jobs() == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"checksum": "sha256"}, "ALGO:HEX"),
        ({"checksum": "nope:abcd"}, "unknown checksum algorithm"),
        ({"checksum": "sha-256:abcd"}, "64 hex digits"),
        ({"checksum": "sha256:xyz"}, "not hexadecimal"),
        ({"checksum": "sha256:abcd"}, "64 hex digits"),
        ({"sha256": "00", "checksum": "md5:00"}, "not both"),
    ],
)
def test_bad_checksums_raise(
    queue: DownloadQueueService, tmp_path: Path, options: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidChecksumError, match=message):
        queue.download("http://127.0.0.1:9/x", tmp_path, **options)  # type: ignore[arg-type]


def test_submit_download_job_validates_too(queue: DownloadQueueService, tmp_path: Path) -> None:
    job = DownloadJob(source="https://example.org/x", dest=tmp_path / "a" / "b.bin")  # type: ignore[arg-type]
    job.source = "gopher://example.org/x"  # type: ignore[assignment]
    with pytest.raises(InvalidSourceError):
        queue.submit_download_job(job)


@pytest.fixture
def garbage_server() -> Iterator[tuple[str, list[bytes]]]:
    """A raw TCP server answering each connection with the next canned byte string."""
    answers = [
        b"this is not http at all\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: banana\r\n\r\nhello",
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/2\r\n"
        b"Content-Length: 2\r\n\r\nhi",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbroken",
        b"HTTP/1.1 999 What\r\nContent-Length: 0\r\n\r\n",
        b"",
    ]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        index = 0
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    connection.recv(65536)
                    connection.sendall(answers[index % len(answers)])
                    connection.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            index += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", answers
    stop.set()
    thread.join()
    listener.close()


def test_garbage_never_kills_a_worker(
    garbage_server: tuple[str, list[bytes]],
    server: TestServer,
    tmp_path: Path,
    make_queue: QueueFactory,
) -> None:
    origin, answers = garbage_server
    queue = make_queue(max_parallel_dl=1)
    bad = [queue.download(f"{origin}/g{i}", tmp_path / f"g{i}") for i in range(len(answers))]
    data = payload(1000)
    good = queue.download(server.add("/fine.bin", data), tmp_path / "fine.bin", sha256=sha256(data))
    assert queue.join(LONG)
    assert good.complete
    for job in bad:
        assert job.in_terminal_state
        if job.errored:
            assert job.error_type
    assert (tmp_path / "fine.bin").read_bytes() == data
