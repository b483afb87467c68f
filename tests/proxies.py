"""Tunnelling proxies on loopback for the tests: HTTP ``CONNECT`` and SOCKS5 (no login).

Each records the targets clients asked for, then relays bytes both ways. Only targets on
loopback are ever connected to: a test's traffic never leaves the machine.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field


@dataclass
class Proxy:
    kind: str
    port: int
    targets: list[str] = field(default_factory=list)
    """``host:port`` of each tunnel asked for, as the client named it."""

    @property
    def url(self) -> str:
        scheme = "http" if self.kind == "http" else "socks5h"
        return f"{scheme}://127.0.0.1:{self.port}"


def _loopback(host: str) -> str:
    """Where a target really goes: names resolve to loopback here, never further."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    return "127.0.0.1"


def _relay(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            break
        line += byte
    return line


def _serve_http(client: socket.socket, proxy: Proxy) -> socket.socket:
    request = _read_line(client).decode("latin-1")
    while _read_line(client) not in (b"\r\n", b"\n", b""):
        pass
    method, target, _version = request.split(" ", 2)
    if method != "CONNECT":
        client.sendall(b"HTTP/1.1 405 Only CONNECT\r\nContent-Length: 0\r\n\r\n")
        raise ConnectionError("not a CONNECT")
    proxy.targets.append(target)
    host, _, port = target.rpartition(":")
    upstream = socket.create_connection((_loopback(host.strip("[]")), int(port)), timeout=10)
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    return upstream


def socks_target(client: socket.socket) -> tuple[str, int]:
    """Read a SOCKS5 greeting (answered: no authentication) and request: where it asks to go."""
    _version, count = client.recv(2)
    client.recv(count)
    client.sendall(b"\x05\x00")  # no authentication
    _v, _command, _reserved, kind = client.recv(4)
    if kind == 1:
        host = socket.inet_ntoa(client.recv(4))
    elif kind == 3:
        host = client.recv(client.recv(1)[0]).decode()
    else:
        host = socket.inet_ntop(socket.AF_INET6, client.recv(16))
    (port,) = struct.unpack("!H", client.recv(2))
    return host, port


def _serve_socks(client: socket.socket, proxy: Proxy) -> socket.socket:
    host, port = socks_target(client)
    proxy.targets.append(f"{host}:{port}")
    upstream = socket.create_connection((_loopback(host), port), timeout=10)
    client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
    return upstream


@contextmanager
def tunnel_proxy(kind: str) -> Iterator[Proxy]:
    """An HTTP CONNECT (``kind="http"``) or SOCKS5 (``"socks5"``) proxy until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    proxy = Proxy(kind, int(listener.getsockname()[1]))
    closing = threading.Event()

    def handle(client: socket.socket) -> None:
        with client, suppress(OSError, ValueError, ConnectionError):
            serve = _serve_http if kind == "http" else _serve_socks
            with serve(client, proxy) as upstream:
                _relay(client, upstream)

    def accept() -> None:
        while not closing.is_set():
            readable, _, _ = select.select([listener], [], [], 0.05)
            if readable:
                client, _address = listener.accept()
                threading.Thread(target=handle, args=(client,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        closing.set()
        thread.join(5)
        listener.close()
