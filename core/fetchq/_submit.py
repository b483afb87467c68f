"""Submission: new jobs built from a caller's arguments, checked before anything is queued,
then registered and queued together."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from pydantic import ValidationError

from ._dispatch import _Outbox
from ._events import takes_exception
from ._exceptions import InvalidSourceError, ServiceInactiveException
from ._http import Login
from ._job import DownloadJob, DownloadJobStatus, iso_now
from ._validation import (
    redact_url,
    validate_cookies,
    validate_headers,
    validate_login,
    validate_source,
    validate_token,
)

if TYPE_CHECKING:
    from ._queue import DownloadQueueService

Cookies = Union[str, Mapping[str, str], Sequence[tuple[str, str]], None]
"""``"a=1; b=2"``, ``{"a": "1"}`` or ``[("a", "1")]``: a download's cookies."""


@dataclass(frozen=True)
class _Options:
    """The options of ``download`` and ``download_many`` beyond InvokeAI's, checked once and
    set on each new job the same way."""

    headers: dict[str, str]
    cookies: Optional[str]
    login: Optional[Login]
    by_category: bool
    group: Optional[str]

    @classmethod
    def of(
        cls,
        headers: object,
        cookies: object,
        login: object,
        by_category: bool,
        group: Optional[str],
    ) -> _Options:
        return cls(
            validate_headers(headers), validate_cookies(cookies), validate_login(login),
            by_category, group,
        )  # fmt: skip

    def set_on(self, job: DownloadJob, dest: Path) -> None:
        job.headers = dict(self.headers)
        job.cookies = self.cookies
        job.login = self.login
        job.by_category = self.by_category and dest.is_dir()  # a file path has its folder
        job.group = self.group


def build_job(
    source: object,
    path: Path,
    priority: int,
    access_token: Optional[str],
    checksum: Optional[str],
    overwrite: bool,
    max_connections: Optional[int],
) -> DownloadJob:
    """A new job of ``source``, checked: bad input raises a ValueError subclass here."""
    text = validate_source(source)
    access_token = validate_token(access_token)
    if max_connections is not None and max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    try:
        return DownloadJob(
            source=text,  # type: ignore[arg-type]
            dest=path,
            priority=priority,
            access_token=access_token,
            checksum=checksum,
            overwrite=overwrite,
            max_connections=max_connections,
        )
    except ValidationError as exc:
        raise InvalidSourceError(f"{redact_url(text)!r} is not a valid URL") from exc


class Submission:
    """Registers new jobs with the queue and queues them."""

    def __init__(self, service: DownloadQueueService) -> None:
        self._service = service

    def submit_all(self, jobs: list[DownloadJob]) -> list[DownloadJob]:
        """Register and queue jobs in one step; they are in the journal when this returns."""
        service = self._service
        if service._closed:
            raise ServiceInactiveException("this queue is closed and takes no more downloads")
        folders: dict[Path, bool] = {}
        added = iso_now()
        for job in jobs:
            # A file destination is the download path from the start; a folder's comes later.
            if job.download_path is None:
                is_folder = folders.get(job.dest)
                if is_folder is None:
                    is_folder = folders[job.dest] = job.dest.is_dir()
                if not is_folder:
                    job.download_path = job.dest
            job._service = weakref.ref(service)
            job._error_gets_exception = takes_exception(job.on_error)
            job.job_added = job.job_added or added
        with service._lock:
            for job in jobs:
                if job.id in service._reserved_ids:
                    service._reserved_ids.discard(job.id)  # a package's file keeps its id
                else:
                    job.id = service._next_id
                    service._next_id += 1
                job.status = DownloadJobStatus.WAITING
                service._jobs[job.id] = job
                service._outboxes[job.id] = _Outbox()
                service._control.push(job)
                service._writer.record(job)
        service._writer.flush()
        return jobs
