"""DownloadQueueServiceBase: the abstract API the reference page names, for type hints and
for code that subclasses or registers services by their base (as InvokeAI's does)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Optional

from ._job import DownloadJob, DownloadJobBase, MultiFileDownloadJob


class DownloadQueueServiceBase(ABC):
    """A multithreaded queue for downloads by URL. :class:`DownloadQueueService` is one."""

    @abstractmethod
    def start(self, *args: Any, **kwargs: Any) -> None:
        """Start the download worker threads."""

    @abstractmethod
    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Stop the download worker threads."""

    @abstractmethod
    def download(self, source: Any, dest: Any, *args: Any, **kwargs: Any) -> DownloadJob:
        """Create and queue a download job."""

    @abstractmethod
    def multifile_download(
        self, parts: Any, dest: Any, *args: Any, **kwargs: Any
    ) -> MultiFileDownloadJob:
        """Create (and by default queue) a job of several files."""

    @abstractmethod
    def submit_multifile_download(self, job: MultiFileDownloadJob) -> None:
        """Queue a multi-file job created with ``submit_job=False``."""

    @abstractmethod
    def submit_download_job(self, job: DownloadJob, *args: Any, **kwargs: Any) -> None:
        """Queue a download job built by the caller."""

    @abstractmethod
    def list_jobs(self) -> list[DownloadJob]:
        """Every download job."""

    @abstractmethod
    def id_to_job(self, id: int) -> DownloadJob:
        """The job with this id; UnknownJobIDException if there is none."""

    @abstractmethod
    def cancel_all_jobs(self) -> None:
        """Cancel every job not finished."""

    @abstractmethod
    def prune_jobs(self) -> None:
        """Remove finished jobs from the list."""

    @abstractmethod
    def cancel_job(self, job: DownloadJobBase) -> None:
        """Cancel the job, deleting its partial download."""

    @abstractmethod
    def pause_job(self, job: DownloadJobBase) -> None:
        """Pause the job, keeping its partial download."""

    @abstractmethod
    def join(self) -> Any:
        """Wait until no job is waiting or running."""

    @abstractmethod
    def wait_for_job(self, job: Any, timeout: Optional[float] = 0) -> Any:
        """Wait until the job has ended (or paused); ``timeout`` 0 waits as long as it takes."""
