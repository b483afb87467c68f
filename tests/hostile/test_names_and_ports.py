"""A server-chosen name cut to length, and the port an ftps link names: real servers on loopback.

A long name is cut to a known number of bytes; a server that knows it can put fetchq's own
endings (``.part``, ``.part.json``) exactly where the cut falls. And ``ftps://host:21/`` names
port 21, even though 21 is ftp's default: the link's port is where fetchq connects.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, RetryPolicy, redact_url
from fetchq._naming import MAX_NAME_BYTES as NAME_BYTES
from fetchq.testing import TestServer
from tests.helpers import (
    LONG,
    SHORT,
    QueueFactory,
    file_sha256,
    leftovers,
    payload,
    sha256,
    wait_until,
)
from tests.proxies import socks_target

ENDINGS = (".part", ".part.json")

NO_RETRY = RetryPolicy(attempts=1, base_delay=0.01, max_delay=0.01)


def bookkeeping(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(ENDINGS) or ".part.json." in lowered


def crafted(ending: str) -> tuple[str, str]:
    """(the name of a victim ``V``, a name longer than the limit whose cut is ``V`` + ``ending``).

    ``.part``: the name has no short extension, so the cut is its first bytes, which end in
    ``.part``. ``.part.json``: the cut keeps the extension ``.json`` and shortens what is before
    it to end in ``.part``. Neither ``.part`` is at an end before the cut."""
    victim = "v" * (NAME_BYTES - len(ending))
    if ending == ".part":
        return victim, victim + ".part" + "x" * 60
    return victim, victim + ".part" + "x" * 60 + ".json"


def disposition(name: str) -> str:
    return f'attachment; filename="{name}"'


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_name_cut_to_length_never_ends_like_fetchqs_own_files(
    make_queue: QueueFactory,
    server: TestServer,
    other_server: TestServer,
    downloads: Path,
    ending: str,
) -> None:
    """The server's name is longer than the limit, and the cut is the victim's part file's
    (or sidecar's) name. It must land under another name, and the victim's own download into the
    same folder must then be the victim's bytes, with nothing left that looks like bookkeeping."""
    victim, long_name = crafted(ending)
    hostile = payload(400_000, 2)
    real = payload(600_000, 1)
    queue = make_queue(max_parallel_dl=1)

    planted = queue.download(
        server.add("/a", hostile, content_disposition=disposition(long_name)), downloads
    )
    assert queue.wait_for_job(planted, LONG).complete, planted.error
    assert planted.download_path is not None
    name = planted.download_path.name
    assert not bookkeeping(name), name
    assert len(name.encode("utf-8")) <= NAME_BYTES
    assert file_sha256(planted.download_path) == sha256(hostile)

    job = queue.download(
        other_server.add("/b", real, content_disposition=disposition(victim)), downloads
    )
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert job.download_path == downloads / victim
    assert file_sha256(downloads / victim) == sha256(real)
    assert file_sha256(planted.download_path) == sha256(hostile)
    assert leftovers(downloads) == []


def test_a_name_cut_to_a_paused_downloads_part_file_leaves_it_alone(
    make_queue: QueueFactory,
    server: TestServer,
    other_server: TestServer,
    downloads: Path,
) -> None:
    """The victim is paused half way, its part file and sidecar on disk; the server's name cuts
    to that part file's name. Neither is touched, the server's file gets a name fetchq would
    never take for its own, and the victim then completes with its own bytes."""
    victim, long_name = crafted(".part")
    real = payload(2_000_000, 1)
    hostile = payload(300_000, 2)
    queue = make_queue()

    job = queue.download(
        other_server.add(
            "/b", real, content_disposition=disposition(victim), shared_rate=1_000_000
        ),
        downloads,
    )
    wait_until(lambda: job.bytes >= 200_000)
    queue.pause_job(job)
    wait_until(lambda: job.status == DownloadJobStatus.PAUSED)
    own = {ending: downloads / (victim + ending) for ending in ENDINGS}
    assert sorted(leftovers(downloads)) == sorted(path.name for path in own.values())
    before = {ending: file_sha256(path) for ending, path in own.items()}

    planted = queue.download(
        server.add("/a", hostile, content_disposition=disposition(long_name)), downloads
    )
    assert queue.wait_for_job(planted, LONG).complete, planted.error
    assert planted.download_path is not None
    assert not bookkeeping(planted.download_path.name), planted.download_path.name
    assert file_sha256(planted.download_path) == sha256(hostile)
    assert {ending: file_sha256(path) for ending, path in own.items()} == before

    queue.resume_job(job)
    assert queue.wait_for_job(job, LONG).complete, job.error
    assert file_sha256(downloads / victim) == sha256(real)
    assert leftovers(downloads) == []


# -- ftps: the port of the link ---------------------------------------------------------------


@dataclass
class Listener:
    """A bare listening socket: records who connected, says nothing, hangs up."""

    port: int
    arrived: threading.Event = field(default_factory=threading.Event)
    first_bytes: list[bytes] = field(default_factory=list)


@contextmanager
def listener() -> Iterator[Listener]:
    sock = socket.create_server(("127.0.0.1", 0))
    found = Listener(int(sock.getsockname()[1]))
    closing = threading.Event()

    def accept() -> None:
        while not closing.is_set():
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            connection, _address = sock.accept()
            with connection, suppress(OSError):
                connection.settimeout(SHORT)
                found.first_bytes.append(connection.recv(5))
            found.arrived.set()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        closing.set()
        thread.join(SHORT)
        sock.close()


def test_an_ftps_link_connects_to_the_port_it_names(
    make_queue: QueueFactory, downloads: Path
) -> None:
    """The connection arrives at the link's port and speaks TLS at once (implicit FTPS, as
    libcurl reads ``ftps://``); the handshake then fails, quickly, as the listener hangs up."""
    with listener() as found:
        queue = make_queue(retry=NO_RETRY)
        job = queue.download(f"ftps://127.0.0.1:{found.port}/x.bin", downloads)
        assert found.arrived.wait(LONG)
        queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert found.first_bytes
    assert found.first_bytes[0][:1] == b"\x16"  # a TLS handshake record: a ClientHello


@dataclass
class Socks:
    port: int
    targets: list[str] = field(default_factory=list)


@contextmanager
def recording_socks_proxy() -> Iterator[Socks]:
    """A SOCKS5 proxy that records where each client asks to go and connects nowhere: so a test
    sees the port a link means without anything listening on that (privileged) port."""
    sock = socket.create_server(("127.0.0.1", 0))
    proxy = Socks(int(sock.getsockname()[1]))
    closing = threading.Event()

    def serve(client: socket.socket) -> None:
        client.settimeout(SHORT)
        host, port = socks_target(client)
        proxy.targets.append(f"{host}:{port}")
        client.sendall(b"\x05\x05\x00\x01" + socket.inet_aton("0.0.0.0") + b"\x00\x00")  # refused

    def accept() -> None:
        while not closing.is_set():
            if not select.select([sock], [], [], 0.05)[0]:
                continue
            client, _address = sock.accept()
            with client, suppress(OSError, ValueError):
                serve(client)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        closing.set()
        thread.join(SHORT)
        sock.close()


@pytest.mark.parametrize(
    ("port", "expected"), [(":21", 21), (":990", 990), ("", 990), (":2121", 2121)]
)
def test_an_ftps_link_goes_to_the_port_it_names_21_included(
    make_queue: QueueFactory, downloads: Path, port: str, expected: int
) -> None:
    """``ftps://host:21/`` is not ``ftps://host/``: 21 is ftp's default, not ftps's. Through a
    proxy, the request shows the port without a server on it; the job keeps the port too."""
    with recording_socks_proxy() as proxy:
        queue = make_queue(retry=NO_RETRY, proxy=f"socks5h://127.0.0.1:{proxy.port}")
        link = f"ftps://127.0.0.1{port}/x.bin"
        job = queue.download(link, downloads)
        queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert proxy.targets
    assert set(proxy.targets) == {f"127.0.0.1:{expected}"}
    assert str(job.source) == link


def test_an_ftps_link_naming_port_21_keeps_it_through_the_journal(
    make_queue: QueueFactory, downloads: Path, tmp_path: Path
) -> None:
    """The job's source, the journal and a redacted copy keep ``:21``, and so does a retry of
    the restored job."""
    journal = tmp_path / "journal.sqlite3"
    link = "ftps://127.0.0.1:21/x.bin"
    with recording_socks_proxy() as proxy:
        options = {"retry": NO_RETRY, "proxy": f"socks5h://127.0.0.1:{proxy.port}"}
        first = make_queue(journal=journal, **options)
        job = first.download(link, downloads)
        first.wait_for_job(job, LONG)
        first.close()
        second = make_queue(journal=journal, resume_restored=False, **options)
        [restored] = second.list_jobs()
        assert str(restored.source) == link
        assert redact_url(str(restored.source)) == link
        second.retry_job(restored)  # the restored link still goes to port 21
        wait_until(lambda: len(proxy.targets) == 2)
        second.wait_for_job(restored, LONG)
    assert proxy.targets == ["127.0.0.1:21", "127.0.0.1:21"]
