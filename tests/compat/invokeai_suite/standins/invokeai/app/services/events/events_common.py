"""Stand-in for InvokeAI's download events: the fields and build() of the real ones."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field


class EventBase(BaseModel):
    timestamp: int = Field(default_factory=lambda: int(time.time()))


class DownloadEventBase(EventBase):
    source: str


class DownloadStartedEvent(DownloadEventBase):
    download_path: str

    @classmethod
    def build(cls, job: Any) -> DownloadStartedEvent:
        assert job.download_path
        return cls(source=str(job.source), download_path=job.download_path.as_posix())


class DownloadProgressEvent(DownloadEventBase):
    download_path: str
    current_bytes: int
    total_bytes: int

    @classmethod
    def build(cls, job: Any) -> DownloadProgressEvent:
        assert job.download_path
        return cls(
            source=str(job.source),
            download_path=job.download_path.as_posix(),
            current_bytes=job.bytes,
            total_bytes=job.total_bytes,
        )


class DownloadCompleteEvent(DownloadEventBase):
    download_path: str
    total_bytes: int

    @classmethod
    def build(cls, job: Any) -> DownloadCompleteEvent:
        assert job.download_path
        return cls(
            source=str(job.source),
            download_path=job.download_path.as_posix(),
            total_bytes=job.total_bytes,
        )


class DownloadCancelledEvent(DownloadEventBase):
    @classmethod
    def build(cls, job: Any) -> DownloadCancelledEvent:
        return cls(source=str(job.source))


class DownloadPausedEvent(DownloadEventBase):
    @classmethod
    def build(cls, job: Any) -> DownloadPausedEvent:
        return cls(source=str(job.source))


class DownloadErrorEvent(DownloadEventBase):
    error_type: str
    error: str

    @classmethod
    def build(cls, job: Any) -> DownloadErrorEvent:
        assert job.error_type
        assert job.error
        return cls(source=str(job.source), error_type=job.error_type, error=job.error)


class EventServiceBase:
    """The download half of InvokeAI's EventServiceBase: emit_* build and dispatch."""

    def dispatch(self, event: EventBase) -> None:
        pass

    def emit_download_started(self, job: Any) -> None:
        self.dispatch(DownloadStartedEvent.build(job))

    def emit_download_progress(self, job: Any) -> None:
        self.dispatch(DownloadProgressEvent.build(job))

    def emit_download_complete(self, job: Any) -> None:
        self.dispatch(DownloadCompleteEvent.build(job))

    def emit_download_cancelled(self, job: Any) -> None:
        self.dispatch(DownloadCancelledEvent.build(job))

    def emit_download_paused(self, job: Any) -> None:
        self.dispatch(DownloadPausedEvent.build(job))

    def emit_download_error(self, job: Any) -> None:
        self.dispatch(DownloadErrorEvent.build(job))
