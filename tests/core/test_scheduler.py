"""The scheduler on its own: priorities, first in first out, stale entries, looking ahead."""

from __future__ import annotations

from pathlib import Path

from fetchq import DownloadJob, DownloadJobStatus
from fetchq._scheduler import Scheduler


def make(jobs: dict[int, DownloadJob], job_id: int, priority: int) -> DownloadJob:
    job = DownloadJob(source="http://example.org/f", dest=Path("/tmp"), priority=priority)  # type: ignore[arg-type]
    job.id = job_id
    job.status = DownloadJobStatus.WAITING
    jobs[job_id] = job
    return job


def test_lowest_priority_first_then_first_in_first_out() -> None:
    jobs: dict[int, DownloadJob] = {}
    scheduler = Scheduler(jobs)
    for job_id, priority in [(1, 10), (2, 5), (3, 10), (4, 5), (5, 1)]:
        scheduler.enqueue(make(jobs, job_id, priority))
    assert scheduler.waiting == 5
    assert [job.id for job in scheduler.upcoming(3)] == [5, 2, 4]
    assert scheduler.waiting == 5  # looking ahead takes nothing
    assert [scheduler.pop().id for _ in range(5)] == [5, 2, 4, 1, 3]  # type: ignore[union-attr]
    assert scheduler.pop() is None
    assert scheduler.waiting == 0


def test_a_job_queued_again_or_gone_leaves_a_stale_entry_that_is_skipped() -> None:
    jobs: dict[int, DownloadJob] = {}
    scheduler = Scheduler(jobs)
    first, second, third = (make(jobs, i, 10) for i in (1, 2, 3))
    for job in (first, second, third):
        scheduler.enqueue(job)
    first.priority = 20
    scheduler.enqueue(first)  # a new priority: the old entry is stale
    second.status = DownloadJobStatus.PAUSED
    scheduler.discard(second.id)
    assert scheduler.waiting == 2
    assert [job.id for job in scheduler.upcoming(5)] == [3, 1]
    assert scheduler.pop() is third
    assert scheduler.pop() is first
    assert scheduler.pop() is None
