"""DownloadQueueService: InvokeAI's API over the registry, the scheduler and the engine.

Shared state is guarded by one lock that is never held across I/O or callbacks. The other
concerns live in their own modules, each a component this service owns: job control
(:mod:`._control`), multi-file jobs (:mod:`._packages`), callbacks and events (:mod:`._dispatch`),
destination claims (:mod:`._claims`), the journal writer (:mod:`._journal_writer`), history
(:mod:`._history`), submission (:mod:`._submit`), the engine side (:mod:`._runner`), waiting
(:mod:`._waiting`), and opening, starting, stopping and closing (:mod:`._lifecycle`). Two parts
of the API are base classes of their own: the control methods (:mod:`._queue_control`) and the
settings (:mod:`._queue_settings`); :mod:`._queue_setup` turns the constructor's network
arguments into the transfer settings and the HTTP client.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union

from ._app_config import AppConfigView
from ._categories import DEFAULT_CATEGORIES, Category
from ._claims import Claims
from ._control import JobControl
from ._dispatch import EventDispatcher, JobCallbacks, _Outbox
from ._exceptions import (
    InvalidDestinationError,
    UnknownJobIDException,
)
from ._history import History
from ._http import OriginSecrets, token_for
from ._job import (
    DownloadEventHandler,
    DownloadJob,
    ErrorHandler,
    MultiFileDownloadJob,
)
from ._journal_writer import JournalWriter
from ._lifecycle import Lifecycle
from ._limits import HostSlots, HostTrials, RateLimiter
from ._packages import PackageTracker
from ._probe import ProbeResult, probe
from ._queue_control import QueueControl
from ._queue_settings import QueueRules, QueueSettings
from ._queue_setup import http_client_of, token_rules_of, transfer_settings_of
from ._retry import RetryPolicy, Timeouts
from ._runner import Runner, RunningJob
from ._scheduler import Scheduler
from ._submit import Cookies, Submission, _Options, build_job
from ._transfer import TransferOutcome, TransferSettings
from ._validation import (
    parse_checksum,
    prepare_destination,
    validate_cookies,
    validate_headers,
    validate_source,
    validate_token,
)
from ._waiting import Waiting

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("fetchq")

_AnyJob = TypeVar("_AnyJob", DownloadJob, MultiFileDownloadJob)

CALLBACK_NAMES = ("on_start", "on_progress", "on_complete", "on_cancelled", "on_error")


class DownloadQueueService(QueueSettings, QueueControl):
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
        self._running: dict[int, RunningJob] = {}
        self._rules = QueueRules(self._running, max_parallel_dl, max_connections_per_download)
        self._settings = transfer_settings_of(transfer_settings, retry, timeouts)
        self.categories: tuple[Category, ...] = DEFAULT_CATEGORIES
        """Where downloads added with ``by_category=True`` go, by file type; replace freely."""
        self._token_rules = token_rules_of(tokens)
        self._app_config = config
        self._limiter = RateLimiter(speed_limit)
        self._host_slots = HostSlots(max_connections_per_host)
        self._host_trials = HostTrials()
        self._client = http_client_of(
            config,
            requests_session,
            self._settings.timeouts,
            address_policy=address_policy,
            allow_private_addresses=allow_private_addresses,
            proxy=proxy,
            http2=http2,
            ca_bundle=ca_bundle,
        )

        self._lock = threading.Lock()
        self._waiting = Waiting(self)
        self._jobs: dict[int, DownloadJob] = {}
        self._reserved_ids: set[int] = set()  # given to files of a package not yet submitted
        self._scheduler = Scheduler(self._jobs)
        self._settling: set[int] = set()  # changed state, callbacks not yet delivered
        self._outboxes: dict[int, _Outbox] = {}
        self._resume_at_start: set[int] = set()
        self._start_over: dict[int, bool] = {}  # resumed after resume_required: from zero
        self._remove_when_done: set[int] = set()
        self._next_id = 0
        self._dequeues = 0
        self._stopped = False
        self._closed = False

        self._writer = JournalWriter(None, self._resume_at_start)
        self._claims = Claims(self._lock)
        self._packages = PackageTracker(self, self._outboxes)
        self._dispatch = EventDispatcher(
            self._lock,
            self._outboxes,
            event_bus,
            callbacks or JobCallbacks(),
            self._packages,
            self._writer,
        )
        self._control = JobControl(self)
        self._submission = Submission(self)
        self._history = History(self)
        self._runner = Runner(self)
        self._lifecycle = Lifecycle(self)
        if journal is not None:
            self._lifecycle.open_journal(journal, history_in_memory, resume_restored, on_restore)
        self._runner.kick()

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
        job = build_job(
            source, path, priority, access_token, normalised, overwrite, max_connections
        )
        _Options.of(headers, cookies, login, by_category, group).set_on(job, path)
        # The token a rule gives is the job's from now on, as InvokeAI sets it (never stored).
        job.access_token = self._token(str(job.source), job.access_token)
        job.set_callbacks(on_start, on_progress, on_complete, on_cancelled, on_error)
        return self._submission.submit_all([job])[0]

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
            build_job(text, path, priority, access_token, normalised, overwrite, max_connections)
            for text in texts
        ]
        for job in jobs:
            options.set_on(job, path)
        return self._submission.submit_all(jobs)

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
        package, files = self._packages.build(parts, dest, access_token, priority, overwrite)
        package.set_callbacks(on_start, on_progress, on_complete, on_cancelled, on_error)
        self._packages.reserve(package, files)
        if submit_job:
            self.submit_multifile_download(package)
        return package

    def submit_multifile_download(self, job: MultiFileDownloadJob) -> None:
        """Queue a multi-file job made with ``multifile_download(..., submit_job=False)``."""
        self._packages.submit(job)

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
        self._submission.submit_all([job])

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
            return [package.job for package in self._packages.tracked.values()]

    def id_to_multifile_job(self, id: int) -> MultiFileDownloadJob:
        """The multi-file job with this id; UnknownJobIDException if there is none."""
        with self._lock:
            try:
                return self._packages.tracked[id].job
            except KeyError:
                raise UnknownJobIDException(f"no multi-file job with id {id}") from None

    def _known(self, job: Union[DownloadJob, int]) -> DownloadJob:
        job_id = job if isinstance(job, int) else job.id
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJobIDException(f"no job with id {job_id}") from None

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

    def history(self, search: str = "", offset: int = 0, limit: int = 100) -> list[DownloadJob]:
        """Finished downloads the journal holds but memory does not (see ``history_in_memory``),
        newest first; ``search`` matches their link or file path, in any case. The jobs are
        copies to look at: the queue does not run them."""
        return self._history.search(search, offset, limit)

    def forget_history(self, ids: Iterable[int]) -> None:
        """Remove finished downloads from the journal (and from the list, if there)."""
        self._history.forget(ids)

    # -- public API: waiting (see :mod:`._waiting`) ---------------------------------------

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait until no job is waiting or running (paused ones do not count); False on timeout.

        After ``stop()`` waiting jobs will not run, so join returns once the running ones ended.
        """
        return self._waiting.join(timeout)

    def wait_for_job(self, job: _AnyJob, timeout: Optional[float] = 0) -> _AnyJob:
        """Wait until the job is no longer waiting or running; TimeoutError after ``timeout``
        seconds. ``0`` (InvokeAI's default) or None waits as long as it takes."""
        return self._waiting.wait_for_job(job, timeout)

    # -- public API: lifecycle (see :mod:`._lifecycle`) -----------------------------------------

    def start(self, *args: Any, **kwargs: Any) -> None:
        """Run the queue; it already runs after construction, so this only undoes ``stop()``."""
        self._lifecycle.start()

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Pause running jobs (keeping their part files), start no more; idempotent.

        Returns within a few seconds even if a connection is stuck; ``start()`` resumes.
        """
        self._lifecycle.stop()

    def close(self) -> None:
        """Stop, end the engine's threads, and release the journal so another process can
        open it."""
        self.stop()
        self._lifecycle.close()

    def __enter__(self) -> DownloadQueueService:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    # -- the engine's side (:mod:`._runner`) ---------------------------------------------------

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

    def _finish_job(
        self,
        job: DownloadJob,
        running: RunningJob,
        outcome: Optional[TransferOutcome],
        failure: Optional[BaseException],
        failure_text: str,
    ) -> None:
        self._runner.finish_job(job, running, outcome, failure, failure_text)
