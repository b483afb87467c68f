"""The bridge: job changes from worker threads become Qt signals handled on the GUI thread.

Worker threads never touch a widget. The queue calls the bridge's callbacks in the job's worker
thread; the bridge copies the job into an immutable :class:`JobSnapshot` and emits it. Qt queues
the signal to the bridge's thread (the GUI thread), where the model applies it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from fetchq import (
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    DownloadQueueService,
    JobCallbacks,
    MultiFileDownloadJob,
    UnknownJobIDException,
)

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
    package_id: Optional[int] = None
    """The multi-file job this file belongs to; its row is the package's, not the file's."""
    files: int = 0
    """For a multi-file job: how many files it has (0 for a single download)."""
    files_done: int = 0
    error: Optional[str] = None
    """The traceback of a failed job: for "Copy error details"."""
    already_downloaded: bool = False
    """Completed without fetching a byte: the same file was already there."""
    waiting_for: Optional[str] = None
    """While running: ``"bandwidth"`` or ``"connection"`` when it waits for one."""
    link_expired: bool = False
    """Paused because its link no longer serves the file: it waits for a new link."""
    auth_challenge: Optional[str] = None
    """Failed with a 401: the server's ``WWW-Authenticate``, for the login dialog."""
    category: Optional[str] = None
    """The category its file went into (Video, Music, ...), once the server named it."""
    group: Optional[str] = None
    """The named queue it waits in."""

    @classmethod
    def of(cls, job: DownloadJob, root: Optional[Path] = None) -> JobSnapshot:
        """``root``: for a file of a multi-file job, the folder the job makes; the file is named by
        its path under it (``unet/config.json``, not ``config.json`` twice)."""
        name = job.name
        if root is not None and job.download_path is not None:
            with contextlib.suppress(ValueError):
                name = job.download_path.relative_to(root).as_posix()
        return cls(
            **_common(job),
            source=str(job.source),
            name=name,
            attempts=job.attempts,
            package_id=job.package_id,
            already_downloaded=job.already_downloaded,
            waiting_for=job.waiting_for,
            link_expired=job.link_expired,
            auth_challenge=job.auth_challenge,
            category=job.category,
            group=job.group,
        )

    @classmethod
    def of_package(cls, job: MultiFileDownloadJob) -> JobSnapshot:
        files = job.parts
        return cls(
            **_common(job),
            source="\n".join(str(file.source) for file in files),
            name=job.name,
            attempts=sum(file.attempts for file in files),
            files=len(files),
            files_done=sum(1 for file in files if file.status == DownloadJobStatus.COMPLETED),
        )

    @property
    def is_package(self) -> bool:
        return self.files > 0

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def finished(self) -> bool:
        return self.status in (DownloadJobStatus.COMPLETED, DownloadJobStatus.CANCELLED)

    @property
    def kept_bytes(self) -> int:
        """Bytes kept on disk: none once cancelled (the partial file is deleted), whatever
        had arrived before."""
        return 0 if self.status == DownloadJobStatus.CANCELLED else self.bytes

    @property
    def fraction(self) -> Optional[float]:
        """Done as a fraction of the total, None while the size is unknown or when nothing
        is kept (cancelled)."""
        if self.status == DownloadJobStatus.COMPLETED:
            return 1.0
        if self.total <= 0 or self.status == DownloadJobStatus.CANCELLED:
            return None
        return min(1.0, self.bytes / self.total)


def _common(job: DownloadJobBase) -> dict[str, Any]:
    """The snapshot fields every job has, one file or many."""
    return {
        "id": job.id,
        "status": job.status,
        "bytes": job.bytes,
        "total": job.total_bytes,
        "priority": job.priority,
        "added": job.job_added,
        "dest": str(job.dest),
        "download_path": str(job.download_path) if job.download_path is not None else None,
        "error_type": job.error_type,
        "error": job.error,
    }


class QueueBridge(QObject):
    """Attach to a queue with :meth:`attach`; connect to :attr:`job_changed` and friends.

    A file of a multi-file job reports itself and its package: the package's snapshot follows
    each of its files' changes, and only the package's end is a finished job (a model of
    twenty files makes one notification, not twenty).
    """

    job_changed = Signal(object)  # JobSnapshot, for every change a callback reports
    job_finished = Signal(object)  # JobSnapshot of a job that completed or failed

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._queue: Optional[DownloadQueueService] = None
        self._finished_packages: set[int] = set()
        self._lock = threading.Lock()

    def attach(self, queue: DownloadQueueService) -> None:
        """Become the queue's service-wide callbacks (jobs with their own keep theirs)."""
        self._queue = queue
        queue.callbacks = JobCallbacks(
            on_start=self._changed,
            on_progress=self._changed,
            on_complete=self._finished,
            on_cancelled=self._changed,
            on_error=self._finished,
            on_running=self._changed,
        )

    def _changed(self, job: DownloadJob) -> None:
        if job.package_id is None:
            self.job_changed.emit(JobSnapshot.of(job))
        else:
            self._file_changed(job, job.package_id)

    def _finished(self, job: DownloadJob) -> None:
        if job.package_id is None:
            snapshot = JobSnapshot.of(job)
            self.job_changed.emit(snapshot)
            self.job_finished.emit(snapshot)
        else:
            self._file_changed(job, job.package_id)

    def _file_changed(self, job: DownloadJob, package_id: int) -> None:
        if self._queue is None:
            return
        try:
            package = self._queue.id_to_multifile_job(package_id)
        except UnknownJobIDException:
            self.job_changed.emit(JobSnapshot.of(job))
            return
        self.job_changed.emit(JobSnapshot.of(job, package.download_path))
        snapshot = JobSnapshot.of_package(package)
        self.job_changed.emit(snapshot)
        ended = snapshot.status in (DownloadJobStatus.COMPLETED, DownloadJobStatus.ERROR)
        package_id = package.id
        with self._lock:
            if not ended:
                self._finished_packages.discard(package_id)  # retried: may end again
                return
            if package_id in self._finished_packages:
                return
            self._finished_packages.add(package_id)
        self.job_finished.emit(snapshot)
