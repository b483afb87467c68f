"""Scheduling, lifecycle and job control of DownloadQueueService."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from tests.helpers import (
    LONG,
    SHORT,
    EventRecorder,
    QueueFactory,
    file_sha256,
    leftovers,
    payload,
    sha256,
    wait_until,
)


def test_ready_on_construction_start_stop_idempotent(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    queue = make_queue()
    job = queue.download(server.add("/a", b"abc"), downloads)
    assert queue.wait_for_job(job, LONG).complete
    queue.start()
    queue.start()
    queue.stop()
    queue.stop()
    assert queue.join(SHORT)
    queue.start()
    again = queue.download(server.url("/a"), downloads / "again")
    assert queue.wait_for_job(again, LONG).complete


def test_context_manager_stops_and_releases(server: TestServer, downloads: Path) -> None:
    gate = threading.Event()
    url = server.add("/held", b"x" * 1000, gate=gate)
    with DownloadQueueService() as queue:
        job = queue.download(url, downloads)
        wait_until(lambda: job.running)
    assert job.status == DownloadJobStatus.PAUSED
    gate.set()


def test_at_most_max_parallel_run_at_once(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    url = server.add("/held", b"y" * 100, gate=gate)
    queue = make_queue(max_parallel_dl=2)
    jobs = [queue.download(url, downloads / f"{i}.bin") for i in range(6)]
    wait_until(lambda: sum(j.running for j in jobs) == 2)
    time.sleep(0.2)  # give a wrongly started third worker the chance to show itself
    assert sum(j.running for j in jobs) == 2
    assert sum(j.waiting for j in jobs) == 4
    gate.set()
    assert queue.join(LONG)
    assert all(j.complete for j in jobs)


def test_lower_priority_first_and_fifo_among_equals(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    blocker_url = server.add("/blocker", b"b", gate=gate)
    url = server.add("/file", b"f")
    queue = make_queue(max_parallel_dl=1)
    started: list[int] = []
    blocker = queue.download(blocker_url, downloads / "blocker")
    wait_until(lambda: blocker.running)
    priorities = [5, 1, 5, 1, 3, 10, 1]
    jobs = [
        queue.download(
            url, downloads / f"{i}", priority=p, on_start=lambda job: started.append(job.id)
        )
        for i, p in enumerate(priorities)
    ]
    gate.set()
    assert queue.join(LONG)
    expected = [j.id for j in sorted(jobs, key=lambda j: (j.priority, j.id))]
    assert started == expected
    sequences = {j.id: j.job_sequence for j in jobs}
    assert [sequences[i] for i in expected] == list(range(1, len(jobs) + 1))
    assert blocker.job_sequence == 0


def test_set_priority_reorders_waiting_jobs(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    queue = make_queue(max_parallel_dl=1)
    blocker = queue.download(server.add("/blocker", b"b", gate=gate), downloads / "blocker")
    wait_until(lambda: blocker.running)
    url = server.add("/f", b"f")
    started: list[int] = []
    jobs = [
        queue.download(url, downloads / f"{i}", on_start=lambda j: started.append(j.id))
        for i in range(3)
    ]
    queue.set_priority(jobs[2], 1)
    queue.set_priority(jobs[0], 20)
    gate.set()
    assert queue.join(LONG)
    assert started == [jobs[2].id, jobs[1].id, jobs[0].id]


def test_max_parallel_can_change_while_running(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    url = server.add("/held", b"z", gate=gate)
    queue = make_queue(max_parallel_dl=1)
    jobs = [queue.download(url, downloads / f"{i}") for i in range(4)]
    wait_until(lambda: sum(j.running for j in jobs) == 1)
    queue.max_parallel_dl = 3
    wait_until(lambda: sum(j.running for j in jobs) == 3)
    gate.set()
    assert queue.join(LONG)


def test_cancel_waiting_and_running(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    data = payload(300_000)
    url = server.add("/slow", data, stall_after=100_000, stall_seconds=30)
    queue = make_queue(max_parallel_dl=1)
    running = queue.download(url, downloads / "running.bin")
    waiting = queue.download(url, downloads / "waiting.bin")
    wait_until(lambda: running.bytes >= 100_000)
    assert (downloads / "running.bin.part").exists()
    queue.cancel_job(waiting)
    assert waiting.status == DownloadJobStatus.CANCELLED
    started = time.monotonic()
    queue.cancel_job(running)
    queue.wait_for_job(running, SHORT)
    assert time.monotonic() - started < 1.0  # the blocked read was interrupted
    for job in (running, waiting):
        assert job.status == DownloadJobStatus.CANCELLED
        assert job.cancelled
        assert job.error_type == "DownloadJobCancelledException"
    assert leftovers(downloads) == []
    assert not (downloads / "running.bin").exists()
    assert recorder.names(waiting.id) == ["download_cancelled"]  # never started: nothing else
    assert recorder.names(running.id)[0] == "download_started"
    assert recorder.names(running.id)[-1] == "download_cancelled"


def test_cancel_before_headers_arrive(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    queue = make_queue()
    job = queue.download(server.add("/gated", b"x", gate=gate), downloads / "x")
    wait_until(lambda: len(server.requests_for("/gated")) == 1)
    started = time.monotonic()
    job.cancel()  # InvokeAI's job.cancel() reaches the queue
    queue.wait_for_job(job, SHORT)
    assert time.monotonic() - started < 1.0
    assert job.status == DownloadJobStatus.CANCELLED
    gate.set()


def test_cancel_all(make_queue: QueueFactory, server: TestServer, downloads: Path) -> None:
    gate = threading.Event()
    url = server.add("/held", b"h", gate=gate)
    queue = make_queue(max_parallel_dl=2)
    jobs = [queue.download(url, downloads / f"{i}") for i in range(5)]
    wait_until(lambda: sum(j.running for j in jobs) == 2)
    queue.cancel_all_jobs()
    assert queue.join(LONG)
    assert all(j.status == DownloadJobStatus.CANCELLED for j in jobs)
    gate.set()


def test_cancelling_a_finished_job_changes_nothing(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    job = queue.download(server.add("/a", b"abc"), downloads)
    queue.wait_for_job(job, LONG)
    queue.cancel_job(job)
    queue.pause_job(job)
    queue.resume_job(job)
    assert job.complete
    assert not job.cancelled
    assert (downloads / "a").read_bytes() == b"abc"


def test_prune_removes_only_finished(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    queue = make_queue(max_parallel_dl=1)
    done = queue.download(server.add("/ok", b"ok"), downloads / "ok")
    failed = queue.download(server.url("/missing"), downloads / "missing")
    queue.wait_for_job(failed, LONG)
    held = queue.download(server.add("/held", b"h", gate=gate), downloads / "held")
    waiting = queue.download(server.url("/ok"), downloads / "ok2")
    wait_until(lambda: held.running)
    queue.prune_jobs()
    assert [j.id for j in queue.list_jobs()] == [held.id, waiting.id]
    assert done.complete
    assert failed.errored
    gate.set()
    assert queue.join(LONG)


def test_join_timeout_and_wait_for_job_timeout(
    queue: DownloadQueueService, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    job = queue.download(server.add("/held", b"h", gate=gate), downloads / "h")
    assert queue.join(timeout=0.1) is False
    with pytest.raises(TimeoutError):
        queue.wait_for_job(job, timeout=0.1)
    gate.set()
    assert queue.wait_for_job(job, LONG) is job
    assert queue.join(timeout=LONG)


def test_join_after_stop_returns_with_waiting_jobs(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    queue = make_queue(max_parallel_dl=1)
    jobs = [queue.download(server.add("/h", b"h", gate=gate), downloads / f"{i}") for i in range(3)]
    wait_until(lambda: jobs[0].running)
    started = time.monotonic()
    queue.stop()
    assert time.monotonic() - started < 3.0
    assert queue.join(SHORT)
    assert jobs[0].status == DownloadJobStatus.PAUSED
    assert [j.status for j in jobs[1:]] == [DownloadJobStatus.WAITING] * 2
    gate.set()
    queue.start()  # the job stop() paused runs again, with the waiting ones
    assert queue.join(LONG)
    assert all(j.complete for j in jobs)


def test_many_threads_submit_and_control_concurrently(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    url = server.add("/tiny", b"t" * 100)
    queue = make_queue(max_parallel_dl=4)
    submitted: list[DownloadJob] = []
    lock = threading.Lock()

    def submit(worker: int) -> None:
        for i in range(25):
            job = queue.download(url, downloads / f"w{worker}-{i}")
            with lock:
                submitted.append(job)
            if i % 3 == 0:
                queue.cancel_job(job)
            elif i % 5 == 0:
                queue.pause_job(job)
                queue.resume_job(job)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.join(LONG)
    assert len({j.id for j in submitted}) == 200
    assert all(j.in_terminal_state for j in submitted)
    for job in submitted:
        if job.complete:
            assert (downloads / Path(str(job.download_path)).name).read_bytes() == b"t" * 100
    assert leftovers(downloads) == []


def test_jobs_that_wait_on_the_network_all_run_together(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    url = server.add("/held", b"h" * 100, gate=gate)
    queue = make_queue(max_parallel_dl=6)
    jobs = [queue.download(url, downloads / f"{i}.bin") for i in range(8)]
    wait_until(lambda: sum(j.running for j in jobs) == 6)
    wait_until(lambda: len(server.requests_for("/held")) == 6)
    assert [j.running for j in jobs] == [True] * 6 + [False] * 2
    gate.set()
    assert queue.join(LONG)
    assert all(j.complete for j in jobs)


def test_the_queue_runs_on_four_threads_however_many_jobs_and_connections(
    make_queue: QueueFactory, server: TestServer, downloads: Path
) -> None:
    data = payload(3_000_000, seed=5)
    urls = [server.add(f"/big{i}.bin", data, rate=1_500_000) for i in range(12)]
    before = {thread.ident for thread in threading.enumerate()}
    queue = make_queue(max_parallel_dl=12, max_connections_per_download=4)
    jobs = [queue.download(url, downloads) for url in urls]
    wait_until(lambda: sum(job.running for job in jobs) == 12)
    wait_until(lambda: len(server.requests) > 14)  # extra connections joined some downloads
    mine = [
        thread.name
        for thread in threading.enumerate()
        if thread.ident not in before and "process_request" not in thread.name  # the server's
    ]
    assert queue.join(LONG)
    assert all(job.complete for job in jobs)
    assert all(file_sha256(Path(str(job.download_path))) == sha256(data) for job in jobs)
    assert len(mine) <= 4, mine  # the engine, the dispatcher and its standby, the journal
