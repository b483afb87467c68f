"""DownloadQueueService: InvokeAI's API over the registry, the scheduler and the engine.

Shared state is guarded by one lock that is never held across I/O or callbacks. The other
concerns live in their own modules, each a component this service owns: job control
(:mod:`._control`), multi-file jobs (:mod:`._packages`), callbacks and events (:mod:`._dispatch`),
destination claims (:mod:`._claims`), the journal writer (:mod:`._journal_writer`) and history
(:mod:`._history`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union

from ._abort import AbortReason
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
from ._http import HttpClient, OriginSecrets, TokenRule, is_public_address, token_for
from ._job import (
    DownloadEventHandler,
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    ErrorHandler,
    MultiFileDownloadJob,
)
from ._journal import Journal
from ._journal_writer import JournalWriter
from ._limits import HostSlots, HostTrials, RateLimiter
from ._packages import PackageTracker
from ._probe import ProbeResult, probe
from ._retry import RetryPolicy, Timeouts
from ._runner import Runner, RunningJob
from ._scheduler import Scheduler
from ._service_base import DownloadQueueServiceBase
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

if TYPE_CHECKING:
    import requests

logger = logging.getLogger("fetchq")

_AnyJob = TypeVar("_AnyJob", DownloadJob, MultiFileDownloadJob)

CALLBACK_NAMES = ("on_start", "on_progress", "on_complete", "on_cancelled", "on_error")
STOP_GRACE_SECONDS = 5.0


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
        self._max_parallel = max_parallel_dl
        self._max_connections = max_connections_per_download
        self._held = False
        self._group_rules: dict[str, tuple[Optional[int], bool]] = {}
        self.categories: tuple[Category, ...] = DEFAULT_CATEGORIES
        """Where downloads added with ``by_category=True`` go, by file type; replace freely."""
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
        # join() waits for "nothing active"; wait_for_job() for one job to settle. Both are
        # woken only when that may have happened, not on every change of every job.
        self._all_settled = threading.Condition(self._lock)
        self._job_settled = threading.Condition(self._lock)
        self._jobs: dict[int, DownloadJob] = {}
        self._reserved_ids: set[int] = set()  # given to files of a package not yet submitted
        self._scheduler = Scheduler(self._jobs)
        self._running: dict[int, RunningJob] = {}
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
        if journal is not None:
            self._writer.journal = Journal(journal)
            try:
                records = self._writer.journal.load()
                if history_in_memory is not None:
                    records = self._history.leave(records, history_in_memory)
                self._history.restore(records, resume_restored, on_restore)
            except BaseException:
                self._writer.journal.close()
                raise
            self._writer.start()
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

    # -- public API: control (see :mod:`._control`) ----------------------------------------

    def cancel_job(self, job: DownloadJobBase) -> None:
        """Stop the job and delete its partial file; a finished job is left as it is.

        A multi-file job is cancelled as one: every file not finished yet."""
        self._control.cancel(job)

    def cancel_all_jobs(self) -> None:
        """Cancel every job that has not finished."""
        for job in self.list_jobs():
            if not job.in_terminal_state:
                self.cancel_job(job)

    def pause_job(self, job: DownloadJobBase) -> None:
        """Stop the job but keep its partial file; ``resume_job`` continues it."""
        self._control.pause(job)

    def pause_all_jobs(self) -> None:
        for job in self.list_jobs():
            if job.status in (DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING):
                self.pause_job(job)

    def resume_job(self, job: DownloadJobBase) -> None:
        """Put a paused job back in the queue; it continues from its partial file.

        Finished jobs stay finished: ``retry_job`` runs a failed or cancelled one again.
        """
        self._control.resume(job)

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
        self._control.retry(job)

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
        return self._control.change_source(
            job, source, access_token, headers, cookies, prove_whole_file
        )

    def set_login(self, job: DownloadJob, username: str, password: str) -> None:
        """Give a download the login its server asked for (``job.auth_challenge``), and run
        it again. In the scheme the challenge names (Digest or Basic); sent to the source's
        origin only, kept in memory only (never in the journal)."""
        self._control.set_login(job, username, password)

    def set_priority(self, job: DownloadJobBase, priority: int) -> None:
        """Change a job's priority; a waiting job moves in the queue at once."""
        self._control.set_priority(job, priority)

    def remove_job(self, job: DownloadJobBase) -> None:
        """Take a job off the list (and the journal); an unfinished one is cancelled first.

        A multi-file job goes with its files (the files on disk stay)."""
        self._control.remove(job)

    def prune_jobs(self) -> None:
        """Remove completed, failed and cancelled jobs from the list and the journal.

        The files of a multi-file job go with it, when it has ended; not before."""
        self._control.prune()

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
                while not self._packages.settled(job):
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
                    self._control.requeue(job)
            self._resume_at_start.clear()
        self._runner.kick()
        self._writer.flush()

    def stop(self, *args: Any, **kwargs: Any) -> None:
        """Pause running jobs (keeping their part files), start no more; idempotent.

        Returns within a few seconds even if a connection is stuck; ``start()`` resumes.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            for running in self._running.values():
                running.signal.abort(AbortReason.STOP)
            self._all_settled.notify_all()
            self._job_settled.notify_all()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        in_callback = self._dispatch.on_thread  # its own callbacks cannot be waited for
        with self._all_settled:
            while self._running or (self._settling and not in_callback):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._all_settled.wait(remaining)
        self._client.close_idle()
        self._writer.flush()

    def close(self) -> None:
        """Stop, end the engine's threads, and release the journal so another process can
        open it."""
        self.stop()
        with self._lock:
            already, self._closed = self._closed, True
            journal, self._writer.journal = self._writer.journal, None
        if not already:
            self._runner.close()
            self._dispatch.close()
        if journal is not None:
            self._writer.close(journal)

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
            self._runner.kick()

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
            self._runner.kick()

    @property
    def max_parallel_dl(self) -> int:
        return self._max_parallel

    @max_parallel_dl.setter
    def max_parallel_dl(self, value: int) -> None:
        if value < 1:
            raise ValueError("max_parallel_dl must be at least 1")
        with self._lock:
            self._max_parallel = value
            self._runner.kick()

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
        return self._dispatch.callbacks

    @callbacks.setter
    def callbacks(self, value: JobCallbacks) -> None:
        self._dispatch.set_callbacks(value)

    @property
    def event_bus(self) -> Optional[object]:
        return self._dispatch.event_bus

    @property
    def journal_path(self) -> Optional[Path]:
        journal = self._writer.journal
        return journal.path if journal is not None else None

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

    def _settled(self, job: DownloadJob) -> None:
        """The job's callbacks for its new state have run: now waiters may see it."""
        with self._lock:
            self._settling.discard(job.id)
            self._job_settled.notify_all()
            idle = not self._running and not self._settling
            if idle and (self._stopped or not self._scheduler.waiting):
                self._all_settled.notify_all()
