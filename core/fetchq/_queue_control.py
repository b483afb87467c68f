"""QueueControl: the control part of :class:`DownloadQueueService`'s API, as a base class.

What a caller does to jobs already queued: cancel, pause, resume, retry, give a new link or a
login, change a priority, remove and prune. These are InvokeAI's methods (and fetchq's
additions) with their documentation; each hands the job to :class:`~._control.JobControl`,
which holds the transitions. No state of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from ._control import JobControl
from ._job import DownloadJob, DownloadJobBase, DownloadJobStatus
from ._service_base import DownloadQueueServiceBase
from ._submit import Cookies


class QueueControl(DownloadQueueServiceBase):
    """The control methods of a download queue, over its :class:`~._control.JobControl`."""

    _control: JobControl

    def cancel_job(self, job: DownloadJobBase) -> None:
        """Stop the job and delete its partial file; a finished job is left as it is.

        A multi-file job is cancelled as one: every file not finished yet."""
        self._control.cancel(job)

    def cancel_all_jobs(self) -> None:
        """Cancel every job that has not finished."""
        for job in self.list_jobs():
            if not job.in_terminal_state:
                self.cancel_job(job)

    def pause_job(self, job: DownloadJobBase) -> None:
        """Stop the job but keep its partial file; ``resume_job`` continues it."""
        self._control.pause(job)

    def pause_all_jobs(self) -> None:
        for job in self.list_jobs():
            if job.status in (DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING):
                self.pause_job(job)

    def resume_job(self, job: DownloadJobBase) -> None:
        """Put a paused job back in the queue; it continues from its partial file.

        Finished jobs stay finished: ``retry_job`` runs a failed or cancelled one again.
        """
        self._control.resume(job)

    def resume_all_jobs(self) -> None:
        for job in self.list_jobs():
            if job.status == DownloadJobStatus.PAUSED:
                self.resume_job(job)

    def retry_job(self, job: DownloadJobBase) -> None:
        """Run a failed or cancelled job again.

        A failed job kept its partial file (after a full disk, say), so it continues from there;
        a cancelled one starts from zero. A multi-file job runs its failed and cancelled files
        again; the finished ones stay.
        """
        self._control.retry(job)

    def change_source(
        self,
        job: DownloadJob,
        source: object,
        *,
        access_token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        cookies: Cookies = None,
        prove_whole_file: bool = False,
    ) -> DownloadJob:
        """Give a download that is not running a new link, and continue it.

        For a link that expired (``link_expired``) or failed. When the download has part of
        its file, the new link must serve that file: the same size and the same bytes where
        the part file has them (see :mod:`._relink`); otherwise this raises
        :class:`SourceMismatchError` and nothing changes. The job's token, headers and cookies
        stay with it only when the new link is on the same origin; pass new ones for another.
        Blocks for the checking requests: call it off a GUI thread.

        ``prove_whole_file`` is for a link that someone else chose (a web page): on another
        host it continues from the part file only when the whole file will be checked (see
        :func:`._relink.whole_file_checked`); else the download starts again from zero, with
        ``resume_message`` saying why. Two matching ends prove nothing of the bytes between.
        """
        return self._control.change_source(
            job, source, access_token, headers, cookies, prove_whole_file
        )

    def set_login(self, job: DownloadJob, username: str, password: str) -> None:
        """Give a download the login its server asked for (``job.auth_challenge``), and run
        it again. In the scheme the challenge names (Digest or Basic); sent to the source's
        origin only, kept in memory only (never in the journal)."""
        self._control.set_login(job, username, password)

    def set_priority(self, job: DownloadJobBase, priority: int) -> None:
        """Change a job's priority; a waiting job moves in the queue at once."""
        self._control.set_priority(job, priority)

    def remove_job(self, job: DownloadJobBase) -> None:
        """Take a job off the list (and the journal); an unfinished one is cancelled first.

        A multi-file job goes with its files (the files on disk stay)."""
        self._control.remove(job)

    def prune_jobs(self) -> None:
        """Remove completed, failed and cancelled jobs from the list and the journal.

        The files of a multi-file job go with it, when it has ended; not before."""
        self._control.prune()
