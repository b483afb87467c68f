"""No hangs, disk failures, colliding destinations, and the private-address guard."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fetchq import DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.helpers import (
    LONG,
    SCHEMES,
    SHORT,
    QueueFactory,
    file_sha256,
    leftovers,
    payload,
    sha256,
    wait_until,
)


@pytest.mark.parametrize("stall_at", [0, 100_000])
def test_pause_takes_effect_at_once_even_while_a_read_is_blocked(
    make_queue: QueueFactory, server: TestServer, downloads: Path, stall_at: int
) -> None:
    data = payload(400_000)
    url = server.add("/stall.bin", data, stall_after=stall_at, stall_seconds=30)
    queue = make_queue()
    job = queue.download(url, downloads / "stall.bin", max_connections=1)
    wait_until(lambda: job.running and server.requests_for("/stall.bin"))
    if stall_at:
        wait_until(lambda: job.bytes >= stall_at)
    started = time.monotonic()
    queue.pause_job(job)
    queue.wait_for_job(job, SHORT)
    assert time.monotonic() - started < 1.0
    assert job.status == DownloadJobStatus.PAUSED
    if stall_at:
        assert (downloads / "stall.bin.part").stat().st_size == stall_at


def test_stop_returns_promptly_with_running_jobs_paused(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/stuck.bin", payload(300_000), stall_after=50_000, stall_seconds=60)
    queue = make_queue(max_parallel_dl=4)
    # One connection each: a stalled download would otherwise get a second one (split by
    # time), whose bytes would land further into the part file.
    jobs = [queue.download(url, downloads / f"{i}.bin", max_connections=1) for i in range(4)]
    wait_until(lambda: all(j.bytes >= 50_000 for j in jobs))
    started = time.monotonic()
    queue.stop()
    assert time.monotonic() - started < 3.0
    assert all(j.status == DownloadJobStatus.PAUSED for j in jobs)
    assert all((downloads / f"{i}.bin.part").stat().st_size == 50_000 for i in range(4))
    assert queue.join(SHORT)


class FullDisk:
    """File writes that fail with ``code`` once a part file holds ``limit`` bytes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, limit: int, code: int) -> None:
        self.limit, self.code, self.armed = limit, code, True
        self._pwrite = os.pwrite
        monkeypatch.setattr(os, "pwrite", self.pwrite)
        if hasattr(os, "pwritev"):
            self._pwritev = os.pwritev
            monkeypatch.setattr(os, "pwritev", self.pwritev)

    def _check(self, end: int) -> None:
        if self.armed and end > self.limit:
            raise OSError(self.code, os.strerror(self.code))

    def pwrite(self, fd: int, data: Any, offset: int) -> int:
        self._check(offset + len(data))
        return self._pwrite(fd, data, offset)

    def pwritev(self, fd: int, chunks: Any, offset: int) -> int:
        self._check(offset + sum(len(chunk) for chunk in chunks))
        return self._pwritev(fd, chunks, offset)


@pytest.mark.parametrize(
    ("code", "error"),
    [(errno.ENOSPC, "InsufficientSpaceError"), (errno.EIO, "DiskError")],
)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_failing_disk_ends_in_error_and_keeps_the_part_for_a_resume(
    make_queue: QueueFactory,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    error: str,
) -> None:
    data = payload(3_000_000)
    url = server.add("/big.bin", data)
    disk = FullDisk(monkeypatch, limit=1_000_000, code=code)
    queue = make_queue()
    job = queue.download(url, downloads, max_connections=1)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith(f"{error}(cannot write big.bin.part: ")
    assert "the partial file is kept" in (job.error_type or "")
    kept = (downloads / "big.bin.part").stat().st_size
    assert 0 < kept <= 1_000_000
    assert (downloads / "big.bin.part.json").exists()
    disk.armed = False  # space was freed
    queue.resume_job(job)  # a finished job is not resumed...
    assert job.status == DownloadJobStatus.ERROR
    queue.retry_job(job)  # ...it is retried, from the part file it kept
    assert queue.wait_for_job(job, LONG).complete
    assert server.requests_for("/big.bin")[-1].header("Range") == f"bytes={kept}-"
    assert file_sha256(downloads / "big.bin") == sha256(data)


def test_a_small_file_on_a_full_disk_fails_clearly_and_is_fetched_again_later(
    make_queue: QueueFactory, server: TestServer, downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = payload(20_000)  # read whole, then written at once: the write reports the full disk
    url = server.add("/small.bin", data)
    disk = FullDisk(monkeypatch, limit=0, code=errno.ENOSPC)
    queue = make_queue()
    job = queue.download(url, downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (job.error_type or "").startswith(
        "InsufficientSpaceError(cannot write small.bin.part: the disk is full"
    )
    assert not (downloads / "small.bin").exists()
    disk.armed = False
    queue.retry_job(job)
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(downloads / "small.bin") == sha256(data)
    assert leftovers(downloads) == []


@pytest.mark.parametrize("size", [20_000, 300_000])  # written at once; through a part file
def test_a_folder_removed_before_the_job_runs_is_made_again(
    make_queue: QueueFactory, server: TestServer, downloads: Path, size: int
) -> None:
    data = payload(size)
    gate = threading.Event()
    first = server.add("/first.bin", b"f" * 100, gate=gate)
    url = server.add("/later.bin", data)
    queue = make_queue(max_parallel_dl=1)
    holder = queue.download(first, downloads)
    folder = downloads / "sub"
    job = queue.download(url, folder / "later.bin")
    assert folder.is_dir()  # made when the job was submitted...
    folder.rmdir()  # ...and removed while it waited
    gate.set()
    assert queue.wait_for_job(holder, LONG).complete
    assert queue.wait_for_job(job, LONG).complete
    assert file_sha256(folder / "later.bin") == sha256(data)


def test_free_space_is_checked_before_writing(
    make_queue: QueueFactory, server: TestServer, downloads: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=1, used=1, free=0))
    queue = make_queue()
    job = queue.download(server.add("/huge.bin", payload(300_000)), downloads)
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert job.error_type == (
        f"InsufficientSpaceError(300000 bytes are needed in {downloads} but only 0 are free)"
    )
    assert leftovers(downloads) == []


def test_hundreds_of_jobs_into_one_folder_keep_apart(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    sources = {}
    for i in range(300):
        data = payload(2000 + i, seed=i)
        url = server.add(f"/n{i}", data, content_disposition='attachment; filename="file.bin"')
        sources[url] = data
    queue = make_queue(max_parallel_dl=8)
    jobs = [queue.download(url, downloads) for url in sources]
    assert queue.join(LONG)
    assert [j.error_type for j in jobs if not j.complete] == []
    names = sorted(Path(str(j.download_path)).name for j in jobs)
    assert names == sorted(["file.bin"] + [f"file ({n}).bin" for n in range(1, 300)])
    for job in jobs:
        assert Path(str(job.download_path)).read_bytes() == sources[str(job.source)]
    assert leftovers(downloads) == []


def test_a_second_job_to_the_same_file_fails_clearly(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    first_data, second_data = payload(5000, 1), payload(5000, 2)
    first = server.add("/first", first_data, gate=gate)
    second = server.add("/second", second_data)
    queue = make_queue()
    target = downloads / "same.bin"
    running = queue.download(first, target)
    wait_until(lambda: running.running)
    clash = queue.download(second, target)
    queue.wait_for_job(clash, LONG)
    assert clash.status == DownloadJobStatus.ERROR
    assert clash.error_type == f"DestinationInUseError(another download is writing {target})"
    gate.set()
    assert queue.wait_for_job(running, LONG).complete
    assert target.read_bytes() == first_data


@pytest.fixture
def foreign_lock(downloads: Path) -> Iterator[Path]:
    """Another process holding the lock on a part file."""
    part = downloads / "locked.bin.part"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(part)!r}, 'a')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    yield part
    holder.kill()
    holder.wait()
    holder.stdout.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX advisory locks")
def test_a_part_file_another_process_writes_is_left_alone(
    make_queue: QueueFactory, server: TestServer, downloads: Path, foreign_lock: Path
) -> None:
    queue = make_queue()
    job = queue.download(server.add("/locked.bin", payload(5000)), downloads / "locked.bin")
    queue.wait_for_job(job, LONG)
    assert job.status == DownloadJobStatus.ERROR
    assert (
        job.error_type
        == "DestinationInUseError(locked.bin.part is being written by another process)"
    )


def test_the_address_guard_checks_every_redirect(downloads: Path) -> None:
    with TestServer() as public, TestServer(host="127.0.0.2") as private:
        private.add("/secret", b"internal data")
        public.add("/innocent", redirect=private.url("/secret"))
        public.add("/fine", b"public data")
        with DownloadQueueService(address_policy=lambda address: address != "127.0.0.2") as queue:
            blocked = queue.download(public.url("/innocent"), downloads)
            fine = queue.download(public.url("/fine"), downloads)
            assert queue.join(LONG)
        assert fine.complete
        assert blocked.status == DownloadJobStatus.ERROR
        assert blocked.error_type == (
            "UnsafeDownloadURLException(refused to connect to 127.0.0.2"
            " at non-public address 127.0.0.2)"
        )
        assert private.requests == []


def test_the_test_server_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        TestServer(host="192.0.2.1")
