"""EventDispatcher: each job's callbacks and bus events, delivered in the order its state changed.

State changes queue their callbacks and events in a per-job outbox while the queue's lock is
held; whichever thread drains the outbox delivers them in order (never under that lock). The
engine thread never does: it hands the job to the dispatcher (:meth:`deliver_later`,
:mod:`._deliveries`), so a slow callback never holds up a byte.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ._deliveries import Deliveries
from ._events import call_safely, make_event, publish, takes_exception
from ._job import DownloadEventHandler, DownloadJob, ErrorHandler

logger = logging.getLogger("fetchq")

if TYPE_CHECKING:
    from ._journal_writer import JournalWriter
    from ._packages import PackageTracker
    from ._runner import RunningJob


@dataclass(frozen=True)
class JobCallbacks:
    """Service-wide callbacks, used for every job (restored ones too) that has none of its own."""

    on_start: Optional[DownloadEventHandler] = None
    on_progress: Optional[DownloadEventHandler] = None
    on_complete: Optional[DownloadEventHandler] = None
    on_cancelled: Optional[DownloadEventHandler] = None
    on_error: Optional[ErrorHandler] = None
    on_running: Optional[DownloadEventHandler] = None
    """A worker took the job and is connecting; ``on_start`` follows when the server answers
    with the file. Also called when a running job starts or stops waiting for bandwidth or a
    connection (``job.waiting_for``). Service-wide only: the reference API has no such
    callback."""


_EVENT_CALLBACKS = {
    "download_started": "on_start",
    "download_progress": "on_progress",
    "download_complete": "on_complete",
    "download_cancelled": "on_cancelled",
    "download_paused": "on_cancelled",  # InvokeAI calls on_cancelled on a pause (status PAUSED)
    "download_error": "on_error",
}
_CALLBACK_ONLY = frozenset({"download_running", "download_waiting"})
"""Events that reach the service-wide callbacks, never a job's callbacks or the bus."""
_THEN = "then"
"""An outbox item that is a call to make once the items before it are delivered."""


class _Outbox:
    """A job's undelivered callbacks and events, delivered in order by whoever drains it."""

    __slots__ = ("items", "lock")

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.lock = threading.Lock()


class EventDispatcher:
    """Queues (lock held) and delivers (lock not held) the callbacks and bus events of jobs."""

    def __init__(
        self,
        lock: threading.Lock,
        outboxes: dict[int, _Outbox],
        event_bus: Optional[object],
        callbacks: JobCallbacks,
        packages: PackageTracker,
        writer: JournalWriter,
    ) -> None:
        self._lock = lock
        self._outboxes = outboxes
        self.event_bus = event_bus
        self._emits_per_job = hasattr(event_bus, "emit_download_started")
        self.callbacks = callbacks
        self.error_gets_exception = takes_exception(callbacks.on_error)
        self._packages = packages
        self._writer = writer
        self._deliveries = Deliveries()

    def deliver_later(self, job: DownloadJob, then: Optional[Callable[[], None]] = None) -> None:
        """Deliver the job's queued callbacks on the dispatcher's thread, then call ``then``
        (there too, once the callbacks before it have run)."""
        outbox = self._outboxes.get(job.id)
        if outbox is not None and then is not None:
            outbox.items.append((_THEN, then, None))
            then = None
        self._deliveries.put(lambda: self._drain(job, outbox, then))

    @property
    def on_thread(self) -> bool:
        """Whether the calling thread is the dispatcher's (a callback runs)."""
        return self._deliveries.on_thread

    def batch_for(self, thread: Optional[threading.Thread]) -> Callable[[], None]:
        """Deliveries asked by ``thread`` (the engine's) wait until it calls the function
        returned, once a turn: one wake-up of the dispatcher for many callbacks."""
        self._deliveries.batched_by = thread
        return self._deliveries.flush

    def close(self) -> None:
        """Deliver what is queued, then end the dispatcher's threads."""
        self._deliveries.close()

    def _drain(
        self, job: DownloadJob, outbox: Optional[_Outbox], then: Optional[Callable[[], None]]
    ) -> None:
        try:
            self.deliver(job, outbox, wait=False)
        except Exception:  # a bus or the journal failed: the job still settles
            logger.exception("fetchq: callbacks of job %s could not be delivered", job.id)
            if outbox is not None:
                for item in [item for item in outbox.items if item[0] == _THEN]:
                    outbox.items.remove(item)
                    item[1]()
        if then is not None:
            then()

    def set_callbacks(self, value: JobCallbacks) -> None:
        self.error_gets_exception = takes_exception(value.on_error)
        self.callbacks = value

    def announce(self, job: DownloadJob, running: RunningJob) -> None:
        """Queue download_started once a run's first answer names the file (lock held)."""
        if not running.announced:
            running.announced = True
            self.queue_event(job, "download_started")

    def queue_event(
        self,
        job: DownloadJob,
        name: str,
        failure: Optional[BaseException] = None,
        fields: Optional[dict[str, object]] = None,
    ) -> None:
        """Queue an event and its callback for delivery (lock held); ``failure`` goes to an
        ``on_error`` that takes the exception too."""
        outbox = self._outboxes.get(job.id)
        if outbox is not None:
            # The event is a snapshot of this moment, so it is built now; without a bus, never.
            # A bus of InvokeAI's kind builds its own from the job it is given: a copy of the
            # job as it is now (the dispatcher delivers later, when the job has moved on).
            event = None
            if self.event_bus is not None and name not in _CALLBACK_ONLY:
                subject = job.model_copy() if self._emits_per_job else None
                event = (make_event(name, job, **(fields or {})), subject)
            outbox.items.append((name, event, failure))
        if job.package_id is not None:
            self._packages.file_changed(job, name, failure)

    def post(self, job: DownloadJob, name: str, **fields: object) -> None:
        """Queue an event and have the dispatcher thread deliver it (from the engine)."""
        with self._lock:
            self.queue_event(job, name, None, fields)
        self.deliver_later(job)

    def deliver(
        self, job: DownloadJob, outbox: Optional[_Outbox] = None, wait: bool = True
    ) -> None:
        """Deliver the job's queued callbacks and events, in order (lock not held). With
        ``wait=False``, a thread that finds another delivering them leaves it to that one
        (which looks again before it lets go)."""
        if outbox is None:
            outbox = self._outboxes.get(job.id)
            if outbox is None:
                return
        while True:
            if not outbox.lock.acquire(blocking=wait):
                return
            try:
                self._deliver_items(job, outbox)
            finally:
                outbox.lock.release()
            if wait or not outbox.items:
                break
        if job.package_id is not None:
            self._packages.deliver(job.package_id)
        self._writer.soon()

    def _deliver_items(self, job: DownloadJob, outbox: _Outbox) -> None:
        items = outbox.items
        while items:
            name, event, failure = items.popleft()
            if name == _THEN:
                event()
                continue
            if name in _CALLBACK_ONLY:
                handler = self.callbacks.on_running
                if handler is not None:
                    call_safely(handler, job)
                continue
            handler_name = _EVENT_CALLBACKS.get(name)
            if handler_name is not None:
                own = getattr(job, handler_name)
                handler = own or getattr(self.callbacks, handler_name)
                if handler is None:
                    pass
                elif name == "download_error" and (
                    job._error_gets_exception if own else self.error_gets_exception
                ):
                    call_safely(handler, job, failure)
                else:
                    call_safely(handler, job)
            if event is not None:  # built only when there is a bus
                built, subject = event
                publish(self.event_bus, built, subject or job)
