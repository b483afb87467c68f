"""DownloadJob: what was asked for and how it is going, as a pydantic model."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional, Union

from pydantic import AnyHttpUrl, AnyUrl, BaseModel, ConfigDict, Field, PrivateAttr, UrlConstraints

from ._http import Login

if TYPE_CHECKING:
    from ._queue import DownloadQueueService


class DownloadJobStatus(str, Enum):
    """Where a job is in its life. The last three are terminal."""

    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset(
    {DownloadJobStatus.COMPLETED, DownloadJobStatus.CANCELLED, DownloadJobStatus.ERROR}
)

DownloadEventHandler = Callable[["DownloadJob"], None]
"""A callback: called with the job, in the thread that runs it."""

DownloadExceptionHandler = Callable[["DownloadJob", Optional[Exception]], None]
"""InvokeAI's ``on_error``: called with the job and the exception that ended it. An
``on_error`` that takes one argument gets the job alone (the reference page's form)."""

ErrorHandler = Union[DownloadEventHandler, DownloadExceptionHandler]


FtpUrl = Annotated[AnyUrl, UrlConstraints(allowed_schemes=["ftp", "ftps"], host_required=True)]
"""An ftp or ftps source. http(s) sources stay ``AnyHttpUrl``, as in the reference API."""


def iso_now() -> str:
    """The current time as an ISO-8601 string, the format of job timestamps."""
    return datetime.now(timezone.utc).isoformat()


class DownloadJobBase(BaseModel):
    """What every job has, one file or many: where it goes, its state, its bytes, its errors,
    its callbacks (InvokeAI's ``DownloadJobBase``).

    The queue updates the fields while the job runs; read them from any thread. Callbacks are
    never serialised and never shown in ``repr``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: int = Field(default=-1, description="Job id, assigned when the job is submitted")
    dest: Path = Field(description="A folder to download into, or the file path")
    download_path: Optional[Path] = Field(default=None, description="Where the download goes")
    status: DownloadJobStatus = DownloadJobStatus.WAITING
    priority: int = Field(default=10, description="Lower runs first")
    job_added: Optional[str] = Field(default=None, description="When the job was submitted")
    job_started: Optional[str] = Field(default=None, description="When it last started running")
    job_ended: Optional[str] = Field(default=None, description="When it reached its end state")
    bytes: int = Field(default=0, description="Bytes on disk so far")
    total_bytes: int = Field(default=0, description="Size announced, 0 while unknown")
    error_type: Optional[str] = None
    error: Optional[str] = None
    cancelled: bool = False

    on_start: Optional[DownloadEventHandler] = Field(default=None, exclude=True, repr=False)
    on_progress: Optional[DownloadEventHandler] = Field(default=None, exclude=True, repr=False)
    on_complete: Optional[DownloadEventHandler] = Field(default=None, exclude=True, repr=False)
    on_cancelled: Optional[DownloadEventHandler] = Field(default=None, exclude=True, repr=False)
    on_error: Optional[ErrorHandler] = Field(default=None, exclude=True, repr=False)

    _service: Optional[weakref.ReferenceType[DownloadQueueService]] = PrivateAttr(default=None)
    _error_gets_exception: bool = PrivateAttr(default=False)

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def waiting(self) -> bool:
        return self.status == DownloadJobStatus.WAITING

    @property
    def running(self) -> bool:
        return self.status == DownloadJobStatus.RUNNING

    @property
    def paused(self) -> bool:
        return self.status == DownloadJobStatus.PAUSED

    @property
    def complete(self) -> bool:
        return self.status == DownloadJobStatus.COMPLETED

    @property
    def errored(self) -> bool:
        return self.status == DownloadJobStatus.ERROR

    @property
    def in_terminal_state(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def cancel(self) -> None:
        """Ask the queue that runs this job to cancel it (InvokeAI's ``job.cancel()``)."""
        service = self._service() if self._service is not None else None
        if service is not None:
            service.cancel_job(self)
        elif not self.in_terminal_state:
            self.cancelled = True

    def pause(self) -> None:
        """Ask the queue that runs this job to pause it (InvokeAI's ``job.pause()``)."""
        service = self._service() if self._service is not None else None
        if service is not None:
            service.pause_job(self)

    def set_callbacks(
        self,
        on_start: Optional[DownloadEventHandler] = None,
        on_progress: Optional[DownloadEventHandler] = None,
        on_complete: Optional[DownloadEventHandler] = None,
        on_cancelled: Optional[DownloadEventHandler] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        """Attach callbacks; those given replace the job's current ones, the others stay."""
        given: dict[str, Any] = {
            "on_start": on_start,
            "on_progress": on_progress,
            "on_complete": on_complete,
            "on_cancelled": on_cancelled,
            "on_error": on_error,
        }
        for name, handler in given.items():
            if handler is not None:
                setattr(self, name, handler)


class DownloadJob(DownloadJobBase):
    """One URL to fetch, and its progress. The access token is never serialised or shown."""

    source: Union[AnyHttpUrl, FtpUrl] = Field(description="Where to download from")
    job_sequence: Optional[int] = Field(default=None, description="Dequeue counter")
    attempts: int = Field(default=0, description="HTTP attempts made, retries included")
    content_type: Optional[str] = None
    checksum: Optional[str] = Field(default=None, description='Expected digest, "algo:hex"')
    overwrite: bool = Field(default=False, description="Replace a different existing file")
    max_connections: Optional[int] = Field(
        default=None, description="Connections for this file; None uses the service setting"
    )
    # InvokeAI's resume fields: what the server said, and why a resume needs a restart.
    canonical_url: Optional[str] = Field(default=None, description="URL to request, if not source")
    etag: Optional[str] = Field(default=None, description="ETag the server sent")
    last_modified: Optional[str] = Field(default=None, description="Last-Modified it sent")
    final_url: Optional[str] = Field(default=None, description="The URL after redirects")
    expected_total_bytes: Optional[int] = Field(
        default=None, description="The size expected: given in advance, or announced"
    )
    resume_required: bool = Field(
        default=False, description="Paused because the server refused to resume the partial file"
    )
    group: Optional[str] = Field(
        default=None,
        description="The named queue it waits in (its own parallel limit and hours); None: none",
    )
    by_category: bool = Field(
        default=False,
        description="Into a folder: put the file in its category's folder under it",
    )
    category: Optional[str] = Field(
        default=None, description="The category its file went into, once named"
    )
    link_expired: bool = Field(
        default=False,
        description="Paused because the link that served part of the file no longer serves it",
    )
    resume_message: Optional[str] = Field(default=None, description="Why, in a sentence")
    resume_from_scratch: bool = Field(
        default=False, description="The partial file could not be used: started again from zero"
    )
    package_id: Optional[int] = Field(
        default=None, description="The multi-file job this file belongs to, if any"
    )
    already_downloaded: bool = Field(
        default=False, description="Completed without fetching: the same file was already there"
    )
    waiting_for: Optional[str] = Field(
        default=None,
        exclude=True,
        description='While running: "bandwidth" or "connection" (to its host) when it waits',
    )

    access_token: Optional[str] = Field(default=None, exclude=True, repr=False)
    login: Optional[Login] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="User name and password for the server's HTTP login; never journaled",
    )
    auth_challenge: Optional[str] = Field(
        default=None,
        description="What a 401 answered (WWW-Authenticate): the server asks for a login",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        repr=False,
        description="Extra request headers, sent to the source's origin only; never journaled",
    )
    cookies: Optional[str] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="A Cookie header sent to the source's origin only; never journaled",
    )

    def __hash__(self) -> int:
        return hash(self.id)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DownloadJob):
            return NotImplemented
        return (self.priority, self.id) < (other.priority, other.id)

    @property
    def name(self) -> str:
        """The file name, or the URL's last segment while the name is not known yet."""
        if self.download_path is not None:
            return self.download_path.name
        path = self.source.path or ""
        return path.rstrip("/").rsplit("/", 1)[-1] or (self.source.host or "")


class MultiFileDownloadJob(DownloadJobBase):
    """Several files as one job: a model repository, an album, a dataset (InvokeAI's).

    Its files are ordinary :class:`DownloadJob` s (each resumable, retried, checked) under
    ``dest``; its status, ``bytes``, ``total_bytes`` and callbacks are theirs taken together.
    It completes when every file has, fails when one fails (the others are cancelled), and is
    cancelled, paused, resumed and retried as one. ``download_path`` is ``dest`` joined with the
    first component of the first file's path: the folder (or file) the job makes.
    """

    download_parts: set[DownloadJob] = Field(
        default_factory=set, description="The files, each an ordinary job"
    )

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def parts(self) -> list[DownloadJob]:
        """The files in the order they were given."""
        return sorted(self.download_parts, key=lambda part: part.id)

    @property
    def name(self) -> str:
        """What the job makes: its download path's name, else the destination folder's."""
        return (self.download_path or self.dest).name


DownloadJobBase.model_rebuild()
DownloadJob.model_rebuild()
MultiFileDownloadJob.model_rebuild()
