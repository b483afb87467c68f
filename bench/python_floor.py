"""The least a Python program does to fetch many small files: a floor for scenario (C).

One thread and one keep-alive connection; requests go out in batches ahead of the answers
(pipelined), and each body is written to a new file (create, write, close). No job objects,
names, part files, retries, progress or journal: what is left of fetchq's time above this is
the cost of being a download manager. ``--import-fetchq`` adds fetchq's start-up (importing it
and its pydantic models) to the same process. Plain ``http://host:port/path`` URLs only.

    python bench/python_floor.py --dest DIR [--import-fetchq] URL... | -i LIST
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

_AHEAD = 64
"""Requests sent ahead of the answers: never so many that both sides' buffers fill."""
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_file(path: Path, data: memoryview) -> None:
    """The least a program does to store a body: create the file, write it, close it."""
    fd = os.open(path, _FLAGS, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def fetch_all(
    urls: list[str], dest: Path, write: Callable[[Path, memoryview], None] = write_file
) -> None:
    """GET every URL over one connection, in order, and ``write`` each body into ``dest``;
    raise on a bad answer (anything but 200 with a Content-Length)."""
    first = urlsplit(urls[0])
    host, port = first.hostname or "127.0.0.1", first.port or 80
    requests = [
        f"GET {urlsplit(url).path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("latin-1")
        for url in urls
    ]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = 0
        buffer = bytearray()
        for done, url in enumerate(urls):
            if sent - done < _AHEAD // 2:  # keep up to _AHEAD requests in flight, in batches
                batch = requests[sent : done + _AHEAD]
                sock.sendall(b"".join(batch))
                sent += len(batch)
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                buffer += _receive(sock)
            head = bytes(buffer[:end]).decode("latin-1").lower()
            del buffer[: end + 4]
            if not head.startswith("http/1.1 200 "):
                raise RuntimeError(f"{url}: {head.splitlines()[0]}")
            length = int(head.split("\ncontent-length:", 1)[1].split("\r", 1)[0])
            while len(buffer) < length:
                buffer += _receive(sock)
            write(dest / url.rsplit("/", 1)[-1], memoryview(buffer)[:length])
            del buffer[:length]


def _receive(sock: socket.socket) -> bytes:
    data = sock.recv(1 << 20)
    if not data:
        raise RuntimeError("the server closed the connection")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("urls", nargs="*")
    parser.add_argument("-i", "--input", type=Path)
    parser.add_argument("--dest", type=Path, required=True)
    parser.add_argument("--import-fetchq", action="store_true", help="pay fetchq's start-up too")
    args = parser.parse_args()
    urls = list(args.urls)
    if args.input:
        urls += [line.strip() for line in args.input.read_text().splitlines() if line.strip()]
    if args.import_fetchq:
        import fetchq  # noqa: F401  (its start-up is what this option measures)
    if urls:
        fetch_all(urls, args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
