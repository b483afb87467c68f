"""Asking ahead: the next small files' requests go out while the current one is written."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Optional

from fetchq import DownloadJob, JobCallbacks
from fetchq.testing import Fault, RecordedRequest, Resource, TestServer
from tests.helpers import LONG, QueueFactory, file_sha256, payload, sha256


class Clock:
    """When each path was asked for (the server's side), and when each job started."""

    def __init__(self) -> None:
        self.asked: dict[str, list[float]] = {}
        self.started: dict[str, float] = {}
        self._lock = threading.Lock()

    def fault(self, request: RecordedRequest, resource: Resource) -> Optional[Fault]:
        with self._lock:
            self.asked.setdefault(request.path, []).append(time.monotonic())
        return None

    def on_start(self, job: DownloadJob) -> None:
        """A worker took the job (``on_running``: before its first request of its own)."""
        with self._lock:
            self.started[job.source.path or ""] = time.monotonic()


def test_the_next_small_files_are_asked_for_before_they_start(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    clock = Clock()
    files = {f"/f{i:02d}.bin": payload(30_000, i) for i in range(30)}
    urls = [server.add(path, data, faults=clock.fault) for path, data in files.items()]
    queue = make_queue(max_parallel_dl=1, callbacks=JobCallbacks(on_running=clock.on_start))
    jobs = [queue.download(url, downloads) for url in urls]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    for path, data in files.items():
        assert file_sha256(downloads / path.lstrip("/")) == sha256(data)
    early = [path for path in files if clock.asked[path][0] < clock.started[path]]
    assert len(early) >= len(files) // 2  # most were out before their job began
    assert all(len(clock.asked[path]) == 1 for path in files)  # and never asked twice


def test_a_large_answer_is_not_kept_and_its_job_asks_itself(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    small = payload(10_000, 1)
    large = payload(1_000_000, 2)
    first = server.add("/first.bin", small)
    second = server.add("/large.bin", large)
    queue = make_queue(max_parallel_dl=1)
    jobs = [queue.download(url, downloads) for url in (first, second)]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    assert file_sha256(downloads / "large.bin") == sha256(large)


def test_nothing_is_asked_ahead_under_an_address_policy(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    """The guard checks each connection as it is made; answers asked ahead would bypass it."""
    clock = Clock()
    urls = [server.add(f"/g{i}.bin", payload(5_000, i), faults=clock.fault) for i in range(6)]
    queue = make_queue(
        max_parallel_dl=1,
        address_policy=lambda address: True,
        callbacks=JobCallbacks(on_running=clock.on_start),
    )
    for url in urls:
        queue.download(url, downloads)
    assert queue.join(LONG)
    assert all(clock.asked[f"/g{i}.bin"][0] > clock.started[f"/g{i}.bin"] for i in range(6))


def test_a_token_asked_ahead_goes_to_its_origin_only(
    make_queue: QueueFactory, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(8_000)
    elsewhere = other_server.add("/cdn.bin", data)
    urls = [server.add(f"/m{i}.bin", redirect=elsewhere) for i in range(5)]
    queue = make_queue(max_parallel_dl=1)
    jobs = [queue.download(url, downloads, access_token="T0K") for url in urls]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    assert all(r.header("Authorization") == "Bearer T0K" for r in server.requests)
    assert all(r.header("Authorization") is None for r in other_server.requests)
