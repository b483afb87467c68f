"""History: the queue rebuilt from its journal at start, and the finished downloads the journal
keeps but memory does not (``history_in_memory``)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Optional, TypeVar

from pydantic import ValidationError

from ._dispatch import _Outbox
from ._events import call_safely
from ._exceptions import JournalCorruptError
from ._http import token_for
from ._job import TERMINAL_STATUSES, DownloadJob, DownloadJobStatus, MultiFileDownloadJob
from ._journal import JournalRecord, is_history
from ._segments import load_part_state

if TYPE_CHECKING:
    from ._queue import DownloadQueueService

_AnyJob = TypeVar("_AnyJob", DownloadJob, MultiFileDownloadJob)


class History:
    """Restores a queue from its journal, and pages through the history left in it."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service
        self.left_in_journal = 0  # finished downloads in the journal, not in memory

    def leave(self, records: Sequence[JournalRecord], keep: int) -> list[JournalRecord]:
        """The records to restore: all but the history (:func:`._journal.is_history`) older
        than the newest ``keep``, which stays in the journal (:meth:`search`)."""
        finished = [r.id for r in records if is_history(r)]
        left = set(sorted(finished)[: max(0, len(finished) - keep)])
        if records:
            service = self._service
            service._next_id = max(service._next_id, max(r.id for r in records) + 1)
        self.left_in_journal = len(left)
        return [r for r in records if r.id not in left]

    def search(self, search: str, offset: int, limit: int) -> list[DownloadJob]:
        """See :meth:`DownloadQueueService.history`."""
        service = self._service
        journal = service._writer.journal
        if journal is None:
            return []
        with service._lock:
            in_memory = set(service._jobs)
        records = journal.search_history(search, 0, offset + limit + len(in_memory))
        found = []
        for record in [r for r in records if r.id not in in_memory][offset : offset + limit]:
            try:
                job = DownloadJob.model_validate_json(record.data)
            except ValidationError:
                continue  # one unreadable record hides itself, not the rest
            job.id = record.id
            found.append(job)
        return found

    def forget(self, ids: Iterable[int]) -> None:
        """Remove finished downloads from the journal (and from the list, if there)."""
        service = self._service
        gone = list(ids)
        with service._lock:
            for job_id in gone:
                job = service._jobs.get(job_id)
                if job is not None and job.in_terminal_state:
                    service._control.forget(job)
            service._writer.delete(gone)
        service._writer.flush()

    def _restored(self, model: type[_AnyJob], record: JournalRecord) -> _AnyJob:
        """A job (or multi-file job) read back from its journal record, owned by this queue;
        an unreadable record is a corrupt journal."""
        service = self._service
        try:
            job = model.model_validate_json(record.data)
        except ValidationError as exc:
            raise JournalCorruptError(
                f"job {record.id} in the journal is unreadable: {exc}"
            ) from None
        job.id = record.id
        job._service = weakref.ref(service)
        service._writer.versions[job.id] = record.version
        service._next_id = max(service._next_id, job.id + 1)
        return job

    def restore(
        self,
        records: Sequence[JournalRecord],
        resume: bool,
        on_restore: Optional[Callable[[DownloadJob], None]],
    ) -> None:
        """Rebuild the queue from the journal: finished jobs listed, the others queued again.

        A multi-file job is rebuilt from its files' records; its status is what they add up to.
        """
        service = self._service
        requeue: list[DownloadJob] = []
        packages: dict[int, MultiFileDownloadJob] = {}
        for record in records:
            if '"source":' not in record.data:  # a multi-file job: its files follow
                package = self._restored(MultiFileDownloadJob, record)
                packages[package.id] = package
                continue
            job = self._restored(DownloadJob, record)
            job.access_token = token_for(str(job.source), service._token_rules)
            status = job.status
            if status not in TERMINAL_STATUSES and job.download_path is not None:
                state = load_part_state(job.download_path)
                if state is not None:
                    job.bytes = state.done.size()
                    job.total_bytes = state.total or job.total_bytes
                service._claims.claim(job.id, job.download_path)
            if on_restore is not None:
                call_safely(on_restore, job)
            service._jobs[job.id] = job
            service._outboxes[job.id] = _Outbox()
            if status == DownloadJobStatus.RUNNING or (
                status == DownloadJobStatus.PAUSED and record.resume
            ):
                status = DownloadJobStatus.WAITING
            if status == DownloadJobStatus.WAITING and not resume:
                status = DownloadJobStatus.PAUSED
            job.status = status
            if status == DownloadJobStatus.WAITING:
                job.status = DownloadJobStatus.PAUSED
                requeue.append(job)
            if job.job_sequence is not None:
                service._dequeues = max(service._dequeues, job.job_sequence + 1)
        with service._lock:
            for job in sorted(requeue, key=lambda j: (j.priority, j.id)):
                service._control.push(job)
                service._writer.record(job)
            for package in packages.values():
                service._packages.restore(package)
        service._writer.flush()
