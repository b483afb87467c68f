"""ftp:// and ftps:// downloads, through libcurl, against a real FTP server on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fetchq import DownloadJobStatus, NetworkError
from fetchq._abort import AbortSignal
from fetchq._http import HttpClient
from fetchq.testing import _test_authority, ca_bundle
from tests.ftp_server import PASSWORD, USER, VSFTPD, FtpServer, ftp_server, vsftpd_server
from tests.helpers import (
    FAST_TIMEOUTS,
    LONG,
    Collect,
    QueueFactory,
    file_sha256,
    payload,
    sha256,
    wait_until,
)

MiB = 1 << 20


@pytest.fixture(scope="module")
def ftp_certfile() -> Iterator[str]:
    """A key and certificate for 127.0.0.1 from the test authority, in one PEM file."""
    authority, _bundle = _test_authority()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "ftp.pem")
        authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(path)  # type: ignore[attr-defined]
        yield path


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[FtpServer]:
    root = tmp_path / "served"
    root.mkdir()
    with ftp_server(root) as server:
        yield server


@pytest.fixture
def ftps(tmp_path: Path, ftp_certfile: str) -> Iterator[FtpServer]:
    """vsftpd over implicit TLS; CI installs it (``FETCHQ_REQUIRE_SERVERS=1``)."""
    if VSFTPD is None:
        if os.environ.get("FETCHQ_REQUIRE_SERVERS"):
            pytest.fail("vsftpd is not installed (apt-get install vsftpd)")
        pytest.skip("vsftpd is not installed (apt-get install vsftpd)")
    root = tmp_path / "served"
    root.mkdir()
    with vsftpd_server(root, ftp_certfile, tmp_path) as server:
        yield server


@pytest.fixture(params=["ftp", "ftps"])
def any_ftp(request: pytest.FixtureRequest) -> FtpServer:
    server: FtpServer = request.getfixturevalue(request.param)
    return server


def test_a_file_an_empty_file_and_a_login(
    make_queue: QueueFactory, ftp: FtpServer, downloads: Path
) -> None:
    data = payload(3 * MiB)
    (ftp.root / "disk image.iso").write_bytes(data)
    (ftp.root / "empty.txt").write_bytes(b"")
    queue = make_queue()
    named = queue.download(ftp.url("disk%20image.iso"), downloads)
    empty = queue.download(ftp.url("empty.txt"), downloads)
    login = f"{USER}:{PASSWORD.replace(' ', '%20')}"
    private = queue.download(ftp.url("disk%20image.iso", user=login), downloads / "mine.iso")
    assert queue.join(LONG)
    assert named.complete, named.error
    assert named.download_path == downloads / "disk image.iso"
    assert (named.bytes, named.total_bytes) == (len(data), len(data))
    assert file_sha256(downloads / "disk image.iso") == sha256(data)
    assert empty.complete, empty.error
    assert (downloads / "empty.txt").read_bytes() == b""
    assert private.complete, private.error
    assert file_sha256(downloads / "mine.iso") == sha256(data)
    assert f"USER {USER}" in ftp.commands
    assert f"PASS {PASSWORD}" in ftp.commands


def test_a_missing_file_fails_at_once(
    make_queue: QueueFactory, any_ftp: FtpServer, downloads: Path
) -> None:
    queue = make_queue()
    job = queue.download(any_ftp.url("nothing-here.bin"), downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.attempts == 1  # not worth retrying
    assert (job.error_type or "").startswith("NetworkError(127.0.0.1 has no such file")


def test_a_paused_download_resumes_with_rest(
    make_queue: QueueFactory, tmp_path: Path, downloads: Path
) -> None:
    data = payload(4 * MiB)
    root = tmp_path / "served"
    root.mkdir()
    (root / "slow.bin").write_bytes(data)
    with ftp_server(root, rate=256 * 1024) as ftp:
        queue = make_queue(max_connections_per_download=1)
        job = queue.download(ftp.url("slow.bin"), downloads)
        wait_until(lambda: job.bytes >= 200_000, LONG)
        queue.pause_job(job)
        queue.wait_for_job(job, LONG)
        assert job.status == DownloadJobStatus.PAUSED
        kept = (downloads / "slow.bin.part").stat().st_size
        assert 200_000 <= kept < len(data)
        ftp.set_rate(None)
        queue.resume_job(job)
        assert queue.wait_for_job(job, LONG).complete, job.error
        assert file_sha256(downloads / "slow.bin") == sha256(data)
        assert ftp.sent("REST")[-1] == str(kept)  # the rest, not the whole file again


def test_a_range_of_a_file_is_fetched_from_its_offset_and_ends_where_asked(
    any_ftp: FtpServer,
) -> None:
    """What a second connection of a split download asks for: one range, no more."""
    ftp = any_ftp
    data = payload(1 * MiB)
    (ftp.root / "piece.bin").write_bytes(data)
    client = HttpClient(None, FAST_TIMEOUTS, ca_bundle=ca_bundle())
    received = Collect()
    try:
        client.fetch(
            ftp.url("piece.bin"), {}, None, received, AbortSignal(), byte_range=(1000, 301_000)
        )
    finally:
        client.close_idle()
    assert received.head is not None
    assert received.head.status == 206
    assert received.head.header("content-range") == f"bytes 1000-300999/{len(data)}"
    assert bytes(received.body) == data[1000:301_000]
    if not ftp.tls:  # pyftpdlib keeps a log of commands
        assert "1000" in ftp.sent("REST")


def test_ftps_downloads_a_file_and_refuses_an_untrusted_server(
    make_queue: QueueFactory, ftps: FtpServer, downloads: Path
) -> None:
    data = payload(3 * MiB)
    (ftps.root / "secure.bin").write_bytes(data)
    (ftps.root / "empty.txt").write_bytes(b"")
    queue = make_queue()
    jobs = [queue.download(ftps.url(name), downloads) for name in ("secure.bin", "empty.txt")]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs), [job.error for job in jobs]
    assert file_sha256(downloads / "secure.bin") == sha256(data)
    assert (downloads / "empty.txt").read_bytes() == b""
    stranger = make_queue(ca_bundle=None)  # the system's authorities only
    job = stranger.download(ftps.url("secure.bin"), downloads / "again.bin")
    stranger.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith("CertificateError(")
    assert job.attempts == 1


def test_network_errors_are_one_exception_type() -> None:
    assert issubclass(NetworkError, ConnectionError)
