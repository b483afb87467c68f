"""DownloadQueueService: the registry, the scheduler, the workers, and job control.

Shared state is guarded by one lock that is never held across I/O or callbacks. State changes
queue their callbacks and events in a per-job outbox while the lock is held; whichever thread
drains the outbox delivers them in order, so each job's events arrive in the order its state
changed. Journal records are queued the same way and written before the call returns.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union

from pydantic import ValidationError

from ._abort import AbortReason, AbortSignal, TransferAborted
from ._app_config import AppConfigView
from ._categories import DEFAULT_CATEGORIES, Category
from ._events import ProgressThrottle, call_safely, make_event, publish, takes_exception
from ._exceptions import (
    DownloadJobCancelledException,
    InvalidDestinationError,
    InvalidRequestError,
    InvalidSourceError,
    JournalCorruptError,
    LinkExpiredError,
    ResumeRequired,
    ServiceInactiveException,
    UnknownJobIDException,
    describe_error,
)
from ._http import (
    HttpClient,
    Login,
    OriginSecrets,
    TokenRule,
    is_public_address,
    origin_of,
    token_for,
)
from ._job import (
    TERMINAL_STATUSES,
    DownloadEventHandler,
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    ErrorHandler,
    MultiFileDownloadJob,
    iso_now,
)
from ._journal import (
    Journal,
    JournalChange,
    JournalRecord,
    is_history,
    stored_data,
    stored_link,
)
from ._limits import HostSlots, HostTrials, RateLimiter
from ._package import (
    package_download_path,
    package_status,
    part_destination,
    part_spec,
    totals,
)
from ._probe import ProbeResult, probe
from ._ramp import start_delay
from ._relink import restart_reason, verify_new_link
from ._retry import RetryPolicy, Timeouts
from ._scheduler import RampWatch, Scheduler
from ._segments import (
    PART_SUFFIX,
    SIDECAR_SUFFIX,
    load_part_state,
    remove_partial,
    save_part_state,
)
from ._service_base import DownloadQueueServiceBase
from ._transfer import Transfer, TransferRequest, TransferSettings
from ._validation import (
    parse_checksum,
    prepare_destination,
    redact_url,
    validate_cookies,
    validate_headers,
    validate_login,
    validate_source,
    validate_token,
)

if TYPE_CHECKING:
    import requests

Cookies = Union[str, Mapping[str, str], Sequence[tuple[str, str]], None]
"""``"a=1; b=2"``, ``{"a": "1"}`` or ``[("a", "1")]``: a download's cookies."""

logger = logging.getLogger("fetchq")


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


_AnyJob = TypeVar("_AnyJob", DownloadJob, MultiFileDownloadJob)

CALLBACK_NAMES = ("on_start", "on_progress", "on_complete", "on_cancelled", "on_error")
STOP_GRACE_SECONDS = 5.0
ASK_AHEAD = 4
SMALL_FILE = 256 * 1024
"""A worker asks ahead after a download of at most this size (a batch of small files)."""
"""How many of the jobs next in line have their first request sent before they start."""
JOURNAL_COALESCE_SECONDS = 0.02


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


class _Outbox:
    """A job's undelivered callbacks and events, delivered in order by whoever drains it."""

    __slots__ = ("items", "lock")

    def __init__(self) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.lock = threading.Lock()


class _Running:
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

    def claim(self, path: Path) -> bool:
        return self.service._claim(self.job, path)

    def unclaim(self, path: Path) -> None:
        self.service._unclaim(self.job, path)

    def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
        self.service._set_target(self.job, path, total, content_type)

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
            self.service._post(job, "download_progress")

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
            self.service._post(self.job, "download_waiting")

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None:
        self.service._post(
            self.job,
            "download_retry",
            attempt=attempt,
            delay=delay,
            error_type=describe_error(error),
        )


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


@functools.lru_cache(maxsize=256)
def _resolved_folder(folder: str) -> str:
    """A folder's canonical path (symlinks resolved), so two spellings claim the same names."""
    return os.path.normcase(os.path.realpath(folder))


def _claim_keys(path: Path) -> tuple[str, ...]:
    """The names a download at ``path`` writes: the file, its part file and its sidecar."""
    folder, name = os.path.split(os.fspath(path))
    folder = _resolved_folder(folder)
    name = os.path.normcase(name)
    return (
        os.path.join(folder, name),
        os.path.join(folder, name + PART_SUFFIX),
        os.path.join(folder, name + SIDECAR_SUFFIX),
    )


class DownloadQueueService(DownloadQueueServiceBase):
    """A multithreaded, prioritized, resumable download queue (InvokeAI's API).

    Ready on construction; ``start()`` and ``stop()`` are idempotent; a context manager that stops
    (and releases its journal) on exit. Every method is safe to call from any thread at any time.
    """

    def __init__(
        self,
        max_parallel_dl: int = 5,
        event_bus: Optional[object] = None,
        requests_session: Optional[requests.Session] = None,
        *,
        max_connections_per_download: int = 16,
        max_connections_per_host: Optional[int] = 16,
        speed_limit: Optional[float] = None,
        retry: Optional[RetryPolicy] = None,
        timeouts: Optional[Timeouts] = None,
        tokens: Iterable[tuple[str, str]] = (),
        allow_private_addresses: Optional[bool] = None,
        journal: Union[str, os.PathLike[str], None] = None,
        resume_restored: bool = True,
        on_restore: Optional[Callable[[DownloadJob], None]] = None,
        history_in_memory: Optional[int] = None,
        callbacks: Optional[JobCallbacks] = None,
        transfer_settings: Optional[TransferSettings] = None,
        address_policy: Optional[Callable[[str], bool]] = None,
        proxy: Optional[str] = None,
        http2: bool = True,
        ca_bundle: Union[str, os.PathLike[str], None] = None,
        app_config: Optional[object] = None,
    ) -> None:
        """``app_config``: InvokeAI's config, or any object with its ``download_proxy``,
        ``allow_private_download_urls`` and ``remote_api_tokens`` (see :mod:`._app_config`);
        inside InvokeAI a queue made without one reads InvokeAI's own, as InvokeAI's does.
        Arguments given here win over it."""
        config = AppConfigView.of(app_config)
        if proxy is None:
            proxy = config.download_proxy
        if allow_private_addresses is None:
            allow_private_addresses = config.allow_private is not False
        if max_parallel_dl < 1:
            raise ValueError("max_parallel_dl must be at least 1")
        if max_connections_per_download < 1:
            raise ValueError("max_connections_per_download must be at least 1")
        settings = transfer_settings or TransferSettings()
        if retry is not None or timeouts is not None:
            settings = dataclasses.replace(
                settings, retry=retry or settings.retry, timeouts=timeouts or settings.timeouts
            )
        self._settings = settings
        self._event_bus = event_bus
        self._max_parallel = max_parallel_dl
        self._max_connections = max_connections_per_download
        self._held = False
        self._group_rules: dict[str, tuple[Optional[int], bool]] = {}
        self._left_in_journal = 0
        self.categories: tuple[Category, ...] = DEFAULT_CATEGORIES
        """Where downloads added with ``by_category=True`` go, by file type; replace freely."""
        self._callbacks = callbacks or JobCallbacks()
        self._error_gets_exception = takes_exception(self._callbacks.on_error)
        self._token_rules = tuple(
            TokenRule.of(pattern, validate_token(token) or "") for pattern, token in tokens
        )
        self._app_config = config
        self._limiter = RateLimiter(speed_limit)
        self._host_slots = HostSlots(max_connections_per_host)
        self._host_trials = HostTrials()
        if address_policy is None and not allow_private_addresses:
            address_policy = is_public_address
        self._client = HttpClient(
            requests_session,
            settings.timeouts,
            address_policy=address_policy,
            proxy=proxy,
            http2=http2,
            ca_bundle=os.fspath(ca_bundle) if ca_bundle is not None else None,
        )

        self._lock = threading.Lock()
        self._work_available = threading.Condition(self._lock)
        # join() waits for "nothing active"; wait_for_job() for one job to settle. Both are
        # woken only when that may have happened, not on every change of every job.
        self._all_settled = threading.Condition(self._lock)
        self._job_settled = threading.Condition(self._lock)
        self._jobs: dict[int, DownloadJob] = {}
        self._packages: dict[int, _Package] = {}  # multi-file jobs; their files are in _jobs
        self._reserved_ids: set[int] = set()  # given to files of a package not yet submitted
        self._scheduler = Scheduler(self._jobs)
        self._running: dict[int, _Running] = {}
        self._settling: set[int] = set()  # changed state, callbacks not yet delivered
        self._outboxes: dict[int, _Outbox] = {}
        self._versions: dict[int, int] = {}
        self._resume_at_start: set[int] = set()
        self._start_over: dict[int, bool] = {}  # resumed after resume_required: from zero
        self._remove_when_done: set[int] = set()
        self._claims: dict[str, int] = {}
        self._claims_by_job: dict[int, set[str]] = {}
        self._journal_queue: collections.deque[JournalChange] = collections.deque()
        self._journal_flush_lock = threading.Lock()
        self._next_id = 0
        self._dequeues = 0
        self._workers: set[threading.Thread] = set()
        self._asked_ahead: set[int] = set()  # per worker would be exact; one is enough
        self._ramp = RampWatch(self._work_available.notify)
        self._stopped = False
        self._closed = False

        self._journal: Optional[Journal] = None
        self._journal_wake = threading.Event()
        self._journal_closing = threading.Event()
        if journal is not None:
            self._journal = Journal(journal)
            try:
                records = self._journal.load()
                if history_in_memory is not None:
                    records = self._leave_history(records, history_in_memory)
                self._restore(records, resume_restored, on_restore)
            except BaseException:
                self._journal.close()
                raise
            threading.Thread(
                target=self._journal_writer, name="fetchq-journal", daemon=True
            ).start()
        with self._lock:
            self._spawn_workers()

    # -- public API: submitting -------------------------------------------------------------

    def download(
        self,
        source: object,
        dest: Union[str, os.PathLike[str]],
        priority: int = 10,
        access_token: Optional[str] = None,
        on_start: Optional[DownloadEventHandler] = None,
        on_progress: Optional[DownloadEventHandler] = None,
        on_complete: Optional[DownloadEventHandler] = None,
        on_cancelled: Optional[DownloadEventHandler] = None,
        on_error: Optional[ErrorHandler] = None,
        *,
        checksum: Optional[str] = None,
        sha256: Optional[str] = None,
        overwrite: bool = False,
        max_connections: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        cookies: Cookies = None,
        login: Optional[tuple[str, str]] = None,
        by_category: bool = False,
        group: Optional[str] = None,
    ) -> DownloadJob:
        """Queue ``source`` for download to ``dest`` and return its job.

        ``dest`` is a folder (existing, or given with a trailing separator) to download into under
        the server's name, or the file path. ``headers`` and ``cookies`` (``"a=1; b=2"`` or a
        mapping) go to the source's origin only, are kept in memory only and so are gone after
        a restart. Bad input raises a ValueError subclass here.
        """
        path = prepare_destination(dest)
        normalised = parse_checksum(checksum, sha256)
        job = self._build_job(
            source, path, priority, access_token, normalised, overwrite, max_connections
        )
        _Options.of(headers, cookies, login, by_category, group).set_on(job, path)
        # The token a rule gives is the job's from now on, as InvokeAI sets it (never stored).
        job.access_token = self._token(str(job.source), job.access_token)
        job.set_callbacks(on_start, on_progress, on_complete, on_cancelled, on_error)
        return self._submit_all([job])[0]

    def download_many(
        self,
        sources: Iterable[object],
        dest: Union[str, os.PathLike[str]],
        priority: int = 10,
        access_token: Optional[str] = None,
        *,
        checksum: Optional[str] = None,
        overwrite: bool = False,
        max_connections: Optional[int] = None,
        headers: Optional[Mapping[str, str]] = None,
        cookies: Cookies = None,
        by_category: bool = False,
        group: Optional[str] = None,
    ) -> list[DownloadJob]:
        """Queue several URLs into one folder at once, in order; all or none.

        Every source is checked before any is queued, and the journal is written once for all:
        adding a thousand links costs one disk write, not a thousand. ``headers`` and
        ``cookies`` go with each as in :meth:`download`.
        """
        options = _Options.of(headers, cookies, None, by_category, group)
        texts = list(sources)
        path = prepare_destination(dest)
        if len(texts) > 1 and not path.is_dir():
            raise InvalidDestinationError(f"{path} is a file; several URLs need a folder")
        normalised = parse_checksum(checksum, None)
        jobs = [
            self._build_job(
                text, path, priority, access_token, normalised, overwrite, max_connections
            )
            for text in texts
        ]
        for job in jobs:
            options.set_on(job, path)
        return self._submit_all(jobs)

    def multifile_download(
        self,
        parts: Iterable[object],
        dest: Union[str, os.PathLike[str]],
        access_token: Optional[str] = None,
        submit_job: bool = True,
        on_start: Optional[DownloadEventHandler] = None,
        on_progress: Optional[DownloadEventHandler] = None,
        on_complete: Optional[DownloadEventHandler] = None,
        on_cancelled: Optional[DownloadEventHandler] = None,
        on_error: Optional[ErrorHandler] = None,
        *,
        priority: int = 10,
        overwrite: bool = False,
    ) -> MultiFileDownloadJob:
        """Make one job of several files under the folder ``dest``, and queue it.

        ``parts``: InvokeAI's ``RemoteModelFile`` s, or anything with ``url`` and ``path``
        (``size`` and ``sha256`` when known; a sha256 is checked), or ``(url, path)`` pairs.
        Paths are relative to ``dest`` and may name folders; a path with a trailing separator
        (``"album/"``) is a folder the file goes into under the server's name for it. A path
        that would leave ``dest``
        (absolute, ``..``, a link out) raises ``ValueError`` here, and nothing is queued. With
        ``submit_job=False`` the job is made but queued only by
        :meth:`submit_multifile_download`. Callbacks get the multi-file job.
        """
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
            file = self._build_job(
                spec.url,
                target,
                priority,
                None,
                f"sha256:{spec.sha256.lower()}" if spec.sha256 else None,
                overwrite,
                None,
            )
            file.access_token = self._token(str(file.source), access_token)
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
        package.set_callbacks(on_start, on_progress, on_complete, on_cancelled, on_error)
        with self._lock:
            package.id = self._next_id
            for number, file in enumerate(files, start=1):
                file.id = self._next_id + number
                file.package_id = package.id
                self._reserved_ids.add(file.id)
            self._next_id += len(files) + 1
        package.download_parts = set(files)
        package._service = weakref.ref(self)
        if submit_job:
            self.submit_multifile_download(package)
        return package

    def submit_multifile_download(self, job: MultiFileDownloadJob) -> None:
        """Queue a multi-file job made with ``multifile_download(..., submit_job=False)``."""
        if job.id < 0 or not job.download_parts:
            raise InvalidRequestError("submit a multi-file job made by multifile_download()")
        with self._lock:
            if job.id in self._packages:
                raise ValueError(f"job {job.id} is already in this queue")
            if self._closed:
                raise ServiceInactiveException("this queue is closed and takes no more downloads")
            job._error_gets_exception = takes_exception(job.on_error)
            job.job_added = job.job_added or iso_now()
            job.status = DownloadJobStatus.WAITING
            self._packages[job.id] = _Package(job)
            self._outboxes[job.id] = _Outbox()
            self._record(job)
        try:
            self._submit_all(job.parts)
        except BaseException:
            with self._lock:
                self._packages.pop(job.id, None)
                self._outboxes.pop(job.id, None)
            raise

    @staticmethod
    def _build_job(
        source: object,
        path: Path,
        priority: int,
        access_token: Optional[str],
        checksum: Optional[str],
        overwrite: bool,
        max_connections: Optional[int],
    ) -> DownloadJob:
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

    def submit_download_job(
        self,
        job: DownloadJob,
        on_start: Optional[DownloadEventHandler] = None,
        on_progress: Optional[DownloadEventHandler] = None,
        on_complete: Optional[DownloadEventHandler] = None,
        on_cancelled: Optional[DownloadEventHandler] = None,
        on_error: Optional[ErrorHandler] = None,
    ) -> None:
        """Queue a job built by the caller."""
        validate_source(job.source)
        job.access_token = validate_token(job.access_token)
        job.headers = validate_headers(job.headers)
        job.cookies = validate_cookies(job.cookies)
        job.dest = prepare_destination(job.dest)
        if job.checksum is not None:
            job.checksum = parse_checksum(job.checksum, None)
        job.set_callbacks(on_start, on_progress, on_complete, on_cancelled, on_error)
        with self._lock:
            if job.id in self._jobs and self._jobs[job.id] is job:
                raise ValueError(f"job {job.id} is already in this queue")
        self._submit_all([job])

    def _submit_all(self, jobs: list[DownloadJob]) -> list[DownloadJob]:
        """Register and queue jobs in one step; they are in the journal when this returns."""
        if self._closed:
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
            job._service = weakref.ref(self)
            job._error_gets_exception = takes_exception(job.on_error)
            job.job_added = job.job_added or added
        with self._lock:
            for job in jobs:
                if job.id in self._reserved_ids:
                    self._reserved_ids.discard(job.id)  # a package's file keeps its id
                else:
                    job.id = self._next_id
                    self._next_id += 1
                job.status = DownloadJobStatus.WAITING
                self._jobs[job.id] = job
                self._outboxes[job.id] = _Outbox()
                self._push(job)
                self._record(job)
        self._flush_journal()
        return jobs

    # -- public API: looking --------------------------------------------------------------

    def list_jobs(self) -> list[DownloadJob]:
        """Every job this queue knows, active or not, by id."""
        with self._lock:
            return list(self._jobs.values())

    def id_to_job(self, id: int) -> DownloadJob:
        """The job with this id; UnknownJobIDException if there is none."""
        with self._lock:
            try:
                return self._jobs[id]
            except KeyError:
                raise UnknownJobIDException(f"no job with id {id}") from None

    def list_multifile_jobs(self) -> list[MultiFileDownloadJob]:
        """Every multi-file job this queue knows, by id (their files are in ``list_jobs()``)."""
        with self._lock:
            return [package.job for package in self._packages.values()]

    def id_to_multifile_job(self, id: int) -> MultiFileDownloadJob:
        """The multi-file job with this id; UnknownJobIDException if there is none."""
        with self._lock:
            try:
                return self._packages[id].job
            except KeyError:
                raise UnknownJobIDException(f"no multi-file job with id {id}") from None

    def probe(
        self,
        source: object,
        access_token: Optional[str] = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        cookies: Cookies = None,
    ) -> ProbeResult:
        """Ask the server for a URL's name, size and type without downloading it (blocking)."""
        text = validate_source(source)
        access_token = validate_token(access_token)
        secrets = OriginSecrets.of(
            self._token(text, access_token), validate_headers(headers), validate_cookies(cookies)
        )
        return probe(self._client, text, secrets)

    # -- public API: control --------------------------------------------------------------

    def cancel_job(self, job: DownloadJobBase) -> None:
        """Stop the job and delete its partial file; a finished job is left as it is.

        A multi-file job is cancelled as one: every file not finished yet."""
        if isinstance(job, MultiFileDownloadJob):
            self._for_each_file(job, self.cancel_job, mark_cancelled=True)
            return
        assert isinstance(job, DownloadJob)
        removal: Optional[Path] = None
        with self._lock:
            job = self._known(job)
            if job.in_terminal_state:
                return
            running = self._running.get(job.id)
            if running is not None:
                running.resume_after_pause = False
                running.signal.abort(AbortReason.CANCEL)
                return
            self._end_cancelled(job)
            self._settling.add(job.id)
            removal = job.download_path
        if removal is not None:
            remove_partial(removal)
        with self._lock:
            self._release_claims(job.id)
            self._forget_if_removed(job)
        self._deliver(job)
        self._settled(job)
        self._flush_journal()

    def cancel_all_jobs(self) -> None:
        """Cancel every job that has not finished."""
        for job in self.list_jobs():
            if not job.in_terminal_state:
                self.cancel_job(job)

    def pause_job(self, job: DownloadJobBase) -> None:
        """Stop the job but keep its partial file; ``resume_job`` continues it."""
        if isinstance(job, MultiFileDownloadJob):
            self._for_each_file(job, self.pause_job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = self._known(job)
            if job.status == DownloadJobStatus.WAITING:
                self._set_status(job, DownloadJobStatus.PAUSED)
                self._queue_event(job, "download_paused")
                self._record(job)
                self._settling.add(job.id)
            elif job.status == DownloadJobStatus.RUNNING:
                running = self._running[job.id]
                running.resume_after_pause = False
                running.signal.abort(AbortReason.PAUSE)
                return
            else:
                return
        self._deliver(job)
        self._settled(job)
        self._flush_journal()

    def pause_all_jobs(self) -> None:
        for job in self.list_jobs():
            if job.status in (DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING):
                self.pause_job(job)

    def resume_job(self, job: DownloadJobBase) -> None:
        """Put a paused job back in the queue; it continues from its partial file.

        Finished jobs stay finished: ``retry_job`` runs a failed or cancelled one again.
        """
        if isinstance(job, MultiFileDownloadJob):
            self._for_each_file(job, self.resume_job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = self._known(job)
            if job.status == DownloadJobStatus.PAUSED:
                self._requeue(job)
            elif job.status == DownloadJobStatus.RUNNING:
                running = self._running[job.id]
                if running.signal.reason in (AbortReason.PAUSE, AbortReason.STOP):
                    running.resume_after_pause = True
                return
            else:
                return
        self._flush_journal()

    def resume_all_jobs(self) -> None:
        for job in self.list_jobs():
            if job.status == DownloadJobStatus.PAUSED:
                self.resume_job(job)

    def retry_job(self, job: DownloadJobBase) -> None:
        """Run a failed or cancelled job again.

        A failed job kept its partial file (after a full disk, say), so it continues from there;
        a cancelled one starts from zero. A multi-file job runs its failed and cancelled files
        again; the finished ones stay.
        """
        if isinstance(job, MultiFileDownloadJob):
            self._retry_package(job)
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = self._known(job)
            if job.status not in (DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED):
                return
            self._requeue(job)
        self._flush_journal()

    def change_source(
        self,
        job: DownloadJob,
        source: object,
        *,
        access_token: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        cookies: Cookies = None,
        prove_whole_file: bool = False,
    ) -> DownloadJob:
        """Give a download that is not running a new link, and continue it.

        For a link that expired (``link_expired``) or failed. When the download has part of
        its file, the new link must serve that file: the same size and the same bytes where
        the part file has them (see :mod:`._relink`); otherwise this raises
        :class:`SourceMismatchError` and nothing changes. The job's token, headers and cookies
        stay with it only when the new link is on the same origin; pass new ones for another.
        Blocks for the checking requests: call it off a GUI thread.

        ``prove_whole_file`` is for a link that someone else chose (a web page): on another
        host it continues from the part file only when the whole file will be checked (see
        :func:`._relink.whole_file_checked`); else the download starts again from zero, with
        ``resume_message`` saying why. Two matching ends prove nothing of the bytes between.
        """
        text = validate_source(source)
        token, extra, cookie = (
            validate_token(access_token),
            validate_headers(headers),
            validate_cookies(cookies),
        )
        with self._lock:
            job = self._known(job)
            if job.status in (DownloadJobStatus.RUNNING, DownloadJobStatus.WAITING):
                raise InvalidRequestError("pause the download before changing its link")
            if job.status == DownloadJobStatus.COMPLETED:
                raise InvalidRequestError("the download is complete: there is nothing to change")
            same_origin = origin_of(text) == origin_of(job.canonical_url or str(job.source))
            if same_origin:
                token = token or job.access_token
                extra = extra or dict(job.headers)
                cookie = cookie or job.cookies
            path = job.download_path
        state = load_part_state(path) if path is not None else None
        secrets = OriginSecrets.of(self._token(text, token), extra, cookie)
        restart = None
        if state is not None and path is not None and state.done:
            checked = verify_new_link(self._client, text, secrets, path, state)
            restart = (
                None
                if not prove_whole_file
                else restart_reason(
                    job.canonical_url or str(job.source),
                    text,
                    job.checksum,
                    state.etag or job.etag,
                    checked.etag,
                )
            )
            if restart is None:
                save_part_state(path, checked)
                state = checked
            else:
                remove_partial(path)
                state = None
        with self._lock:
            job.source = DownloadJob.model_validate({"source": text, "dest": job.dest}).source
            job.canonical_url = None
            job.final_url = None
            job.access_token, job.headers, job.cookies = token, extra, cookie
            job.etag = state.etag if state is not None else None
            job.last_modified = state.last_modified if state is not None else None
            job.link_expired = False
            job.resume_message = restart
            if restart is not None:
                job.bytes = 0
            self._requeue(job)  # paused, failed or cancelled: it runs again with the new link
        self._flush_journal()
        return job

    def set_login(self, job: DownloadJob, username: str, password: str) -> None:
        """Give a download the login its server asked for (``job.auth_challenge``), and run
        it again. In the scheme the challenge names (Digest or Basic); sent to the source's
        origin only, kept in memory only (never in the journal)."""
        login = validate_login((username, password))
        assert login is not None
        with self._lock:
            job = self._known(job)
            job.login = Login.for_challenge(login.username, login.password, job.auth_challenge)
            job.auth_challenge = None
            if job.status in (DownloadJobStatus.ERROR, DownloadJobStatus.PAUSED):
                self._requeue(job)
        self._flush_journal()

    def set_priority(self, job: DownloadJobBase, priority: int) -> None:
        """Change a job's priority; a waiting job moves in the queue at once."""
        if isinstance(job, MultiFileDownloadJob):
            with self._lock:
                job.priority = priority
                self._record(job)
            self._for_each_file(job, lambda file: self.set_priority(file, priority))
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = self._known(job)
            if job.priority == priority:
                return
            job.priority = priority
            if job.status == DownloadJobStatus.WAITING:
                self._push(job)
            self._record(job)
        self._flush_journal()

    def remove_job(self, job: DownloadJobBase) -> None:
        """Take a job off the list (and the journal); an unfinished one is cancelled first.

        A multi-file job goes with its files (the files on disk stay)."""
        if isinstance(job, MultiFileDownloadJob):
            self.cancel_job(job)
            with self._lock:
                self._forget_package(job)
            self._flush_journal()
            return
        assert isinstance(job, DownloadJob)
        with self._lock:
            job = self._known(job)
            self._remove_when_done.add(job.id)
            terminal = job.in_terminal_state
            if terminal:
                self._forget_if_removed(job)
        if terminal:
            self._flush_journal()
        else:
            self.cancel_job(job)

    def prune_jobs(self) -> None:
        """Remove completed, failed and cancelled jobs from the list and the journal.

        The files of a multi-file job go with it, when it has ended; not before."""
        with self._lock:
            for package in list(self._packages.values()):
                if package.job.in_terminal_state and self._package_settled(package.job):
                    self._forget_package(package.job)
            for job in [job for job in self._jobs.values() if job.in_terminal_state]:
                if job.package_id is None:
                    self._forget(job)
            kept = set(self._jobs)
        self._flush_journal()
        if self._journal is not None and self._left_in_journal:
            self._journal.delete_history(kept)  # the history not in memory goes too
            self._left_in_journal = 0

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait until no job is waiting or running (paused ones do not count); False on timeout.

        After ``stop()`` waiting jobs will not run, so join returns once the running ones ended.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._all_settled:
            waiting = self._scheduler
            while self._running or self._settling or (waiting.waiting and not self._stopped):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._all_settled.wait(remaining)
        return True

    def wait_for_job(self, job: _AnyJob, timeout: Optional[float] = 0) -> _AnyJob:
        """Wait until the job is no longer waiting or running; TimeoutError after ``timeout``
        seconds. ``0`` (InvokeAI's default) or None waits as long as it takes."""
        if timeout is not None and timeout < 0:
            raise ValueError("timeout must be 0 (no limit) or more")
        deadline = time.monotonic() + timeout if timeout else None
        if isinstance(job, MultiFileDownloadJob):
            with self._job_settled:
                while not self._package_settled(job):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise TimeoutError(f"job {job.id} did not finish within {timeout} s")
                    self._job_settled.wait(remaining)
            return job
        assert isinstance(job, DownloadJob)
        with self._job_settled:
            job = self._known(job)
            while (
                job.id in self._running
                or job.id in self._settling
                or (job.status == DownloadJobStatus.WAITING and not self._stopped)
            ):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"job {job.id} did not finish within {timeout} s")
                self._job_settled.wait(remaining)
        return job

    # -- public API: lifecycle and settings ---------------------------------------------------

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Run the queue; it already runs after construction, so this only undoes ``stop()``."""
        with self._lock:
            if not self._stopped:
                return
            if self._closed:
                raise RuntimeError("this queue is closed")
            self._stopped = False
            for job_id in sorted(self._resume_at_start):
                job = self._jobs.get(job_id)
                if job is not None and job.status == DownloadJobStatus.PAUSED:
                    self._requeue(job)
            self._resume_at_start.clear()
            self._spawn_workers()
        self._flush_journal()

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Pause running jobs (keeping their part files) and stop the workers; idempotent.

        Returns within a few seconds even if a connection is stuck; ``start()`` resumes.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            for running in self._running.values():
                running.signal.abort(AbortReason.STOP)
            self._work_available.notify_all()
            self._all_settled.notify_all()
            self._job_settled.notify_all()
            workers = list(self._workers)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for worker in workers:
            if worker is not threading.current_thread():
                worker.join(max(0.0, deadline - time.monotonic()))
        self._client.close_idle()
        self._flush_journal()

    def close(self) -> None:
        """Stop, and release the journal so another process can open it."""
        self.stop()
        with self._lock:
            self._closed = True
            journal, self._journal = self._journal, None
        if journal is not None:
            self._journal_closing.set()
            self._journal_wake.set()
            self._flush_journal_into(journal)
            journal.close()

    def __enter__(self) -> DownloadQueueService:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def set_group(self, name: str, max_parallel: Optional[int] = None, held: bool = False) -> None:
        """Rules for a named queue (jobs whose ``group`` is ``name``): at most ``max_parallel``
        of them run at once (None: no limit of its own), and none starts while ``held``."""
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("a queue runs at least one download at once")
        with self._lock:
            if max_parallel is None and not held:
                self._group_rules.pop(name, None)
            else:
                self._group_rules[name] = (max_parallel, held)
            self._work_available.notify_all()

    def _blocked(self, job: DownloadJob) -> bool:
        """Whether the job's named queue lets it start now (lock held)."""
        rules = self._group_rules.get(job.group) if job.group is not None else None
        if rules is None:
            return False
        limit, held = rules
        if held:
            return True
        if limit is None:
            return False
        running = sum(1 for r in self._running.values() if r.job.group == job.group)
        return running >= limit

    @property
    def held(self) -> bool:
        """While held, no waiting download starts; running ones go on (pause them to stop
        them). For schedules: the hours when downloads may run."""
        return self._held

    @held.setter
    def held(self, value: bool) -> None:
        with self._lock:
            self._held = bool(value)
            self._work_available.notify_all()

    @property
    def max_parallel_dl(self) -> int:
        return self._max_parallel

    @max_parallel_dl.setter
    def max_parallel_dl(self, value: int) -> None:
        if value < 1:
            raise ValueError("max_parallel_dl must be at least 1")
        with self._lock:
            self._max_parallel = value
            self._spawn_workers()
            self._work_available.notify_all()

    @property
    def max_connections_per_download(self) -> int:
        """Connections for one file, from the next job that starts."""
        return self._max_connections

    @max_connections_per_download.setter
    def max_connections_per_download(self, value: int) -> None:
        if value < 1:
            raise ValueError("max_connections_per_download must be at least 1")
        self._max_connections = value

    @property
    def max_connections_per_host(self) -> Optional[int]:
        return self._host_slots.limit

    @max_connections_per_host.setter
    def max_connections_per_host(self, value: Optional[int]) -> None:
        if value is not None and value < 1:
            raise ValueError("max_connections_per_host must be at least 1, or None")
        self._host_slots.limit = value

    @property
    def speed_limit(self) -> Optional[float]:
        """Bytes per second for all downloads together; None for no limit. Applies at once."""
        return self._limiter.rate

    @speed_limit.setter
    def speed_limit(self, value: Optional[float]) -> None:
        self._limiter.rate = value

    @property
    def callbacks(self) -> JobCallbacks:
        """Service-wide callbacks for jobs that have none of their own; may be replaced."""
        return self._callbacks

    @callbacks.setter
    def callbacks(self, value: JobCallbacks) -> None:
        self._error_gets_exception = takes_exception(value.on_error)
        self._callbacks = value

    @property
    def event_bus(self) -> Optional[object]:
        return self._event_bus

    @property
    def journal_path(self) -> Optional[Path]:
        return self._journal.path if self._journal is not None else None

    # -- multi-file jobs ---------------------------------------------------------------------

    def _package_of(self, job: MultiFileDownloadJob) -> _Package:
        with self._lock:
            package = self._packages.get(job.id)
        if package is None or package.job is not job:
            raise UnknownJobIDException(f"no multi-file job with id {job.id}")
        return package

    def _for_each_file(
        self,
        job: MultiFileDownloadJob,
        action: Callable[[DownloadJob], None],
        *,
        mark_cancelled: bool = False,
    ) -> None:
        """Apply a control to every file of a multi-file job (those the action does not fit
        ignore it: a finished file is not cancelled)."""
        package = self._package_of(job)
        if mark_cancelled:
            with self._lock:
                if not job.in_terminal_state:
                    package.cancelled = True
        for file in job.parts:
            with contextlib.suppress(UnknownJobIDException):  # a file pruned meanwhile
                action(file)
        with self._lock:
            self._refresh_package(package, None)
        self._deliver_package(job.id)
        self._flush_journal()

    def _retry_package(self, job: MultiFileDownloadJob) -> None:
        package = self._package_of(job)
        with self._lock:
            if job.status not in (DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED):
                return
            package.failed = package.cancelled = False
            package.failure = None
            job.error_type = job.error = None
            job.cancelled = False
            job.job_ended = None
        self._for_each_file(job, self.retry_job)

    def _package_settled(self, job: MultiFileDownloadJob) -> bool:
        """Whether a multi-file job is no longer waiting or running, its callbacks delivered
        (lock held)."""
        if job.status in (DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING):
            return False
        return not any(
            file.id in self._running or file.id in self._settling for file in job.download_parts
        )

    def _forget_package(self, job: MultiFileDownloadJob) -> None:
        """Drop a multi-file job and its files from memory and the journal (lock held)."""
        self._packages.pop(job.id, None)
        self._outboxes.pop(job.id, None)
        self._versions.pop(job.id, None)
        for file in job.download_parts:
            if self._jobs.get(file.id) is file:
                if file.in_terminal_state:
                    self._forget(file)
                else:  # cancelled a moment ago, still stopping: gone once it has
                    self._remove_when_done.add(file.id)
        if self._journal is not None:
            self._journal_queue.append(job.id)

    def _file_changed(self, file: DownloadJob, name: str, failure: Optional[BaseException]) -> None:
        """A file of a multi-file job changed: add it up (lock held)."""
        package = self._packages.get(file.package_id) if file.package_id is not None else None
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
        self._refresh_package(package, name)

    def _refresh_package(self, package: _Package, name: Optional[str]) -> None:
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
                    self._queue_package(job, "download_progress")
            return
        job.status = status
        if status == DownloadJobStatus.RUNNING:
            job.job_started = iso_now()
            job.job_ended = None
            self._queue_package(job, "download_started")
        elif status == DownloadJobStatus.COMPLETED:
            job.job_ended = iso_now()
            if package.reported != job.bytes:
                self._queue_package(job, "download_progress")
            self._queue_package(job, "download_complete")
        elif status == DownloadJobStatus.ERROR:
            job.job_ended = iso_now()
            self._queue_package(job, "download_error", package.failure)
        elif status == DownloadJobStatus.CANCELLED:
            job.job_ended = iso_now()
            job.cancelled = True
            job.error_type = DownloadJobCancelledException.__name__
            self._queue_package(job, "download_cancelled")
        elif status == DownloadJobStatus.PAUSED:
            package.active = False
            self._queue_package(job, "download_paused")
        self._record(job)

    def _queue_package(
        self, job: MultiFileDownloadJob, name: str, failure: Optional[BaseException] = None
    ) -> None:
        outbox = self._outboxes.get(job.id)
        if outbox is not None:
            outbox.items.append((name, None, failure))

    def _deliver_package(self, package_id: int) -> None:
        """Deliver a multi-file job's callbacks (lock not held), then cancel what its files'
        failure or cancellation left going."""
        with self._lock:
            package = self._packages.get(package_id)
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
                        self.cancel_job(file)

    # -- scheduling (lock held) -----------------------------------------------------------

    def _known(self, job: Union[DownloadJob, int]) -> DownloadJob:
        job_id = job if isinstance(job, int) else job.id
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJobIDException(f"no job with id {job_id}") from None

    def _set_status(self, job: DownloadJob, status: DownloadJobStatus) -> None:
        if job.status == DownloadJobStatus.WAITING and status != DownloadJobStatus.WAITING:
            self._scheduler.discard(job.id)
        job.status = status

    def _push(self, job: DownloadJob) -> None:
        """Queue a job to run (again); it waits from now on."""
        job.status = DownloadJobStatus.WAITING
        self._scheduler.enqueue(job)
        self._work_available.notify()

    def _requeue(self, job: DownloadJob) -> None:
        job.error_type = None
        job.error = None
        job.job_ended = None
        if job.resume_required:  # the server would refuse the partial file again
            job.resume_required = False
            self._start_over[job.id] = True
        if job.link_expired:  # resumed as it is: maybe the server refused for a moment
            job.link_expired = False
            job.resume_message = None
        if job.status == DownloadJobStatus.CANCELLED:
            job.cancelled = False
            job.bytes = 0
        self._push(job)
        self._record(job)
        package = self._packages.get(job.package_id) if job.package_id is not None else None
        if package is not None:
            self._refresh_package(package, None)

    def _ask_ahead(self, jobs: list[DownloadJob]) -> None:
        """Let this worker send the first request of the jobs next in line (:mod:`._ahead`).

        Only downloads into a folder: their first request is known (the whole file, no resume
        state yet). If a job is cancelled, moved back or taken by another worker meanwhile,
        its answer is dropped unused.
        """
        asked = self._asked_ahead
        wanted = [
            (str(job.source), self._secrets(str(job.source), job))
            for job in jobs
            if job.download_path is None and job.id not in asked
        ]
        asked.clear()  # only the jobs next in line matter: the set stays small
        asked.update(job.id for job in jobs)
        if wanted:
            self._client.ask_ahead(wanted)

    def _token(self, url: str, given: Optional[str]) -> Optional[str]:
        """The bearer token for ``url``: the one given with the job, else the first rule's
        (ours, then the app config's, read as it is now)."""
        return given or token_for(url, self._token_rules) or self._app_config.token_for(url)

    def _secrets(self, url: str, job: DownloadJob) -> Optional[OriginSecrets]:
        """What goes to ``url``'s origin with ``job``'s requests: its token, headers, cookies
        and login."""
        return OriginSecrets.of(
            self._token(url, job.access_token), job.headers, job.cookies, job.login
        )

    def _spawn_workers(self) -> None:
        while len(self._workers) < self._max_parallel and not self._stopped:
            worker = threading.Thread(
                target=self._work, name=f"fetchq-worker-{len(self._workers)}", daemon=True
            )
            self._workers.add(worker)
            worker.start()

    def _work(self) -> None:
        try:
            self._work_until_retired()
        finally:
            self._client.forget_thread()

    def _work_until_retired(self) -> None:
        me = threading.current_thread()
        small_files = False  # the last job this worker ran was a small file: ask ahead
        while True:
            with self._lock:
                job = None
                while job is None:
                    if self._stopped or len(self._workers) > self._max_parallel:
                        self._workers.discard(me)
                        self._ramp.stop(me)
                        return
                    delay = None
                    if self._scheduler and not self._held:
                        delay = start_delay(
                            (other.started for other in self._running.values()),
                            self._max_parallel,
                            time.monotonic(),
                        )
                        if delay == 0.0:
                            job = self._scheduler.pop(self._blocked if self._group_rules else None)
                            if job is not None:
                                break
                            delay = None
                    self._work_available.wait(self._ramp.sleep_for(me, delay))
                self._ramp.started_one(me)
                running = self._start_job(job)
                upcoming = self._scheduler.upcoming(ASK_AHEAD) if small_files else []
            try:
                self._ask_ahead(upcoming)
                self._deliver(job)
                self._run(job, running)
            except BaseException as exc:  # no job may take its worker (and join()) with it
                self._salvage(job, exc)
            # Asking ahead pays where files are small; for large ones each answer asked ahead
            # is dropped, a connection (a TLS handshake) wasted.
            small_files = job.complete and job.total_bytes <= SMALL_FILE

    def _salvage(self, job: DownloadJob, exc: BaseException) -> None:
        """Something failed around a job's transfer (a bug, a callback's bus, the journal):
        end the job in error with what happened, and let the worker go on."""
        logger.error("fetchq: job %s failed outside its transfer", job.id, exc_info=exc)
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._lock:
            self._running.pop(job.id, None)
            self._settling.add(job.id)
            if not job.in_terminal_state:
                job.error_type = describe_error(exc)
                job.error = text
                job.job_ended = iso_now()
                self._set_status(job, DownloadJobStatus.ERROR)
                with contextlib.suppress(Exception):
                    self._queue_event(job, "download_error", exc)
            self._release_claims(job.id)
            with contextlib.suppress(Exception):
                self._record(job)
        with contextlib.suppress(Exception):
            self._deliver(job)
        self._settled(job)

    def _start_job(self, job: DownloadJob) -> _Running:
        self._set_status(job, DownloadJobStatus.RUNNING)
        job.job_sequence = self._dequeues
        self._dequeues += 1
        job.job_started = iso_now()
        job.job_ended = None
        job.already_downloaded = False
        running = _Running(self, job)
        self._running[job.id] = running
        # download_started waits for the server's answer (_set_target): a 404 gives an error
        # event alone, and the started event carries the download path, as InvokeAI's does.
        self._queue_event(job, "download_running")
        # Not journaled: a restored job that was running is queued again like a waiting one,
        # and its start time is written with its next change.
        return running

    # -- running a job ------------------------------------------------------------------------

    def _run(self, job: DownloadJob, running: _Running) -> None:
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
            secrets=self._secrets(source, job),
            checksum=checksum,
            overwrite=job.overwrite,
            max_connections=job.max_connections or self._max_connections,
            expected_total=job.expected_total_bytes,
            etag=job.etag,
            last_modified=job.last_modified,
            content_type=job.content_type,
            categories=self.categories if job.by_category else (),
            start_over=running.start_over,
        )
        outcome: Any = None
        failure: Optional[BaseException] = None
        failure_text = ""
        try:
            self._journal_soon()
            outcome = Transfer(request, self._client, self._settings, running).run()
        except TransferAborted as aborted:
            failure = aborted
        except BaseException as exc:  # a worker thread never dies, whatever a server sends
            failure = exc
            failure_text = traceback.format_exc()
            if not isinstance(exc, Exception):
                logger.error("fetchq: job %s stopped by %r", job.id, exc)
        self._finish_job(job, running, outcome, failure, failure_text)

    def _finish_job(
        self,
        job: DownloadJob,
        running: _Running,
        outcome: Any,
        failure: Optional[BaseException],
        failure_text: str,
    ) -> None:
        with self._lock:
            del self._running[job.id]
            self._settling.add(job.id)
            job.job_ended = iso_now()
            job.waiting_for = None
            if failure is None:
                job.already_downloaded = outcome.reused_existing
                job.download_path = outcome.download_path
                job.bytes = outcome.size
                # total_bytes is the size the server announced: 0 when it never said.
                job.total_bytes = outcome.size if outcome.size_announced else 0
                self._announce(job, running)
                if running.reported != job.bytes:  # the last bytes need a progress event
                    self._queue_event(job, "download_progress")
                self._set_status(job, DownloadJobStatus.COMPLETED)
                self._queue_event(job, "download_complete")
            elif isinstance(failure, LinkExpiredError):
                job.link_expired = True
                job.resume_message = str(failure)
                self._set_status(job, DownloadJobStatus.PAUSED)
                self._queue_event(job, "download_paused")
            elif isinstance(failure, ResumeRequired):
                job.resume_required = True
                job.resume_message = str(failure)
                self._set_status(job, DownloadJobStatus.PAUSED)
                self._queue_event(job, "download_paused")
            elif isinstance(failure, TransferAborted):
                if failure.reason is AbortReason.CANCEL:
                    self._end_cancelled(job)
                else:
                    self._set_status(job, DownloadJobStatus.PAUSED)
                    self._queue_event(job, "download_paused")
                    if running.resume_after_pause and not self._stopped:
                        self._requeue(job)
                    elif failure.reason is AbortReason.STOP:
                        self._resume_at_start.add(job.id)
            else:
                job.error_type = describe_error(failure)
                job.error = failure_text or job.error_type
                self._set_status(job, DownloadJobStatus.ERROR)
                self._queue_event(job, "download_error", failure)
            if job.in_terminal_state:
                self._release_claims(job.id)
            self._record(job)
            self._forget_if_removed(job)
            # No notify: this worker takes the next job itself in a moment. Waking an idle one
            # here made it contend for the lock and the interpreter after every small file
            # (seven futex calls a file), only to find the ramp says wait.
        self._deliver(job)
        self._settled(job)

    def _settled(self, job: DownloadJob) -> None:
        """The job's callbacks for its new state have run: now waiters may see it."""
        with self._lock:
            self._settling.discard(job.id)
            self._job_settled.notify_all()
            idle = not self._running and not self._settling
            if idle and (self._stopped or not self._scheduler.waiting):
                self._all_settled.notify_all()

    def _end_cancelled(self, job: DownloadJob) -> None:
        job.cancelled = True
        job.error_type = DownloadJobCancelledException.__name__
        job.error = None
        job.job_ended = job.job_ended or iso_now()
        self._set_status(job, DownloadJobStatus.CANCELLED)
        self._queue_event(job, "download_cancelled")
        self._record(job)

    # -- destinations -------------------------------------------------------------------------

    def _claim(self, job: DownloadJob, path: Path) -> bool:
        keys = _claim_keys(path)
        with self._lock:
            for key in keys:
                owner = self._claims.get(key)
                if owner is not None and owner != job.id:
                    return False
            for key in keys:
                self._claims[key] = job.id
            self._claims_by_job.setdefault(job.id, set()).update(keys)
        return True

    def _unclaim(self, job: DownloadJob, path: Path) -> None:
        keys = _claim_keys(path)
        with self._lock:
            held = self._claims_by_job.get(job.id, set())
            for key in keys:
                if self._claims.get(key) == job.id:
                    del self._claims[key]
                held.discard(key)

    def _release_claims(self, job_id: int) -> None:
        for key in self._claims_by_job.pop(job_id, ()):
            if self._claims.get(key) == job_id:
                del self._claims[key]

    def _set_target(
        self, job: DownloadJob, path: Path, total: Optional[int], content_type: Optional[str]
    ) -> None:
        with self._lock:
            changed = job.download_path != path
            job.download_path = path
            if total:
                job.total_bytes = job.expected_total_bytes = total
            if content_type:
                job.content_type = content_type
            running = self._running.get(job.id)
            announce = running is not None and not running.announced
            if running is not None:
                self._announce(job, running)
            # The journal needs the path of a download it may have to resume: one that writes a
            # sidecar. A small one is done in a moment, and its final record carries the path.
            resumable = total is None or total >= self._settings.lazy_sidecar_below
            if changed and resumable:
                self._record(job)
        if changed and resumable:
            self._journal_soon()
        if announce:
            self._deliver(job)

    def _announce(self, job: DownloadJob, running: _Running) -> None:
        """Queue download_started once a run's first answer names the file (lock held)."""
        if not running.announced:
            running.announced = True
            self._queue_event(job, "download_started")

    # -- events ------------------------------------------------------------------------------

    def _queue_event(
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
            event = None
            if self._event_bus is not None and name not in _CALLBACK_ONLY:
                event = make_event(name, job, **(fields or {}))
            outbox.items.append((name, event, failure))
        if job.package_id is not None:
            self._file_changed(job, name, failure)

    def _post(self, job: DownloadJob, name: str, **fields: object) -> None:
        with self._lock:
            self._queue_event(job, name, None, fields)
        self._deliver(job)

    def _deliver(self, job: DownloadJob) -> None:
        """Deliver the job's queued callbacks and events, in order (lock not held)."""
        outbox = self._outboxes.get(job.id)
        if outbox is None:
            return
        with outbox.lock:
            items = outbox.items
            while items:
                name, event, failure = items.popleft()
                if name in _CALLBACK_ONLY:
                    handler = self._callbacks.on_running
                    if handler is not None:
                        call_safely(handler, job)
                    continue
                handler_name = _EVENT_CALLBACKS.get(name)
                if handler_name is not None:
                    own = getattr(job, handler_name)
                    handler = own or getattr(self._callbacks, handler_name)
                    if handler is None:
                        pass
                    elif name == "download_error" and (
                        job._error_gets_exception if own else self._error_gets_exception
                    ):
                        call_safely(handler, job, failure)
                    else:
                        call_safely(handler, job)
                if event is not None:  # built only when there is a bus
                    publish(self._event_bus, event, job)
        if job.package_id is not None:
            self._deliver_package(job.package_id)
        self._journal_soon()

    # -- journal -----------------------------------------------------------------------------

    def _record(self, job: DownloadJobBase) -> None:
        """Queue the job's current state for the journal (lock held). A multi-file job is
        written without its files: each is a record of its own, naming it (``package_id``)."""
        if self._journal is None:
            return
        version = self._versions.get(job.id, 0) + 1
        self._versions[job.id] = version
        if isinstance(job, MultiFileDownloadJob):
            data = job.model_dump_json(exclude={"download_parts"})
        else:
            assert isinstance(job, DownloadJob)
            finished = job.status == DownloadJobStatus.COMPLETED
            links = {"source": stored_link(str(job.source), finished)}
            if job.final_url is not None:
                links["final_url"] = stored_link(job.final_url, finished)
            data = stored_data(job.model_dump_json(), links)
        self._journal_queue.append(
            JournalRecord(
                id=job.id,
                version=version,
                status=job.status.value,
                resume=job.id in self._resume_at_start,
                data=data,
            )
        )

    def _journal_soon(self) -> None:
        """Worker-side changes are group-committed by the writer thread within ~20 ms.

        Workers need not wait for the disk: a lost "completed" record costs nothing, since a
        restored job finds its identical file and completes without downloading.
        """
        if self._journal is not None and not self._journal_wake.is_set():
            self._journal_wake.set()  # already set: the writer has yet to clear it and flush

    def _journal_writer(self) -> None:
        while not self._journal_closing.is_set():
            self._journal_wake.wait()
            self._journal_wake.clear()
            self._journal_closing.wait(JOURNAL_COALESCE_SECONDS)
            self._flush_journal()

    def _flush_journal(self) -> None:
        """Write every queued journal change now: API calls return only after this."""
        journal = self._journal
        if journal is not None and self._journal_queue:
            self._flush_journal_into(journal)

    def _flush_journal_into(self, journal: Journal) -> None:
        with self._journal_flush_lock:
            changes: list[JournalChange] = []
            while self._journal_queue:
                changes.append(self._journal_queue.popleft())
            if changes:
                try:
                    journal.apply(changes)
                except Exception:
                    logger.exception("fetchq: cannot write the journal %s", journal.path)

    def _forget(self, job: DownloadJob) -> None:
        """Drop a finished job from memory and the journal (lock held)."""
        self._jobs.pop(job.id, None)
        self._outboxes.pop(job.id, None)
        self._versions.pop(job.id, None)
        self._remove_when_done.discard(job.id)
        self._release_claims(job.id)
        if self._journal is not None:
            self._journal_queue.append(job.id)

    def _forget_if_removed(self, job: DownloadJob) -> None:
        if job.id in self._remove_when_done and job.in_terminal_state:
            self._forget(job)

    def _leave_history(self, records: Sequence[JournalRecord], keep: int) -> list[JournalRecord]:
        """The records to restore: all but the history (:func:`._journal.is_history`) older
        than the newest ``keep``, which stays in the journal (:meth:`history`)."""
        finished = [r.id for r in records if is_history(r)]
        left = set(sorted(finished)[: max(0, len(finished) - keep)])
        if records:
            self._next_id = max(self._next_id, max(r.id for r in records) + 1)
        self._left_in_journal = len(left)
        return [r for r in records if r.id not in left]

    def history(self, search: str = "", offset: int = 0, limit: int = 100) -> list[DownloadJob]:
        """Finished downloads the journal holds but memory does not (see ``history_in_memory``),
        newest first; ``search`` matches their link or file path, in any case. The jobs are
        copies to look at: the queue does not run them."""
        if self._journal is None:
            return []
        with self._lock:
            in_memory = set(self._jobs)
        records = self._journal.search_history(search, 0, offset + limit + len(in_memory))
        found = []
        for record in [r for r in records if r.id not in in_memory][offset : offset + limit]:
            try:
                job = DownloadJob.model_validate_json(record.data)
            except ValidationError:
                continue  # one unreadable record hides itself, not the rest
            job.id = record.id
            found.append(job)
        return found

    def forget_history(self, ids: Iterable[int]) -> None:
        """Remove finished downloads from the journal (and from the list, if there)."""
        gone = list(ids)
        with self._lock:
            for job_id in gone:
                job = self._jobs.get(job_id)
                if job is not None and job.in_terminal_state:
                    self._forget(job)
            self._journal_queue.extend(gone)
        self._flush_journal()

    def _restored(self, model: type[_AnyJob], record: JournalRecord) -> _AnyJob:
        """A job (or multi-file job) read back from its journal record, owned by this queue;
        an unreadable record is a corrupt journal."""
        try:
            job = model.model_validate_json(record.data)
        except ValidationError as exc:
            raise JournalCorruptError(
                f"job {record.id} in the journal is unreadable: {exc}"
            ) from None
        job.id = record.id
        job._service = weakref.ref(self)
        self._versions[job.id] = record.version
        self._next_id = max(self._next_id, job.id + 1)
        return job

    def _restore(
        self,
        records: Sequence[JournalRecord],
        resume: bool,
        on_restore: Optional[Callable[[DownloadJob], None]],
    ) -> None:
        """Rebuild the queue from the journal: finished jobs listed, the others queued again.

        A multi-file job is rebuilt from its files' records; its status is what they add up to.
        """
        requeue: list[DownloadJob] = []
        packages: dict[int, MultiFileDownloadJob] = {}
        for record in records:
            if '"source":' not in record.data:  # a multi-file job: its files follow
                package = self._restored(MultiFileDownloadJob, record)
                packages[package.id] = package
                continue
            job = self._restored(DownloadJob, record)
            job.access_token = token_for(str(job.source), self._token_rules)
            status = job.status
            if status not in TERMINAL_STATUSES and job.download_path is not None:
                state = load_part_state(job.download_path)
                if state is not None:
                    job.bytes = state.done.size()
                    job.total_bytes = state.total or job.total_bytes
                self._claim(job, job.download_path)
            if on_restore is not None:
                call_safely(on_restore, job)
            self._jobs[job.id] = job
            self._outboxes[job.id] = _Outbox()
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
                self._dequeues = max(self._dequeues, job.job_sequence + 1)
        with self._lock:
            for job in sorted(requeue, key=lambda j: (j.priority, j.id)):
                self._push(job)
                self._record(job)
            for package in packages.values():
                self._restore_package(package)
        self._flush_journal()

    def _restore_package(self, package: MultiFileDownloadJob) -> None:
        """Attach a restored multi-file job's files, and add them up (lock held)."""
        files = {job for job in self._jobs.values() if job.package_id == package.id}
        if not files:  # its files were never written: nothing to download, nothing to show
            self._versions.pop(package.id, None)
            if self._journal is not None:
                self._journal_queue.append(package.id)
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
        self._packages[package.id] = state
        self._outboxes[package.id] = _Outbox()
