"""PackageTracker: multi-file jobs, whose status and callbacks add up those of their files.

Each file is an ordinary job of the queue (``package_id`` names its multi-file job); the tracker
adds up their events as they are queued, and delivers the multi-file job's own callbacks after
the file's.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Optional, Union

from ._dispatch import _EVENT_CALLBACKS, _Outbox
from ._events import ProgressThrottle, call_safely, takes_exception
from ._exceptions import (
    DownloadJobCancelledException,
    InvalidDestinationError,
    InvalidRequestError,
    ServiceInactiveException,
    UnknownJobIDException,
)
from ._job import DownloadJob, DownloadJobStatus, MultiFileDownloadJob, iso_now
from ._package import (
    package_download_path,
    package_status,
    part_destination,
    part_spec,
    totals,
)
from ._submit import build_job
from ._validation import prepare_destination, validate_token

if TYPE_CHECKING:
    import os

    from ._queue import DownloadQueueService


class _Package:
    """The queue's side of a multi-file job: what its files' events have added up to."""

    __slots__ = (
        "active",
        "cancelled",
        "failed",
        "failure",
        "follow_up",
        "job",
        "reported",
        "throttle",
    )

    def __init__(self, job: MultiFileDownloadJob) -> None:
        self.job = job
        self.throttle = ProgressThrottle()
        self.reported = -1  # the bytes the last progress callback carried
        self.failure: Optional[BaseException] = None  # the first file's error ends the job
        self.failed = False
        self.cancelled = False
        self.active = False  # a file started since the job was last queued
        self.follow_up = False  # the files still going must be cancelled


class PackageTracker:
    """The multi-file jobs of one queue (their files are the queue's jobs)."""

    def __init__(self, service: DownloadQueueService, outboxes: dict[int, _Outbox]) -> None:
        self._service = service
        self._lock = service._lock
        self._outboxes = outboxes
        self.tracked: dict[int, _Package] = {}  # by the multi-file job's id

    # -- making and queueing ----------------------------------------------------------------

    def build(
        self,
        parts: Iterable[object],
        dest: Union[str, os.PathLike[str]],
        access_token: Optional[str],
        priority: int,
        overwrite: bool,
    ) -> tuple[MultiFileDownloadJob, list[DownloadJob]]:
        """A multi-file job of ``parts`` under the folder ``dest`` and its files, checked, with
        no ids yet (:meth:`reserve`); see :meth:`DownloadQueueService.multifile_download`."""
        service = self._service
        specs = [part_spec(part) for part in parts]
        if not specs:
            raise InvalidRequestError("a multi-file job needs at least one file")
        root = prepare_destination(dest).resolve()
        if root.exists() and not root.is_dir():
            raise InvalidDestinationError(f"{root} is a file; a multi-file job needs a folder")
        access_token = validate_token(access_token)
        files: list[DownloadJob] = []
        for spec in specs:
            target = part_destination(root, spec.path)
            if spec.folder:
                try:
                    target.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise InvalidDestinationError(f"cannot create {target}: {exc}") from exc
            file = build_job(
                spec.url,
                target,
                priority,
                None,
                f"sha256:{spec.sha256.lower()}" if spec.sha256 else None,
                overwrite,
                None,
            )
            file.access_token = service._token(str(file.source), access_token)
            file.expected_total_bytes = spec.size
            file.total_bytes = spec.size or 0
            file.canonical_url = str(file.source)
            file.download_path = None if spec.folder else target
            files.append(file)
        package = MultiFileDownloadJob(
            dest=root,
            priority=priority,
            download_path=package_download_path(root, files[0].dest),
        )
        return package, files

    def reserve(self, package: MultiFileDownloadJob, files: list[DownloadJob]) -> None:
        """Give the job and its files their ids, kept for the files until they are queued."""
        service = self._service
        with self._lock:
            package.id = service._next_id
            for number, file in enumerate(files, start=1):
                file.id = service._next_id + number
                file.package_id = package.id
                service._reserved_ids.add(file.id)
            service._next_id += len(files) + 1
        package.download_parts = set(files)
        package._service = weakref.ref(service)

    def submit(self, job: MultiFileDownloadJob) -> None:
        """Queue a multi-file job and its files."""
        service = self._service
        if job.id < 0 or not job.download_parts:
            raise InvalidRequestError("submit a multi-file job made by multifile_download()")
        with self._lock:
            if job.id in self.tracked:
                raise ValueError(f"job {job.id} is already in this queue")
            if service._closed:
                raise ServiceInactiveException("this queue is closed and takes no more downloads")
            job._error_gets_exception = takes_exception(job.on_error)
            job.job_added = job.job_added or iso_now()
            job.status = DownloadJobStatus.WAITING
            self.tracked[job.id] = _Package(job)
            self._outboxes[job.id] = _Outbox()
            service._writer.record(job)
        try:
            service._submission.submit_all(job.parts)
        except BaseException:
            with self._lock:
                self.tracked.pop(job.id, None)
                self._outboxes.pop(job.id, None)
            raise

    def restore(self, package: MultiFileDownloadJob) -> None:
        """Attach a restored multi-file job's files, and add them up (lock held)."""
        service = self._service
        files = {job for job in service._jobs.values() if job.package_id == package.id}
        if not files:  # its files were never written: nothing to download, nothing to show
            service._writer.forget(package.id)
            return
        package.download_parts = files
        state = _Package(package)
        state.failed = package.status == DownloadJobStatus.ERROR
        state.cancelled = package.status == DownloadJobStatus.CANCELLED
        package.status = package_status(
            [job.status for job in files],
            failed=state.failed,
            cancelled=state.cancelled,
            active=False,
        )
        package.bytes, package.total_bytes = totals((job.bytes, job.total_bytes) for job in files)
        self.tracked[package.id] = state
        self._outboxes[package.id] = _Outbox()

    # -- control ----------------------------------------------------------------------------

    def of(self, job: MultiFileDownloadJob) -> _Package:
        with self._lock:
            package = self.tracked.get(job.id)
        if package is None or package.job is not job:
            raise UnknownJobIDException(f"no multi-file job with id {job.id}")
        return package

    def for_each_file(
        self,
        job: MultiFileDownloadJob,
        action: Callable[[DownloadJob], None],
        *,
        mark_cancelled: bool = False,
    ) -> None:
        """Apply a control to every file of a multi-file job (those the action does not fit
        ignore it: a finished file is not cancelled)."""
        package = self.of(job)
        if mark_cancelled:
            with self._lock:
                if not job.in_terminal_state:
                    package.cancelled = True
        for file in job.parts:
            with contextlib.suppress(UnknownJobIDException):  # a file pruned meanwhile
                action(file)
        with self._lock:
            self.refresh(package, None)
        self.deliver(job.id)
        self._service._writer.flush()

    def retry(self, job: MultiFileDownloadJob) -> None:
        package = self.of(job)
        with self._lock:
            if job.status not in (DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED):
                return
            package.failed = package.cancelled = False
            package.failure = None
            job.error_type = job.error = None
            job.cancelled = False
            job.job_ended = None
        self.for_each_file(job, self._service.retry_job)

    def settled(self, job: MultiFileDownloadJob) -> bool:
        """Whether a multi-file job is no longer waiting or running, its callbacks delivered
        (lock held)."""
        if job.status in (DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING):
            return False
        service = self._service
        return not any(
            file.id in service._running or file.id in service._settling
            for file in job.download_parts
        )

    def forget(self, job: MultiFileDownloadJob) -> None:
        """Drop a multi-file job and its files from memory and the journal (lock held)."""
        service = self._service
        self.tracked.pop(job.id, None)
        self._outboxes.pop(job.id, None)
        for file in job.download_parts:
            if service._jobs.get(file.id) is file:
                if file.in_terminal_state:
                    service._control.forget(file)
                else:  # cancelled a moment ago, still stopping: gone once it has
                    service._remove_when_done.add(file.id)
        service._writer.forget(job.id)

    # -- adding up ----------------------------------------------------------------------------

    def file_changed(self, file: DownloadJob, name: str, failure: Optional[BaseException]) -> None:
        """A file of a multi-file job changed: add it up (lock held)."""
        package = self.tracked.get(file.package_id) if file.package_id is not None else None
        if package is None:
            return
        job = package.job
        if name == "download_started":
            package.active = True
        elif name == "download_error" and not (package.failed or package.cancelled):
            package.failed = True
            package.failure = failure
            job.error_type, job.error = file.error_type, file.error
            package.follow_up = True  # the others are cancelled, as InvokeAI does
        elif name == "download_cancelled" and not (package.failed or package.cancelled):
            package.cancelled = True
            package.follow_up = True  # one file cancelled cancels the job
        self.refresh(package, name)

    def refresh_of(self, file: DownloadJob) -> None:
        """Recompute the multi-file job of ``file``, if it has one (lock held)."""
        package = self.tracked.get(file.package_id) if file.package_id is not None else None
        if package is not None:
            self.refresh(package, None)

    def refresh(self, package: _Package, name: Optional[str]) -> None:
        """Recompute a multi-file job from its files, and queue its callbacks (lock held)."""
        job = package.job
        files = job.download_parts
        job.bytes, job.total_bytes = totals((file.bytes, file.total_bytes) for file in files)
        status = package_status(
            [file.status for file in files],
            failed=package.failed,
            cancelled=package.cancelled,
            active=package.active,
        )
        before = job.status
        if status == before:
            if name == "download_progress" and status == DownloadJobStatus.RUNNING:
                now = time.monotonic()
                if package.throttle.due(now, job.bytes, job.total_bytes):
                    package.throttle.mark(now, job.bytes)
                    package.reported = job.bytes
                    self._queue(job, "download_progress")
            return
        job.status = status
        if status == DownloadJobStatus.RUNNING:
            job.job_started = iso_now()
            job.job_ended = None
            self._queue(job, "download_started")
        elif status == DownloadJobStatus.COMPLETED:
            job.job_ended = iso_now()
            if package.reported != job.bytes:
                self._queue(job, "download_progress")
            self._queue(job, "download_complete")
        elif status == DownloadJobStatus.ERROR:
            job.job_ended = iso_now()
            self._queue(job, "download_error", package.failure)
        elif status == DownloadJobStatus.CANCELLED:
            job.job_ended = iso_now()
            job.cancelled = True
            job.error_type = DownloadJobCancelledException.__name__
            self._queue(job, "download_cancelled")
        elif status == DownloadJobStatus.PAUSED:
            package.active = False
            self._queue(job, "download_paused")
        self._service._writer.record(job)

    def _queue(
        self, job: MultiFileDownloadJob, name: str, failure: Optional[BaseException] = None
    ) -> None:
        outbox = self._outboxes.get(job.id)
        if outbox is not None:
            outbox.items.append((name, None, failure))

    def deliver(self, package_id: int) -> None:
        """Deliver a multi-file job's callbacks (lock not held), then cancel what its files'
        failure or cancellation left going."""
        with self._lock:
            package = self.tracked.get(package_id)
            outbox = self._outboxes.get(package_id)
        if package is None or outbox is None:
            return
        job = package.job
        with outbox.lock:
            while outbox.items:
                name, _event, failure = outbox.items.popleft()
                handler_name = _EVENT_CALLBACKS.get(name)
                handler = getattr(job, handler_name) if handler_name is not None else None
                if handler is None:
                    continue
                if name == "download_error" and job._error_gets_exception:
                    call_safely(handler, job, failure)
                else:
                    call_safely(handler, job)
        with self._lock:
            follow_up, package.follow_up = package.follow_up, False
        if follow_up:
            for file in job.parts:
                if not file.in_terminal_state:
                    with contextlib.suppress(UnknownJobIDException):
                        self._service.cancel_job(file)
