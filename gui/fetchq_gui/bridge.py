"""The bridge: job changes from worker threads become Qt signals handled on the GUI thread.

Worker threads never touch a widget. The queue calls the bridge's callbacks in the job's worker
thread; the bridge copies the job into an immutable :class:`JobSnapshot` and emits it. Qt queues
the signal to the bridge's thread (the GUI thread), where the model applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import QObject, Signal

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService, JobCallbacks

ACTIVE_STATUSES = frozenset({DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING})


@dataclass(frozen=True)
class JobSnapshot:
    """A job's state at one moment, safe to pass between threads."""

    id: int
    source: str
    name: str
    status: DownloadJobStatus
    bytes: int
    total: int
    priority: int
    added: Optional[str]
    dest: str
    download_path: Optional[str]
    error_type: Optional[str]
    attempts: int

    @classmethod
    def of(cls, job: DownloadJob) -> JobSnapshot:
        return cls(
            id=job.id,
            source=str(job.source),
            name=job.name,
            status=job.status,
            bytes=job.bytes,
            total=job.total_bytes,
            priority=job.priority,
            added=job.job_added,
            dest=str(job.dest),
            download_path=str(job.download_path) if job.download_path is not None else None,
            error_type=job.error_type,
            attempts=job.attempts,
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def finished(self) -> bool:
        return self.status in (DownloadJobStatus.COMPLETED, DownloadJobStatus.CANCELLED)

    @property
    def fraction(self) -> Optional[float]:
        """Done as a fraction of the total, None while the size is unknown."""
        if self.status == DownloadJobStatus.COMPLETED:
            return 1.0
        if self.total <= 0:
            return None
        return min(1.0, self.bytes / self.total)


class QueueBridge(QObject):
    """Attach to a queue with :meth:`attach`; connect to :attr:`job_changed` and friends."""

    job_changed = Signal(object)  # JobSnapshot, for every change a callback reports
    job_finished = Signal(object)  # JobSnapshot of a job that completed or failed

    def attach(self, queue: DownloadQueueService) -> None:
        """Become the queue's service-wide callbacks (jobs with their own keep theirs)."""
        queue.callbacks = JobCallbacks(
            on_start=self._changed,
            on_progress=self._changed,
            on_complete=self._finished,
            on_cancelled=self._changed,
            on_error=self._finished,
        )

    def _changed(self, job: DownloadJob) -> None:
        self.job_changed.emit(JobSnapshot.of(job))

    def _finished(self, job: DownloadJob) -> None:
        snapshot = JobSnapshot.of(job)
        self.job_changed.emit(snapshot)
        self.job_finished.emit(snapshot)
