"""Bytes spliced from a socket into a file: exact, at the right offset, and never stuck.

The pipe is tested on real loopback sockets and files; refusals (a file system or socket
without splice support) are what a real machine here cannot produce, so ``os.splice`` is made
to refuse them.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fetchq import _splice
from fetchq._splice import KernelPipe
from fetchq.testing import TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256

pytestmark = pytest.mark.skipif(not _splice.AVAILABLE, reason="splice is Linux-only")
MiB = 1024 * 1024


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0))
    sender = socket.create_connection(listener.getsockname())
    receiver, _ = listener.accept()
    listener.close()
    receiver.settimeout(LONG)
    yield sender, receiver
    sender.close()
    receiver.close()


def move_all(pipe: KernelPipe, receiver: socket.socket, fd: int, offset: int, size: int) -> int:
    """Move ``size`` bytes through ``pipe`` into ``fd`` from ``offset``; how many calls it took."""
    calls = 0
    while size:
        got = pipe.fill_from(receiver, size)
        assert got > 0
        pipe.drain_to(fd, offset, got)
        offset, size, calls = offset + got, size - got, calls + 1
    return calls


def refuse(monkeypatch: pytest.MonkeyPatch, side: str, code: int) -> list[str]:
    """Make ``os.splice`` refuse one side, as an unsupported file system (EINVAL) or a sandbox
    that forbids the call (EPERM) would."""
    real, refused = os.splice, []

    def splice(src: int, dst: int, count: int, **kwargs: Any) -> int:
        into_file = kwargs.get("offset_dst") is not None
        if (side == "file") == into_file:
            refused.append(side)
            raise OSError(code, os.strerror(code))
        result: int = real(src, dst, count, **kwargs)
        return result

    monkeypatch.setattr(os, "splice", splice)
    return refused


@pytest.mark.parametrize(
    ("refused_side", "code"),
    [(None, 0), ("file", errno.EINVAL), ("socket", errno.EINVAL), ("socket", errno.EPERM)],
)
def test_bytes_land_exactly_at_their_offset(
    pair: tuple[socket.socket, socket.socket],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refused_side: str | None,
    code: int,
) -> None:
    sender, receiver = pair
    refused = refuse(monkeypatch, refused_side, code) if refused_side else []
    data = payload(3 * MiB + 12345)
    target = tmp_path / "out.bin"
    target.write_bytes(b"\x00" * 100)
    fd = os.open(target, os.O_RDWR)
    try:
        with KernelPipe() as pipe:
            sender.sendall(b"ahead")  # bytes already read past a head go in with put()
            assert pipe.fill_from(receiver, 5) == 5
            pipe.drain_to(fd, 100, 5)
            assert pipe.put(b"xyz") == 3
            pipe.drain_to(fd, 105, 3)
            sender.sendall(data)
            calls = move_all(pipe, receiver, fd, 108, len(data))
    finally:
        os.close(fd)
    written = target.read_bytes()
    assert written[:100] == b"\x00" * 100
    assert written[100:108] == b"aheadxyz"
    assert sha256(written[108:]) == sha256(data)
    assert calls >= 3  # never more than the pipe holds at once
    assert refused == ([refused_side] if refused_side else [])  # asked once, then not again


def test_a_closed_peer_reads_as_the_end_and_a_silent_one_times_out(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sender, receiver = pair
    receiver.settimeout(0.2)
    with KernelPipe() as pipe:
        with pytest.raises(TimeoutError):
            pipe.fill_from(receiver, 1000)
        sender.sendall(b"last")
        sender.shutdown(socket.SHUT_WR)
        assert pipe.fill_from(receiver, 1000) == 4
        assert pipe.fill_from(receiver, 1000) == 0


def test_a_socket_shut_down_by_an_abort_wakes_the_waiting_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    import threading

    _, receiver = pair
    results: list[int] = []
    with KernelPipe() as pipe:
        reader = threading.Thread(target=lambda: results.append(pipe.fill_from(receiver, 1000)))
        reader.start()
        receiver.shutdown(socket.SHUT_RDWR)  # what an abort does to the response's socket
        reader.join(LONG)
        assert not reader.is_alive()
    assert results == [0]


@pytest.mark.parametrize("spliced", [True, False])
def test_a_large_download_goes_through_the_pipe_only_where_splice_is_on(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
    spliced: bool,
) -> None:
    monkeypatch.setattr(_splice, "AVAILABLE", spliced)
    real, into_files = os.splice, []

    def splice(src: int, dst: int, count: int, **kwargs: Any) -> int:
        if kwargs.get("offset_dst") is not None:
            into_files.append(count)
        result: int = real(src, dst, count, **kwargs)
        return result

    monkeypatch.setattr(os, "splice", splice)
    data = payload(8 * MiB)
    url = server.add("/large.bin", data)
    queue = make_queue(max_connections_per_download=1)
    job = queue.download(url, downloads)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "large.bin") == sha256(data)
    if spliced:
        assert sum(into_files) >= len(data) - 64 * 1024  # all but what came with the head
    else:
        assert into_files == []
