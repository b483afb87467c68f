"""Download events, the bus protocol, progress throttling and safe dispatch of callbacks.

A bus is any object with ``dispatch(event)``, or InvokeAI's ``emit_download_started(job)``-style
methods, which win where a bus has both. A callback or bus that raises is logged
and skipped: the download goes on.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, Literal, Optional, Protocol, Union, runtime_checkable

from pydantic import BaseModel, ConfigDict

from ._job import DownloadJob

logger = logging.getLogger("fetchq")


class DownloadEventBase(BaseModel):
    """Common payload of every download event."""

    model_config = ConfigDict(frozen=True)

    id: int
    timestamp: float
    source: str
    download_path: Optional[str] = None


class DownloadStartedEvent(DownloadEventBase):
    name: Literal["download_started"] = "download_started"


class DownloadProgressEvent(DownloadEventBase):
    name: Literal["download_progress"] = "download_progress"
    current_bytes: int
    total_bytes: int


class DownloadCompleteEvent(DownloadEventBase):
    name: Literal["download_complete"] = "download_complete"
    total_bytes: int


class DownloadCancelledEvent(DownloadEventBase):
    name: Literal["download_cancelled"] = "download_cancelled"


class DownloadPausedEvent(DownloadEventBase):
    name: Literal["download_paused"] = "download_paused"
    current_bytes: int
    total_bytes: int


class DownloadErrorEvent(DownloadEventBase):
    name: Literal["download_error"] = "download_error"
    error_type: str
    error: str


class DownloadRetryEvent(DownloadEventBase):
    """A transient failure: the job waits ``delay`` seconds, then makes attempt ``attempt``."""

    name: Literal["download_retry"] = "download_retry"
    attempt: int
    delay: float
    error_type: str


DownloadEvent = Union[
    DownloadStartedEvent,
    DownloadProgressEvent,
    DownloadCompleteEvent,
    DownloadCancelledEvent,
    DownloadPausedEvent,
    DownloadErrorEvent,
    DownloadRetryEvent,
]


@runtime_checkable
class EventBus(Protocol):
    """What the queue needs of a bus."""

    def dispatch(self, event: DownloadEvent) -> None: ...


def make_event(name: str, job: DownloadJob, **fields: object) -> DownloadEvent:
    """Build the event ``name`` with the job's current payload.

    The fields come from a validated job, so the models are built without validating again
    (an event per progress report adds up).
    """
    common: dict[str, Any] = {
        "id": job.id,
        "timestamp": time.time(),
        "source": str(job.source),
        "download_path": str(job.download_path) if job.download_path is not None else None,
    }
    if name == "download_started":
        return DownloadStartedEvent.model_construct(**common)
    if name == "download_progress":
        return DownloadProgressEvent.model_construct(
            **common, current_bytes=job.bytes, total_bytes=job.total_bytes
        )
    if name == "download_complete":
        return DownloadCompleteEvent.model_construct(**common, total_bytes=job.total_bytes)
    if name == "download_cancelled":
        return DownloadCancelledEvent.model_construct(**common)
    if name == "download_paused":
        return DownloadPausedEvent.model_construct(
            **common, current_bytes=job.bytes, total_bytes=job.total_bytes
        )
    if name == "download_error":
        return DownloadErrorEvent.model_construct(
            **common, error_type=job.error_type or "", error=job.error or ""
        )
    if name == "download_retry":
        return DownloadRetryEvent.model_validate({**common, **fields})
    raise ValueError(f"unknown event {name!r}")


def takes_exception(handler: Optional[Callable[..., object]]) -> bool:
    """Whether an ``on_error`` handler takes the exception too: InvokeAI's are
    ``(job, exception)``, the reference page's ``(job)``. Looked at once, when a job is
    submitted; a callable whose signature cannot be read gets the job alone."""
    if handler is None:
        return False
    try:
        parameters = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = 0
    for parameter in parameters:
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            positional += 1
    return positional >= 2


def call_safely(handler: Callable[..., object], *args: object) -> None:
    """Call a user callback; log and swallow what it raises."""
    try:
        handler(*args)
    except Exception:
        logger.exception("fetchq: callback %r raised; ignored", handler)


def publish(bus: object, event: DownloadEvent, job: DownloadJob) -> None:
    """Send the event to InvokeAI's ``emit_<name>(job)`` method where the bus has it (the bus
    builds its own event from the job), else ``event`` to its ``dispatch``.

    InvokeAI's bus has both, and its ``dispatch`` expects InvokeAI's event classes, not ours.
    """
    emitter = getattr(bus, f"emit_{event.name}", None)
    if callable(emitter):
        call_safely(emitter, job)
        return
    if hasattr(bus, "emit_download_started"):
        return  # an InvokeAI bus has no method for this event (a retry): it is not sent
    dispatch = getattr(bus, "dispatch", None)
    if callable(dispatch):
        call_safely(dispatch, event)


class ProgressThrottle:
    """Decides when a progress report is due: about every 1 %, at most ``max_rate`` a second.

    Without a known size, or when 1 % takes long, a report is also due every ``heartbeat``
    seconds while bytes arrive, so speeds and counters stay fresh. Not thread-safe: one per job.
    """

    __slots__ = ("_heartbeat", "_last_bytes", "_last_time", "_min_interval")

    def __init__(self, max_rate: float = 10.0, heartbeat: float = 0.5) -> None:
        self._min_interval = 1.0 / max_rate
        self._heartbeat = heartbeat
        self._last_time = float("-inf")
        self._last_bytes = -1

    def due(self, now: float, current: int, total: int) -> bool:
        elapsed = now - self._last_time
        if elapsed < self._min_interval or current == self._last_bytes:
            return False
        if total <= 0 or elapsed >= self._heartbeat:
            return True
        return (current - max(self._last_bytes, 0)) * 100 >= total

    def mark(self, now: float, current: int) -> None:
        self._last_time = now
        self._last_bytes = current
