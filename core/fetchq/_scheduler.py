"""Which waiting job runs next, and which idle worker watches the clock for it.

The queue's job control (cancel, pause, priorities, the journal) decides what is waiting; this
module only orders it: lowest priority first, first in first out among equals, by a heap of
``(priority, sequence, id)`` tuples. A job queued again (a new priority, a resume) gets a new
entry; the old one stays behind as stale and is skipped when it comes up. Neither class is
thread-safe: the queue's lock guards them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from typing import NamedTuple, Optional

from ._job import DownloadJob, DownloadJobStatus


class QueueEntry(NamedTuple):
    """A heap item; ordered by priority, then submission (unique, so the id never decides).

    A tuple, not an ordered dataclass: the heap compares entries in C, about 20 times faster.
    """

    priority: int
    sequence: int
    job_id: int


class Scheduler:
    """The waiting jobs, in the order they will run."""

    def __init__(self, jobs: Mapping[int, DownloadJob]) -> None:
        self._jobs = jobs
        self._heap: list[QueueEntry] = []
        self._queued: dict[int, int] = {}  # job id -> sequence of its current entry
        self._sequence = itertools.count()

    @property
    def waiting(self) -> int:
        """How many jobs wait to run."""
        return len(self._queued)

    def __bool__(self) -> bool:
        return bool(self._heap)

    def enqueue(self, job: DownloadJob) -> None:
        """Queue a waiting job (again: its earlier entry, if any, goes stale)."""
        sequence = next(self._sequence)
        self._queued[job.id] = sequence
        heapq.heappush(self._heap, QueueEntry(job.priority, sequence, job.id))

    def discard(self, job_id: int) -> None:
        """The job stopped waiting (paused, cancelled, removed): it will not come up."""
        self._queued.pop(job_id, None)

    def pop(self, blocked: Optional[Callable[[DownloadJob], bool]] = None) -> Optional[DownloadJob]:
        """The next job to run, taken off the queue; None if none waits. Jobs ``blocked``
        says may not start now (their named queue is full or outside its hours) keep their
        places and are passed over."""
        passed: list[QueueEntry] = []
        try:
            while self._heap:
                entry = heapq.heappop(self._heap)
                job = self._current(entry)
                if job is None:
                    continue
                if blocked is not None and blocked(job):
                    passed.append(entry)
                    continue
                del self._queued[job.id]
                return job
            return None
        finally:
            for entry in passed:
                heapq.heappush(self._heap, entry)

    def upcoming(self, count: int) -> list[DownloadJob]:
        """The next ``count`` jobs, in order, left in the queue."""
        entries: list[QueueEntry] = []
        jobs: list[DownloadJob] = []
        while self._heap and len(jobs) < count:
            entry = heapq.heappop(self._heap)
            job = self._current(entry)
            if job is not None:  # a stale entry is dropped, as popping it would
                entries.append(entry)
                jobs.append(job)
        for entry in entries:
            heapq.heappush(self._heap, entry)
        return jobs

    def _current(self, entry: QueueEntry) -> Optional[DownloadJob]:
        """The job of a heap entry that is still current: waiting, and queued by this entry."""
        job = self._jobs.get(entry.job_id)
        if (
            job is not None
            and job.status == DownloadJobStatus.WAITING
            and self._queued.get(job.id) == entry.sequence
        ):
            return job
        return None
