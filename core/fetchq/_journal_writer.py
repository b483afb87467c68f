"""JournalWriter: the queue's changes on their way to its journal, and the thread that writes them.

API calls queue records while they hold the queue's lock and write them (``flush``) before they
return; workers' changes are group-committed by the writer thread within ~20 ms.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Iterable
from typing import Optional

from ._job import DownloadJob, DownloadJobBase, DownloadJobStatus, MultiFileDownloadJob
from ._journal import Journal, JournalChange, JournalRecord, stored_data, stored_link

logger = logging.getLogger("fetchq")

JOURNAL_COALESCE_SECONDS = 0.02


class JournalWriter:
    """Versions and queues each job's records, and writes them to ``journal`` (None: nowhere)."""

    def __init__(self, journal: Optional[Journal], resume_at_start: set[int]) -> None:
        self.journal = journal
        self.versions: dict[int, int] = {}
        self._resume_at_start = resume_at_start  # the queue's: paused by stop(), resumed by start()
        self._queue: collections.deque[JournalChange] = collections.deque()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()

    def start(self) -> None:
        threading.Thread(
            target=self._write_until_closed, name="fetchq-journal", daemon=True
        ).start()

    def record(self, job: DownloadJobBase) -> None:
        """Queue the job's current state for the journal (lock held). A multi-file job is
        written without its files: each is a record of its own, naming it (``package_id``)."""
        if self.journal is None:
            return
        version = self.versions.get(job.id, 0) + 1
        self.versions[job.id] = version
        if isinstance(job, MultiFileDownloadJob):
            data = job.model_dump_json(exclude={"download_parts"})
        else:
            assert isinstance(job, DownloadJob)
            finished = job.status == DownloadJobStatus.COMPLETED
            links = {"source": stored_link(str(job.source), finished)}
            if job.final_url is not None:
                links["final_url"] = stored_link(job.final_url, finished)
            data = stored_data(job.model_dump_json(), links)
        self._queue.append(
            JournalRecord(
                id=job.id,
                version=version,
                status=job.status.value,
                resume=job.id in self._resume_at_start,
                data=data,
            )
        )

    def forget(self, job_id: int) -> None:
        """Drop a job's version and queue its deletion from the journal (lock held)."""
        self.versions.pop(job_id, None)
        if self.journal is not None:
            self._queue.append(job_id)

    def delete(self, job_ids: Iterable[int]) -> None:
        """Queue the deletion of these jobs' records (lock held)."""
        self._queue.extend(job_ids)

    def soon(self) -> None:
        """Worker-side changes are group-committed by the writer thread within ~20 ms.

        Workers need not wait for the disk: a lost "completed" record costs nothing, since a
        restored job finds its identical file and completes without downloading.
        """
        if self.journal is not None and not self._wake.is_set():
            self._wake.set()  # already set: the writer has yet to clear it and flush

    def _write_until_closed(self) -> None:
        while not self._closing.is_set():
            self._wake.wait()
            self._wake.clear()
            self._closing.wait(JOURNAL_COALESCE_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Write every queued journal change now: API calls return only after this."""
        journal = self.journal
        if journal is not None and self._queue:
            self.flush_into(journal)

    def flush_into(self, journal: Journal) -> None:
        with self._flush_lock:
            changes: list[JournalChange] = []
            while self._queue:
                changes.append(self._queue.popleft())
            if changes:
                try:
                    journal.apply(changes)
                except Exception:
                    logger.exception("fetchq: cannot write the journal %s", journal.path)

    def close(self, journal: Journal) -> None:
        """Stop the writer thread, write what is queued and close ``journal`` (taken from
        :attr:`journal` under the queue's lock)."""
        self._closing.set()
        self._wake.set()
        self.flush_into(journal)
        journal.close()
