"""A raw TCP server on loopback for byte-exact misbehaviour (urllib3's habit).

Each connection is handed to the test's own function, in a thread of its own, with the
request bytes already read; what the function writes is what the client gets, to the byte.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

Handler = Callable[[socket.socket, bytes, int], None]
"""``(connection, first request bytes, connection number)``; returns when done with it."""


@dataclass
class RawServer:
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    client_ports: list[int] = field(default_factory=list)

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def read_request(connection: socket.socket) -> bytes:
    """Bytes up to the end of a request's head (b"" if the client hung up)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def respond_with(*answers: bytes) -> Handler:
    """A handler that answers connection number N with ``answers[N]`` (the last one for the
    rest) and closes its side."""

    def handle(connection: socket.socket, request: bytes, number: int) -> None:
        connection.sendall(answers[min(number, len(answers) - 1)])
        connection.shutdown(socket.SHUT_WR)

    return handle


@contextmanager
def raw_server(handle: Handler) -> Iterator[RawServer]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    server = RawServer(int(listener.getsockname()[1]))
    stop = threading.Event()
    lock = threading.Lock()

    def run(connection: socket.socket, number: int) -> None:
        with connection, suppress(OSError):
            connection.settimeout(10)
            request = read_request(connection)
            with lock:
                server.requests.append(request)
            if request:
                handle(connection, request, number)

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, address = listener.accept()
            except OSError:
                continue
            with lock:
                number = server.connections
                server.connections += 1
                server.client_ports.append(int(address[1]))
            threading.Thread(target=run, args=(connection, number), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        listener.close()
