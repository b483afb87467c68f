"""Load: 10 000 jobs, concurrent submitters, cancel storms; every job ends once, and only once."""

from __future__ import annotations

import collections
import random
import threading
from pathlib import Path

import pytest

from fetchq import DownloadJob, DownloadJobStatus
from fetchq.testing import TestServer
from tests.helpers import LONG, EventRecorder, QueueFactory, leftovers

JOBS = 10_000
SUBMITTERS = 8
TERMINAL_EVENTS = {"download_complete", "download_cancelled", "download_error"}
EVENT_FOR_STATUS = {
    DownloadJobStatus.COMPLETED: "download_complete",
    DownloadJobStatus.CANCELLED: "download_cancelled",
    DownloadJobStatus.ERROR: "download_error",
}


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ten_thousand_jobs_with_cancel_storms(
    make_queue: QueueFactory, server: TestServer, downloads: Path, recorder: EventRecorder
) -> None:
    server.add("/small", b"s" * 300)
    server.add("/slow", b"w" * 200_000, rate=2_000_000)
    queue = make_queue(max_parallel_dl=16)
    terminal_calls: collections.Counter[tuple[int, str]] = collections.Counter()
    calls_lock = threading.Lock()

    def record(kind: str) -> object:
        def callback(job: DownloadJob) -> None:
            with calls_lock:
                terminal_calls[(job.id, kind)] += 1

        return callback

    submitted: list[DownloadJob] = []
    submitted_lock = threading.Lock()
    done_submitting = threading.Event()

    def submit(worker: int) -> None:
        rng = random.Random(worker)
        for i in range(JOBS // SUBMITTERS):
            path = "/slow" if rng.random() < 0.02 else ("/small" if rng.random() < 0.9 else "/404")
            job = queue.download(
                server.url(path),
                downloads / f"w{worker}-{i}.bin",
                priority=rng.randrange(5),
                on_complete=record("complete"),  # type: ignore[arg-type]
                on_cancelled=record("cancelled"),  # type: ignore[arg-type]
                on_error=record("error"),  # type: ignore[arg-type]
            )
            with submitted_lock:
                submitted.append(job)

    def storm(seed: int) -> None:
        rng = random.Random(seed)
        while not done_submitting.is_set():
            with submitted_lock:
                victims = rng.sample(submitted, min(20, len(submitted)))
            for job in victims:
                action = rng.random()
                if action < 0.6:
                    queue.cancel_job(job)
                elif action < 0.8:
                    queue.pause_job(job)
                    queue.resume_job(job)
                else:
                    queue.set_priority(job, rng.randrange(5))

    submitters = [threading.Thread(target=submit, args=(n,)) for n in range(SUBMITTERS)]
    stormers = [threading.Thread(target=storm, args=(n,)) for n in range(2)]
    for thread in submitters + stormers:
        thread.start()
    for thread in submitters:
        thread.join()
    done_submitting.set()
    for thread in stormers:
        thread.join()
    queue.cancel_all_jobs()  # a final storm over everything still going
    assert queue.join(LONG * 6)

    assert len(submitted) == JOBS
    assert len({job.id for job in submitted}) == JOBS
    listed = {job.id: job for job in queue.list_jobs()}
    assert set(listed) == {job.id for job in submitted}
    statuses = collections.Counter(job.status for job in listed.values())
    assert set(statuses) <= set(EVENT_FOR_STATUS), statuses
    events_by_job: dict[int, list[str]] = collections.defaultdict(list)
    pauses: collections.Counter[int] = collections.Counter()
    for event in recorder.events:
        if event.name in TERMINAL_EVENTS:
            events_by_job[event.id].append(event.name)
        elif event.name == "download_paused":
            pauses[event.id] += 1
    for job in listed.values():
        expected = EVENT_FOR_STATUS[job.status]
        assert events_by_job[job.id] == [expected], (job.id, job.status, events_by_job[job.id])
        kind = expected.removeprefix("download_")
        # on_cancelled also reports each pause, as InvokeAI's does; the end comes once.
        extra = pauses[job.id] if kind != "cancelled" else 0
        assert terminal_calls[(job.id, kind)] == 1 + pauses[job.id] - extra, (job.id, kind)
        if kind != "cancelled":
            assert terminal_calls[(job.id, "cancelled")] == pauses[job.id], job.id
    assert sum(terminal_calls.values()) == JOBS + sum(pauses.values())
    for job in listed.values():
        if job.complete:
            assert Path(str(job.download_path)).stat().st_size in (300, 200_000)
    assert leftovers(downloads) == []
    assert statuses[DownloadJobStatus.COMPLETED] > 0
    assert statuses[DownloadJobStatus.CANCELLED] > 0
    assert statuses[DownloadJobStatus.ERROR] > 0
