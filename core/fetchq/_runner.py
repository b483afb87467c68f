"""The queue's engine side: which waiting jobs start, their transfers as tasks, how each ends.

Everything here runs on the engine thread (:mod:`._engine`) but :meth:`Runner.kick`, which any
thread calls when a job may start (one was queued, a limit was raised, the queue resumed).
Admission takes the lowest priority first up to ``max_parallel_dl`` (and the named queues'
limits); each job's :class:`~._transfer.Transfer` runs as a task beside every other; its end is
recorded under the queue's lock, and its callbacks go to the dispatcher thread, never run here.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ._abort import AbortReason, AbortSignal, TransferAborted
from ._destination import part_file_left
from ._engine import Engine
from ._events import ProgressThrottle
from ._exceptions import LinkExpiredError, ResumeRequired, describe_error
from ._job import DownloadJob, DownloadJobStatus, iso_now
from ._steps import Steps, Task
from ._transfer import Transfer, TransferOutcome, TransferRequest

if TYPE_CHECKING:
    from ._queue import DownloadQueueService

logger = logging.getLogger("fetchq")


class RunningJob:
    """The queue's side of a running job: what its transfer reports to and borrows."""

    def __init__(self, service: DownloadQueueService, job: DownloadJob) -> None:
        self.service = service
        self.job = job
        self.signal = AbortSignal()
        self.limiter = service._limiter
        self.host_slots = service._host_slots
        self.trials = service._host_trials
        self.throttle = ProgressThrottle()
        self.resume_after_pause = False
        self.started = time.monotonic()
        self.announced = False  # download_started sent: the server answered with the file
        self.start_over = service._start_over.pop(job.id, False)
        self.reported = -1  # the bytes the last progress event carried

    def spawn(self, steps: Steps[Any]) -> Task:
        return self.service._runner.engine.start_task(steps)

    def claim(self, path: Path) -> bool:
        return self.service._claims.claim(self.job.id, path)

    def unclaim(self, path: Path) -> None:
        self.service._claims.unclaim(self.job.id, path)

    def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
        self.service._runner.set_target(self.job, path, total, content_type)

    def count(self, done: int, total: Optional[int]) -> None:
        job = self.job
        job.bytes = done
        if total:
            job.total_bytes = total

    def progress(self, done: int, total: Optional[int]) -> None:
        self.count(done, total)
        job = self.job
        now = time.monotonic()
        if self.throttle.due(now, done, total or 0):
            self.throttle.mark(now, done)
            self.reported = done
            self.service._dispatch.post(job, "download_progress")

    def attempt_started(self) -> None:
        self.job.attempts += 1

    def categorized(self, category: str) -> None:
        self.job.category = category

    def challenged(self, challenge: str) -> None:
        self.job.auth_challenge = challenge[:500] or "Basic"

    def answered(self, final_url: str, etag: Optional[str], last_modified: Optional[str]) -> None:
        job = self.job
        job.final_url = final_url
        job.etag = etag or job.etag
        job.last_modified = last_modified or job.last_modified

    def started_over(self, message: str) -> None:
        self.job.resume_from_scratch = True
        self.job.resume_message = message

    def waiting(self, reason: Optional[str]) -> None:
        if self.job.waiting_for != reason:
            self.job.waiting_for = reason
            self.service._dispatch.post(self.job, "download_waiting")

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None:
        self.service._dispatch.post(
            self.job,
            "download_retry",
            attempt=attempt,
            delay=delay,
            error_type=describe_error(error),
        )


class Runner:
    """Starts waiting jobs on the engine and ends them; owns the engine thread."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service
        self.engine = Engine()
        self._kicked = False
        self.engine.start()
        self.engine.turn_hooks.append(service._dispatch.batch_for(self.engine.thread))

    def kick(self) -> None:
        """A waiting job may be able to start now (any thread)."""
        if not self._kicked:
            self._kicked = True
            self.engine.call_soon(self._admit)

    def close(self) -> None:
        self.engine.stop(10)

    # -- the engine thread ----------------------------------------------------------------------

    def _admit(self) -> None:
        """Start the waiting jobs that may run now, lowest priority value first."""
        self._kicked = False
        service = self._service
        started = []
        with service._lock:
            scheduler = service._scheduler
            while (
                scheduler
                and not service._stopped
                and not service._rules.held
                and len(service._running) < service._rules.max_parallel
            ):
                job = scheduler.pop(service._rules.blocked if service._rules.groups else None)
                if job is None:
                    break
                started.append((job, self._start_job(job)))
        for job, running in started:
            service._dispatch.deliver_later(job)
            try:
                self._launch(job, running)
            except Exception as exc:  # no job may take the engine (and join()) with it
                self.salvage(job, exc)
                self.kick()  # its place is free again

    def _start_job(self, job: DownloadJob) -> RunningJob:
        service = self._service
        service._control.set_status(job, DownloadJobStatus.RUNNING)
        job.job_sequence = service._dequeues
        service._dequeues += 1
        job.job_started = iso_now()
        job.job_ended = None
        job.already_downloaded = False
        running = RunningJob(service, job)
        service._running[job.id] = running
        # download_started waits for the server's answer (set_target): a 404 gives an error
        # event alone, and the started event carries the download path, as InvokeAI's does.
        service._dispatch.queue_event(job, "download_running")
        # Not journaled: a restored job that was running is queued again like a waiting one,
        # and its start time is written with its next change.
        return running

    def _launch(self, job: DownloadJob, running: RunningJob) -> None:
        service = self._service
        checksum = None
        if job.checksum:
            algorithm, _, expected = job.checksum.partition(":")
            checksum = (algorithm, expected)
        source = job.canonical_url or str(job.source)
        request = TransferRequest(
            job_id=job.id,
            source=source,
            dest=job.dest,
            download_path=job.download_path,
            secrets=service._secrets(source, job),
            checksum=checksum,
            overwrite=job.overwrite,
            max_connections=job.max_connections or service._rules.max_connections,
            expected_total=job.expected_total_bytes,
            etag=job.etag,
            last_modified=job.last_modified,
            content_type=job.content_type,
            categories=service.categories if job.by_category else (),
            start_over=running.start_over,
        )
        service._writer.soon()
        transfer = Transfer(request, service._client, service._settings, running)
        self.engine.start_task(transfer.steps(), lambda task: self._ended(job, running, task))

    def _ended(self, job: DownloadJob, running: RunningJob, task: Task) -> None:
        failure = task.error
        failure_text = ""
        if failure is not None and not isinstance(failure, TransferAborted):
            failure_text = "".join(
                traceback.format_exception(type(failure), failure, failure.__traceback__)
            )
            if not isinstance(failure, Exception):
                logger.error("fetchq: job %s stopped by %r", job.id, failure)
        try:
            self._service._finish_job(job, running, task.result, failure, failure_text)
        except Exception as exc:
            self.salvage(job, exc)
        self._admit()

    def finish_job(
        self,
        job: DownloadJob,
        running: RunningJob,
        outcome: Optional[TransferOutcome],
        failure: Optional[BaseException],
        failure_text: str,
    ) -> None:
        """Record how the job's transfer ended, and have its callbacks delivered."""
        service = self._service
        control, dispatch = service._control, service._dispatch
        with service._lock:
            del service._running[job.id]
            service._settling.add(job.id)
            job.job_ended = iso_now()
            job.waiting_for = None
            if failure is None:
                assert outcome is not None
                job.already_downloaded = outcome.reused_existing
                job.download_path = outcome.download_path
                job.bytes = outcome.size
                # total_bytes is the size the server announced: 0 when it never said.
                job.total_bytes = outcome.size if outcome.size_announced else 0
                dispatch.announce(job, running)
                if running.reported != job.bytes:  # the last bytes need a progress event
                    dispatch.queue_event(job, "download_progress")
                control.set_status(job, DownloadJobStatus.COMPLETED)
                dispatch.queue_event(job, "download_complete")
            elif isinstance(failure, (LinkExpiredError, ResumeRequired)):
                if isinstance(failure, LinkExpiredError):
                    job.link_expired = True
                else:
                    job.resume_required = True
                job.resume_message = str(failure)
                control.set_status(job, DownloadJobStatus.PAUSED)
                dispatch.queue_event(job, "download_paused")
            elif isinstance(failure, TransferAborted):
                if failure.reason is AbortReason.CANCEL:
                    control.end_cancelled(job)
                else:
                    control.set_status(job, DownloadJobStatus.PAUSED)
                    dispatch.queue_event(job, "download_paused")
                    if running.resume_after_pause and not service._stopped:
                        control.requeue(job)
                    elif failure.reason is AbortReason.STOP:
                        service._resume_at_start.add(job.id)
            else:
                job.error_type = describe_error(failure)
                job.error = failure_text or job.error_type
                control.set_status(job, DownloadJobStatus.ERROR)
                dispatch.queue_event(job, "download_error", failure)
            if job.in_terminal_state:
                service._claims.release(job.id)
            if job.download_path is not None and job.status != DownloadJobStatus.COMPLETED:
                part_file_left(job.download_path)
            service._writer.record(job)
            control.forget_if_removed(job)
        dispatch.deliver_later(job, lambda: service._waiting.settled(job))

    def salvage(self, job: DownloadJob, exc: BaseException) -> None:
        """Something failed around a job's transfer (a bug, the journal): end the job in error
        with what happened, and go on with the others."""
        logger.error("fetchq: job %s failed outside its transfer", job.id, exc_info=exc)
        service = self._service
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with service._lock:
            service._running.pop(job.id, None)
            service._settling.add(job.id)
            if not job.in_terminal_state:
                job.error_type = describe_error(exc)
                job.error = text
                job.job_ended = iso_now()
                service._control.set_status(job, DownloadJobStatus.ERROR)
                try:
                    service._dispatch.queue_event(job, "download_error", exc)
                except Exception:
                    logger.exception("fetchq: job %s: no error event", job.id)
            service._claims.release(job.id)
            try:
                service._writer.record(job)
            except Exception:
                logger.exception("fetchq: job %s: not journaled", job.id)
        service._dispatch.deliver_later(job, lambda: service._waiting.settled(job))

    def set_target(
        self, job: DownloadJob, path: Path, total: Optional[int], content_type: Optional[str]
    ) -> None:
        """The transfer named the file (and maybe its size and type)."""
        service = self._service
        with service._lock:
            changed = job.download_path != path
            job.download_path = path
            if total:
                job.total_bytes = job.expected_total_bytes = total
            if content_type:
                job.content_type = content_type
            running = service._running.get(job.id)
            announce = running is not None and not running.announced
            if running is not None:
                service._dispatch.announce(job, running)
            # The journal needs the path of a download it may have to resume: one that writes a
            # sidecar. A small one is done in a moment, and its final record carries the path.
            resumable = total is None or total >= service._settings.lazy_sidecar_below
            if changed and resumable:
                service._writer.record(job)
        if changed and resumable:
            service._writer.soon()
        if announce:
            service._dispatch.deliver_later(job)
