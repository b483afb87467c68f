"""Lifecycle: the queue's life from its journal to its close (the bodies of
:class:`DownloadQueueService`'s ``__init__`` journal step, ``start``, ``stop`` and ``close``).

A queue made with a journal restores it before it runs; ``stop()`` pauses the running jobs,
keeping their part files, and remembers them for ``start()``; ``close()`` also ends the engine's
and the dispatcher's threads and releases the journal. The flags themselves (``_stopped``,
``_closed``) stay on the service, which every component reads under its lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional, Union

from ._abort import AbortReason
from ._job import DownloadJob, DownloadJobStatus
from ._journal import Journal

if TYPE_CHECKING:
    from ._queue import DownloadQueueService

STOP_GRACE_SECONDS = 5.0
"""How long ``stop()`` waits for running jobs to end before it returns anyway."""


class Lifecycle:
    """Opens the queue's journal, starts, stops and closes the queue."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service

    def open_journal(
        self,
        path: Union[str, os.PathLike[str]],
        history_in_memory: Optional[int],
        resume_restored: bool,
        on_restore: Optional[Callable[[DownloadJob], None]],
    ) -> None:
        """Restore the jobs of the journal at ``path`` and write to it from now on."""
        service = self._service
        writer = service._writer
        writer.journal = Journal(path)
        try:
            records = writer.journal.load()
            if history_in_memory is not None:
                records = service._history.leave(records, history_in_memory)
            service._history.restore(records, resume_restored, on_restore)
        except BaseException:
            writer.journal.close()
            raise
        writer.start()

    def start(self) -> None:
        service = self._service
        with service._lock:
            if not service._stopped:
                return
            if service._closed:
                raise RuntimeError("this queue is closed")
            service._stopped = False
            for job_id in sorted(service._resume_at_start):
                job = service._jobs.get(job_id)
                if job is not None and job.status == DownloadJobStatus.PAUSED:
                    service._control.requeue(job)
            service._resume_at_start.clear()
        service._runner.kick()
        service._writer.flush()

    def stop(self) -> None:
        service = self._service
        with service._lock:
            if service._stopped:
                return
            service._stopped = True
            for running in service._running.values():
                running.signal.abort(AbortReason.STOP)
            service._waiting.wake_all()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        in_callback = service._dispatch.on_thread  # its own callbacks cannot be waited for
        service._waiting.running_ended(deadline, in_callback)
        service._client.close_idle()
        service._writer.flush()

    def close(self) -> None:
        """After ``stop()``: end the engine's threads and release the journal."""
        service = self._service
        with service._lock:
            already, service._closed = service._closed, True
            journal, service._writer.journal = service._writer.journal, None
        if not already:
            service._runner.close()
            service._dispatch.close()
        if journal is not None:
            service._writer.close(journal)
