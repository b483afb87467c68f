"""JobControl: what cancel, pause, resume, retry, a new link, a login, a priority or removal
does to a job of the queue (the bodies of :class:`DownloadQueueService`'s control methods)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ._abort import AbortReason
from ._exceptions import DownloadJobCancelledException, InvalidRequestError
from ._http import Login, OriginSecrets, origin_of
from ._job import DownloadJob, DownloadJobBase, DownloadJobStatus, MultiFileDownloadJob, iso_now
from ._relink import restart_reason, verify_new_link
from ._segments import load_part_state, remove_partial, save_part_state
from ._submit import Cookies
from ._validation import (
    validate_cookies,
    validate_headers,
    validate_login,
    validate_source,
    validate_token,
)

if TYPE_CHECKING:
    from ._queue import DownloadQueueService


class JobControl:
    """One job's transitions, applied under the queue's lock; callbacks delivered after it."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service
        self._lock = service._lock

    # -- commands ---------------------------------------------------------------------------

    def cancel(self, job: DownloadJobBase) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            service._packages.for_each_file(job, service.cancel_job, mark_cancelled=True)
            return
        assert isinstance(job, DownloadJob)
        removal: Optional[Path] = None
        with self._lock:
            job = service._known(job)
            if job.in_terminal_state:
                return
            running = service._running.get(job.id)
            if running is not None:
                running.resume_after_pause = False
                running.signal.abort(AbortReason.CANCEL)
                return
            self.end_cancelled(job)
            service._settling.add(job.id)
            removal = job.download_path
        if removal is not None:
            remove_partial(removal)
        with self._lock:
            service._claims.release(job.id)
            self.forget_if_removed(job)
        service._dispatch.deliver(job)
        service._waiting.settled(job)
        service._writer.flush()

    def pause(self, job: DownloadJobBase) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            service._packages.for_each_file(job, service.pause_job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = service._known(job)
            if job.status == DownloadJobStatus.WAITING:
                self.set_status(job, DownloadJobStatus.PAUSED)
                service._dispatch.queue_event(job, "download_paused")
                service._writer.record(job)
                service._settling.add(job.id)
            elif job.status == DownloadJobStatus.RUNNING:
                running = service._running[job.id]
                running.resume_after_pause = False
                running.signal.abort(AbortReason.PAUSE)
                return
            else:
                return
        service._dispatch.deliver(job)
        service._waiting.settled(job)
        service._writer.flush()

    def resume(self, job: DownloadJobBase) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            service._packages.for_each_file(job, service.resume_job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = service._known(job)
            if job.status == DownloadJobStatus.PAUSED:
                self.requeue(job)
            elif job.status == DownloadJobStatus.RUNNING:
                running = service._running[job.id]
                if running.signal.reason in (AbortReason.PAUSE, AbortReason.STOP):
                    running.resume_after_pause = True
                return
            else:
                return
        service._writer.flush()

    def retry(self, job: DownloadJobBase) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            service._packages.retry(job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = service._known(job)
            if job.status not in (DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED):
                return
            self.requeue(job)
        service._writer.flush()

    def change_source(
        self,
        job: DownloadJob,
        source: object,
        access_token: Optional[str],
        headers: Optional[Mapping[str, str]],
        cookies: Cookies,
        prove_whole_file: bool,
    ) -> DownloadJob:
        service = self._service
        text = validate_source(source)
        token, extra, cookie = (
            validate_token(access_token),
            validate_headers(headers),
            validate_cookies(cookies),
        )
        with self._lock:
            job = service._known(job)
            if job.status in (DownloadJobStatus.RUNNING, DownloadJobStatus.WAITING):
                raise InvalidRequestError("pause the download before changing its link")
            if job.status == DownloadJobStatus.COMPLETED:
                raise InvalidRequestError("the download is complete: there is nothing to change")
            same_origin = origin_of(text) == origin_of(job.canonical_url or str(job.source))
            if same_origin:
                token = token or job.access_token
                extra = extra or dict(job.headers)
                cookie = cookie or job.cookies
            path = job.download_path
        state = load_part_state(path) if path is not None else None
        secrets = OriginSecrets.of(service._token(text, token), extra, cookie)
        restart = None
        if state is not None and path is not None and state.done:
            checked = verify_new_link(service._client, text, secrets, path, state)
            restart = (
                None
                if not prove_whole_file
                else restart_reason(
                    job.canonical_url or str(job.source),
                    text,
                    job.checksum,
                    state.etag or job.etag,
                    checked.etag,
                )
            )
            if restart is None:
                save_part_state(path, checked)
                state = checked
            else:
                remove_partial(path)
                state = None
        with self._lock:
            job.source = DownloadJob.model_validate({"source": text, "dest": job.dest}).source
            job.canonical_url = None
            job.final_url = None
            job.access_token, job.headers, job.cookies = token, extra, cookie
            job.etag = state.etag if state is not None else None
            job.last_modified = state.last_modified if state is not None else None
            job.link_expired = False
            job.resume_message = restart
            if restart is not None:
                job.bytes = 0
            self.requeue(job)  # paused, failed or cancelled: it runs again with the new link
        service._writer.flush()
        return job

    def set_login(self, job: DownloadJob, username: str, password: str) -> None:
        service = self._service
        login = validate_login((username, password))
        assert login is not None
        with self._lock:
            job = service._known(job)
            job.login = Login.for_challenge(login.username, login.password, job.auth_challenge)
            job.auth_challenge = None
            if job.status in (DownloadJobStatus.ERROR, DownloadJobStatus.PAUSED):
                self.requeue(job)
        service._writer.flush()

    def set_priority(self, job: DownloadJobBase, priority: int) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            with self._lock:
                job.priority = priority
                service._writer.record(job)
            service._packages.for_each_file(job, lambda file: service.set_priority(file, priority))
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = service._known(job)
            if job.priority == priority:
                return
            job.priority = priority
            if job.status == DownloadJobStatus.WAITING:
                self.push(job)
            service._writer.record(job)
        service._writer.flush()

    def remove(self, job: DownloadJobBase) -> None:
        service = self._service
        if isinstance(job, MultiFileDownloadJob):
            service.cancel_job(job)
            with self._lock:
                service._packages.forget(job)
            service._writer.flush()
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = service._known(job)
            service._remove_when_done.add(job.id)
            terminal = job.in_terminal_state
            if terminal:
                self.forget_if_removed(job)
        if terminal:
            service._writer.flush()
        else:
            service.cancel_job(job)

    def prune(self) -> None:
        service = self._service
        with self._lock:
            for package in list(service._packages.tracked.values()):
                if package.job.in_terminal_state and service._packages.settled(package.job):
                    service._packages.forget(package.job)
            for job in [job for job in service._jobs.values() if job.in_terminal_state]:
                if job.package_id is None:
                    self.forget(job)
            kept = set(service._jobs)
        service._writer.flush()
        journal = service._writer.journal
        if journal is not None and service._history.left_in_journal:
            journal.delete_history(kept)  # the history not in memory goes too
            service._history.left_in_journal = 0

    # -- transitions (lock held) ------------------------------------------------------------

    def set_status(self, job: DownloadJob, status: DownloadJobStatus) -> None:
        if job.status == DownloadJobStatus.WAITING and status != DownloadJobStatus.WAITING:
            self._service._scheduler.discard(job.id)
        job.status = status

    def push(self, job: DownloadJob) -> None:
        """Queue a job to run (again); it waits from now on."""
        job.status = DownloadJobStatus.WAITING
        self._service._scheduler.enqueue(job)
        self._service._runner.kick()

    def requeue(self, job: DownloadJob) -> None:
        service = self._service
        job.error_type = None
        job.error = None
        job.job_ended = None
        if job.resume_required:  # the server would refuse the partial file again
            job.resume_required = False
            service._start_over[job.id] = True
        if job.link_expired:  # resumed as it is: maybe the server refused for a moment
            job.link_expired = False
            job.resume_message = None
        if job.status == DownloadJobStatus.CANCELLED:
            job.cancelled = False
            job.bytes = 0
        self.push(job)
        service._writer.record(job)
        service._packages.refresh_of(job)

    def end_cancelled(self, job: DownloadJob) -> None:
        job.cancelled = True
        job.error_type = DownloadJobCancelledException.__name__
        job.error = None
        job.job_ended = job.job_ended or iso_now()
        self.set_status(job, DownloadJobStatus.CANCELLED)
        self._service._dispatch.queue_event(job, "download_cancelled")
        self._service._writer.record(job)

    def forget(self, job: DownloadJob) -> None:
        """Drop a finished job from memory and the journal (lock held)."""
        service = self._service
        service._jobs.pop(job.id, None)
        service._outboxes.pop(job.id, None)
        service._remove_when_done.discard(job.id)
        service._claims.release(job.id)
        service._writer.forget(job.id)

    def forget_if_removed(self, job: DownloadJob) -> None:
        if job.id in self._service._remove_when_done and job.in_terminal_state:
            self.forget(job)
