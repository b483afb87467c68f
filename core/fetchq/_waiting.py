"""Waiting: the bodies of :meth:`DownloadQueueService.join` and ``wait_for_job``, and the wait
of ``stop()`` for the running jobs to end.

Two conditions on the queue's lock, woken only when what they wait for may have happened: the
queue may have settled (nothing running, nothing whose callbacks are still to run, nothing
waiting that will run), or one job may have settled. A job is settled once the callbacks of its
new state have run (:meth:`Waiting.settled`), so a waiter never sees a state before its
callbacks did.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Optional, TypeVar

from ._job import DownloadJob, DownloadJobStatus, MultiFileDownloadJob

if TYPE_CHECKING:
    from ._queue import DownloadQueueService

AnyJob = TypeVar("AnyJob", DownloadJob, MultiFileDownloadJob)


class Waiting:
    """Waits for the queue, or one job, to settle; never polls."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service
        self._lock = service._lock
        # join() waits for "nothing active"; wait_for_job() for one job to settle. Both are
        # woken only when that may have happened, not on every change of every job.
        self._all_settled = threading.Condition(self._lock)
        self._job_settled = threading.Condition(self._lock)

    def join(self, timeout: Optional[float]) -> bool:
        service = self._service
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._all_settled:
            waiting = service._scheduler
            while (
                service._running or service._settling or (waiting.waiting and not service._stopped)
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._all_settled.wait(remaining)
        return True

    def wait_for_job(self, job: AnyJob, timeout: Optional[float]) -> AnyJob:
        service = self._service
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be 0 (no limit) or more")
        deadline = time.monotonic() + timeout if timeout else None
        if isinstance(job, MultiFileDownloadJob):
            with self._job_settled:
                while not service._packages.settled(job):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(f"job {job.id} did not finish within {timeout} s")
                    self._job_settled.wait(remaining)
            return job
        assert isinstance(job, DownloadJob)
        with self._job_settled:
            job = service._known(job)
            while (
                job.id in service._running
                or job.id in service._settling
                or (job.status == DownloadJobStatus.WAITING and not service._stopped)
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"job {job.id} did not finish within {timeout} s")
                self._job_settled.wait(remaining)
        return job

    def settled(self, job: DownloadJob) -> None:
        """The job's callbacks for its new state have run: now waiters may see it."""
        service = self._service
        with self._lock:
            service._settling.discard(job.id)
            self._job_settled.notify_all()
            idle = not service._running and not service._settling
            if idle and (service._stopped or not service._scheduler.waiting):
                self._all_settled.notify_all()

    def wake_all(self) -> None:
        """The queue stopped: waiting jobs will not run, so every waiter looks again (lock
        held)."""
        self._all_settled.notify_all()
        self._job_settled.notify_all()

    def running_ended(self, deadline: float, in_callback: bool) -> None:
        """Wait until ``deadline`` (``time.monotonic()``) at most for the running jobs to end
        and, unless called from a callback (which cannot wait for its own dispatcher), for
        their callbacks to run."""
        service = self._service
        with self._all_settled:
            while service._running or (service._settling and not in_callback):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._all_settled.wait(remaining)
