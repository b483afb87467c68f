"""What another account on the machine could read in the journal: nothing.

The journal holds every link; links hold passwords (``ftp://user:pass@host``) and signatures
(signed query strings). Its folder is the owner's alone, its files 0600, a password is never
written, and a finished download keeps no query string.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.ftp_server import PASSWORD, USER, FtpServer, ftp_server
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256, wait_until

MiB = 1 << 20
posix_only = pytest.mark.skipif(os.name != "posix", reason="Unix modes")


@pytest.fixture
def slow_ftp(tmp_path: Path) -> Iterator[FtpServer]:
    root = tmp_path / "served"
    root.mkdir()
    with ftp_server(root, rate=256 * 1024) as server:
        yield server


def _journal_bytes(journal: Path) -> bytes:
    """Everything the journal wrote, its write-ahead log included."""
    return b"".join(
        path.read_bytes() for path in journal.parent.iterdir() if path.name.startswith(journal.name)
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_the_journal_is_readable_by_its_owner_only(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    old_umask = os.umask(0o022)  # a desktop session's usual umask
    try:
        journal = tmp_path / "data" / "downloads.sqlite3"
        queue = make_queue(journal=journal)
        job = queue.download(server.add("/a.bin", payload(10_000)), downloads)
        assert queue.wait_for_job(job, LONG).complete, job.error
        files = sorted(p for p in journal.parent.iterdir() if p.name.startswith(journal.name))
        assert {p.name for p in files} >= {
            "downloads.sqlite3",
            "downloads.sqlite3-wal",
            "downloads.sqlite3.lock",
        }
        assert _mode(journal.parent) == 0o700
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        os.umask(old_umask)


@posix_only
def test_an_old_journal_is_made_private_when_opened(
    make_queue: QueueFactory, tmp_path: Path
) -> None:
    journal = tmp_path / "downloads.sqlite3"
    with DownloadQueueService(journal=journal):
        pass
    for path in tmp_path.iterdir():
        path.chmod(0o644)  # as fetchq 0.1 left them
    make_queue(journal=journal)
    assert {p.name: _mode(p) for p in tmp_path.iterdir() if p.is_file()} == {
        p.name: 0o600 for p in tmp_path.iterdir() if p.is_file()
    }


def test_no_password_and_no_finished_signature_reaches_the_journal(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "downloads.sqlite3"
    data = payload(50_000)
    server.add("/signed.bin", data)
    base = server.url("/signed.bin")
    signed = f"{base}?X-Amz-Signature=5ec7e75ec7e7&X-Amz-Expires=300"
    with_password = base.replace("://", "://someone:hunter2pass@", 1).replace(
        "signed.bin", "signed.bin?again"
    )
    queue = make_queue(journal=journal)
    first = queue.download(signed, downloads / "one.bin")
    second = queue.download(with_password, downloads / "two.bin")
    assert queue.wait_for_job(first, LONG).complete, first.error
    assert queue.wait_for_job(second, LONG).complete, second.error
    queue.close()
    written = _journal_bytes(journal)
    assert b"hunter2pass" not in written
    assert b"5ec7e75ec7e7" not in written
    with DownloadQueueService(journal=journal) as reopened:
        sources = sorted(str(job.source) for job in reopened.list_jobs())
    assert sources == sorted([base, base.replace("://", "://someone@", 1)])


def test_an_unfinished_signed_link_keeps_its_query_to_resume(
    make_queue: QueueFactory, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "downloads.sqlite3"
    data = payload(3 * MiB)
    server.add("/big.bin", data, rate=1_000_000)
    signed = server.url("/big.bin") + "?sig=abc123"
    queue = make_queue(journal=journal, max_connections_per_download=1)
    job = queue.download(signed, downloads)
    wait_until(lambda: job.bytes >= 200_000, LONG)
    queue.pause_job(job)
    queue.wait_for_job(job, LONG)
    queue.close()
    with DownloadQueueService(journal=journal) as reopened:
        (restored,) = reopened.list_jobs()
        assert str(restored.source) == signed
        reopened.resume_job(restored)
        assert reopened.wait_for_job(restored, LONG).complete, restored.error
    assert file_sha256(downloads / "big.bin") == sha256(data)


def test_a_restored_ftp_download_asks_for_its_password_again(
    make_queue: QueueFactory, slow_ftp: FtpServer, downloads: Path, tmp_path: Path
) -> None:
    """The password is not in the journal: after a restart the download says it needs a
    login (as a 401 does) and goes on from its bytes once it has one."""
    data = payload(4 * MiB)
    (slow_ftp.root / "private.iso").write_bytes(data)
    journal = tmp_path / "downloads.sqlite3"
    login = f"{USER}:{PASSWORD.replace(' ', '%20')}"
    queue = make_queue(journal=journal, max_connections_per_download=1)
    job = queue.download(slow_ftp.url("private.iso", user=login), downloads)
    wait_until(lambda: job.bytes >= 200_000, LONG)
    queue.pause_job(job)
    queue.wait_for_job(job, LONG)
    queue.close()
    assert PASSWORD.encode() not in _journal_bytes(journal)
    assert b"s3cret%20pass" not in _journal_bytes(journal)
    slow_ftp.set_rate(None)
    with DownloadQueueService(journal=journal) as reopened:
        (restored,) = reopened.list_jobs()
        assert str(restored.source) == slow_ftp.url("private.iso", user=USER)
        reopened.resume_job(restored)
        reopened.wait_for_job(restored, LONG)
        assert restored.status == DownloadJobStatus.ERROR
        assert restored.auth_challenge == "FTP"
        reopened.set_login(restored, USER, PASSWORD)
        assert reopened.wait_for_job(restored, LONG).complete, restored.error
    assert file_sha256(downloads / "private.iso") == sha256(data)
    assert slow_ftp.sent("REST")  # went on from its bytes
