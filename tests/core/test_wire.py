"""fetchq's own HTTP/1.1 client for plain http: keep-alive, framing, and what servers get wrong.

Most cases use ``fetchq.testing``; the ones a well-behaved server never produces (an interim
100, a garbled status line, a connection closed the moment a request arrives) use a scripted
server on 127.0.0.1 that answers each request with the bytes a test gives it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Optional

import pytest

from fetchq import DownloadJobStatus, RetryPolicy, Timeouts
from fetchq._wire import WireError, WirePool, can_send, send_get
from fetchq.testing import TestServer
from tests.helpers import LONG, SHORT, QueueFactory, file_sha256, payload, sha256

Script = Callable[[int, int, bytes], Optional[bytes]]
"""(connection number, request number on it, request) -> bytes to answer, or None to close.
An answer starting with ``HTTP/1.0`` closes the connection after it."""


class ScriptedServer:
    """Answers raw HTTP requests as a script says; records which connection each came on."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests: list[tuple[int, bytes]] = []
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            number = self.connections
            self.connections += 1
            self._open.append(conn)
            thread = threading.Thread(target=self._talk, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _talk(self, conn: socket.socket, number: int) -> None:
        with conn:
            pending = b""
            for index in range(1000):
                while b"\r\n\r\n" not in pending:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    pending += data
                request, _, pending = pending.partition(b"\r\n\r\n")
                self.requests.append((number, request))
                answer = self.script(number, index, request)
                if answer is None:
                    return
                try:
                    conn.sendall(answer)
                except OSError:
                    return  # the client has gone (it dropped a request it had sent ahead)
                if answer.startswith(b"HTTP/1.0"):
                    return  # HTTP/1.0 without keep-alive: the end of the body is the close

    def close(self) -> None:
        self.listener.close()
        for conn in self._open:  # clients may keep idle connections open: end them
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(LONG)


@pytest.fixture
def scripted() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, *extra: str) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Length: %d" % len(body)]
    head += [line.encode() for line in extra]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def test_small_files_share_one_keep_alive_connection(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    files = {f"/f{i}.bin": payload(3000 + i) for i in range(20)}
    urls = [server.add(path, data) for path, data in files.items()]
    queue = make_queue(max_parallel_dl=1)
    jobs = queue.download_many(urls, downloads)
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    for path, data in files.items():
        assert file_sha256(downloads / path[1:]) == sha256(data)
    ports = {request.client_port for request in server.requests}
    assert len(ports) == 1, ports
    assert len(server.requests) == 20  # each sent once, though most went out ahead


def test_a_body_longer_than_its_length_never_reaches_the_next_request(
    make_queue: QueueFactory, scripted: Callable[[Script], ScriptedServer], downloads: Path
) -> None:
    second = payload(5000)

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        if b"/first" in request:  # announces 10 bytes, sends 30: 20 bytes of garbage follow
            return b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"0123456789" + b"X" * 20
        return ok(second)

    server = scripted(script)
    queue = make_queue(max_parallel_dl=1)
    first = queue.download(server.url("/first"), downloads)
    assert queue.wait_for_job(first, LONG).complete
    job = queue.download(server.url("/second.bin"), downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "second.bin") == sha256(second)
    assert [conn for conn, _ in server.requests] == [0, 1]  # not sent after the garbage


def test_a_connection_closed_as_a_request_arrives_is_replaced_without_a_retry(
    make_queue: QueueFactory, scripted: Callable[[Script], ScriptedServer], downloads: Path
) -> None:
    data = payload(4000)

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        if conn == 0 and index == 1:
            return None  # the server timed the idle connection out just as we reused it
        return ok(data)

    server = scripted(script)
    queue = make_queue(max_parallel_dl=1, retry=RetryPolicy(attempts=1))
    first = queue.download(server.url("/a.bin"), downloads)
    assert queue.wait_for_job(first, LONG).complete
    second = queue.download(server.url("/b.bin"), downloads)
    assert queue.wait_for_job(second, LONG).complete
    assert second.attempts == 1
    assert [conn for conn, _ in server.requests] == [0, 0, 1]
    assert file_sha256(downloads / "b.bin") == sha256(data)


def test_interim_answers_are_skipped_and_chunked_bodies_decoded(
    make_queue: QueueFactory, scripted: Callable[[Script], ScriptedServer], downloads: Path
) -> None:
    data = payload(70_000)
    chunks = [data[:1], data[1:40_000], data[40_000:]]
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\nX-T: 1\r\n\r\n"

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        head = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        return head + body

    server = scripted(script)
    queue = make_queue()
    jobs = [queue.download(server.url(f"/c{i}.bin"), downloads) for i in range(2)]
    assert queue.join(LONG)
    assert [job.status for job in jobs] == [DownloadJobStatus.COMPLETED] * 2
    for i in range(2):
        assert file_sha256(downloads / f"c{i}.bin") == sha256(data)
    assert len({conn for conn, _ in server.requests}) == 1  # trailers read: the connection kept


def test_a_body_ended_by_closing_the_connection(
    make_queue: QueueFactory, scripted: Callable[[Script], ScriptedServer], downloads: Path
) -> None:
    data = payload(30_000)
    server = scripted(lambda conn, index, request: b"HTTP/1.0 200 OK\r\n\r\n" + data)
    queue = make_queue()
    job = queue.download(server.url("/eof.bin"), downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "eof.bin") == sha256(data)


def test_a_redirect_without_a_length_is_dropped_not_read_to_its_end(
    make_queue: QueueFactory, scripted: Callable[[Script], ScriptedServer], downloads: Path
) -> None:
    data = payload(3000)

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        if b"/moved" in request:  # a body with no length on a connection the server keeps open
            return b"HTTP/1.1 302 Found\r\nLocation: /target.bin\r\n\r\n" + b"x" * 100_000
        return ok(data)

    server = scripted(script)
    queue = make_queue(timeouts=Timeouts(connect=5.0, read=30.0))
    job = queue.download(server.url("/moved"), downloads)
    queue.wait_for_job(job, SHORT)  # reading that body to its end would wait out the 30 s
    assert job.status == DownloadJobStatus.COMPLETED
    assert file_sha256(downloads / "target.bin") == sha256(data)
    assert [conn for conn, _ in server.requests] == [0, 1]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HELLO THERE\r\n\r\n", "WireError(bad status line 'HELLO THERE')"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "WireError(bad header line 'no colon here')"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
            "WireError(bad Content-Length 'ten')",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "WireError(bad chunk size b'zz')",
        ),
    ],
)
def test_garbled_answers_are_retried_then_reported(
    make_queue: QueueFactory,
    scripted: Callable[[Script], ScriptedServer],
    downloads: Path,
    answer: bytes,
    error: str,
) -> None:
    server = scripted(lambda conn, index, request: answer)
    queue = make_queue(retry=RetryPolicy(attempts=2, base_delay=0.001))
    job = queue.download(server.url("/bad.bin"), downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type == error
    assert job.attempts == 2
    assert not list(downloads.iterdir()) or all(p.suffix != ".bin" for p in downloads.iterdir())


def test_the_request_target_is_percent_encoded_and_headers_cannot_be_injected(
    scripted: Callable[[Script], ScriptedServer],
) -> None:
    server = scripted(lambda conn, index, request: ok(b"x"))
    pool = WirePool(per_host=2)
    seen: list[socket.socket] = []
    response = send_get(
        pool, server.url("/a b/é?q=1%202"), {"X-A": "1"}, 5, 5, seen.append, seen.append
    )
    view = memoryview(bytearray(10))
    assert response.body_reader()(view) == 1
    response.release()
    first_line = server.requests[0][1].split(b"\r\n")[0]
    assert first_line == b"GET /a%20b/%C3%A9?q=1%202 HTTP/1.1"
    assert len(seen) == 2
    assert seen[0] is seen[1]  # the new socket was checked, then watched
    with pytest.raises(WireError):
        send_get(pool, server.url("/x"), {"X-A": "1\r\nX-Evil: 1"}, 5, 5, seen.append, seen.append)
    pool.close()


def test_which_urls_the_wire_client_takes() -> None:
    assert can_send("http://example.test/a")
    assert can_send("HTTP://example.test:8080/a?b")
    assert not can_send("https://example.test/a")
    assert not can_send("http://user:secret@example.test/a")


# -- pipelining: the next small file's request goes out behind this one's answer -------------


def _get(pool: WirePool, url: str) -> bytes:
    """GET ``url`` with the pool and read the whole body (no abort scope: nothing to watch)."""
    response = send_get(pool, url, {"Accept": "*/*"}, 5, 5, _ignore, _ignore)
    body = bytearray()
    view = memoryview(bytearray(65536))
    while count := response.body_reader()(view):
        body += view[:count]
    response.release()
    return bytes(body)


def _ignore(sock: socket.socket) -> None:
    pass


def _files(*paths: str) -> dict[bytes, bytes]:
    return {path.encode(): payload(3000 + i, seed=i) for i, path in enumerate(paths)}


def test_the_next_request_goes_out_before_the_answer_in_hand_is_read(
    scripted: Callable[[Script], ScriptedServer],
) -> None:
    files = _files("/a", "/b", "/c")
    asked = {path: threading.Event() for path in files}

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        path = request.split(b" ")[1]
        asked[path].set()
        return ok(files[path])

    server = scripted(script)
    pool = WirePool(per_host=2)
    pool.expect_next(server.url("/b"), {"Accept": "*/*"})
    first = send_get(pool, server.url("/a"), {"Accept": "*/*"}, 5, 5, _ignore, _ignore)
    assert asked[b"/b"].wait(SHORT)  # sent while the first body is still unread
    view = memoryview(bytearray(65536))
    assert bytes(view[: first.body_reader()(view)]) == files[b"/a"]
    first.release()
    pool.expect_next(server.url("/c"), {"Accept": "*/*"})
    assert _get(pool, server.url("/b")) == files[b"/b"]  # the answer already on its way
    assert _get(pool, server.url("/c")) == files[b"/c"]
    assert [(conn, request.split(b" ")[1]) for conn, request in server.requests] == [
        (0, b"/a"),
        (0, b"/b"),
        (0, b"/c"),
    ]
    pool.close()


def test_a_request_sent_ahead_for_nothing_is_dropped_with_its_connection(
    scripted: Callable[[Script], ScriptedServer],
) -> None:
    files = _files("/a", "/b", "/c")
    server = scripted(lambda conn, index, request: ok(files[request.split(b" ")[1]]))
    pool = WirePool(per_host=2)
    pool.expect_next(server.url("/b"), {"Accept": "*/*"})
    assert _get(pool, server.url("/a")) == files[b"/a"]
    assert _get(pool, server.url("/c")) == files[b"/c"]  # not /b after all
    assert [(conn, request.split(b" ")[1]) for conn, request in server.requests][:1] == [(0, b"/a")]
    assert (1, b"/c") in [(conn, request.split(b" ")[1]) for conn, request in server.requests]
    assert server.connections == 2
    pool.close()


def test_a_host_that_ignores_pipelined_requests_gets_them_one_at_a_time(
    scripted: Callable[[Script], ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fetchq._wire.PIPELINE_TRIAL_TIMEOUT", 0.2)
    files = _files("/a", "/b", "/c", "/d")
    hang = threading.Event()

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        if conn == 0 and index == 1:
            hang.wait(LONG)  # never answers a second request on a connection
            return None
        return ok(files[request.split(b" ")[1]])

    server = scripted(script)
    pool = WirePool(per_host=2)
    pool.expect_next(server.url("/b"), {"Accept": "*/*"})
    assert _get(pool, server.url("/a")) == files[b"/a"]
    assert _get(pool, server.url("/b")) == files[b"/b"]  # asked again after 0.2 s, alone
    hang.set()
    pool.expect_next(server.url("/d"), {"Accept": "*/*"})
    assert _get(pool, server.url("/c")) == files[b"/c"]
    assert _get(pool, server.url("/d")) == files[b"/d"]
    paths = [(conn, request.split(b" ")[1]) for conn, request in server.requests]
    assert paths == [(0, b"/a"), (0, b"/b"), (1, b"/b"), (1, b"/c"), (1, b"/d")]
    assert ("127.0.0.1", server.port) in pool._pipelining_fails  # /d was not sent ahead
    pool.close()


def test_bytes_beyond_a_body_stop_pipelining_on_that_connection(
    scripted: Callable[[Script], ScriptedServer],
) -> None:
    files = _files("/a", "/b")
    forged = ok(b"not the file")

    def script(conn: int, index: int, request: bytes) -> Optional[bytes]:
        path = request.split(b" ")[1]
        return ok(files[path]) + (forged if path == b"/a" else b"")

    server = scripted(script)
    pool = WirePool(per_host=2)
    pool.expect_next(server.url("/b"), {"Accept": "*/*"})
    assert _get(pool, server.url("/a")) == files[b"/a"]
    assert _get(pool, server.url("/b")) == files[b"/b"]  # not the forged answer
    assert [conn for conn, _ in server.requests] == [0, 1]
    pool.close()


def test_header_fields_are_read_whichever_way_they_are_parsed() -> None:
    from fetchq._wire import _parse_fields

    ordinary = ["HTTP/1.1 200 OK", "Set-Cookie: a=1", "SET-COOKIE:\tb=2 ", "Empty:", "X: y: z"]
    assert _parse_fields(ordinary) == {"set-cookie": "a=1, b=2", "empty": "", "x": "y: z"}
    odd = ["HTTP/1.1 200 OK", "Odd Name: 1", "Content-Length: 5"]  # not a token: read by line
    assert _parse_fields(odd) == {"odd name": "1", "content-length": "5"}
    with pytest.raises(WireError, match="bad header line ' folded'"):
        _parse_fields(["HTTP/1.1 200 OK", "A: 1", " folded"])


def test_a_thread_that_is_done_drops_the_request_it_sent_ahead(
    scripted: Callable[[Script], ScriptedServer],
) -> None:
    files = _files("/a", "/b")
    server = scripted(lambda conn, index, request: ok(files[request.split(b" ")[1]]))
    pool = WirePool(per_host=2)
    pool.expect_next(server.url("/b"), {"Accept": "*/*"})
    assert _get(pool, server.url("/a")) == files[b"/a"]
    assert len(pool._ahead) == 1
    pool.forget_thread()  # a worker that retires
    assert not pool._ahead
    assert not pool._next
    assert _get(pool, server.url("/b")) == files[b"/b"]  # asked again, on a new connection
    assert server.connections == 2
    pool.close()
