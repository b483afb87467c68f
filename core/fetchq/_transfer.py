"""One job's transfer: request, response checks, plan, write, verify, promote.

A transfer runs attempts until the file is complete, a permanent error occurs or it is aborted.
Each attempt sends one GET (with ``Range``/``If-Range`` when bytes are already on disk), checks
the answer, names the file, and then fetches the missing ranges: over one connection, or, for a
large file on a server that accepts ranges, over several that steal work from each other. What
was written is recorded in the sidecar, so any later attempt, process or machine start can go on
from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Optional, Protocol, TypeVar, Union

from ._exceptions import (
    ChecksumMismatch,
    DestinationExistsError,
    DestinationInUseError,
    DiskError,
    FetchqError,
    ResponseError,
    SizeMismatch,
    TransferError,
    http_error,
)
from ._growth import RETRIAL_AFTER, Growth, after_one, after_two
from ._http import (
    AbortReason,
    AbortSignal,
    HttpClient,
    HttpResponse,
    origin_of,
    status_phrase,
    watched,
)
from ._limits import HostSlots, RateLimiter
from ._naming import choose_filename, numbered_name
from ._retry import RetryPolicy, Timeouts, is_retryable_status, parse_retry_after
from ._segments import (
    ByteRanges,
    PartState,
    Segment,
    SegmentPlan,
    load_part_state,
    part_path,
    remove_partial,
    save_part_state,
    sidecar_path,
)
from ._splice import KernelPipe
from ._storage import (
    PartFile,
    check_free_space,
    hexdigest,
    hexdigest_of,
    promote,
    same_file_contents,
)

logger = logging.getLogger("fetchq")

MiB = 1 << 20
TICK_SECONDS = 0.1
"""How often the thread supervising a multi-connection download reports progress."""
FIRST_TICK_SECONDS = 0.02
"""When that thread starts the probe's clock: after the burst of bytes that sat in the socket
buffers, but without losing a tenth of a second on one connection before measuring."""
FRESH_REQUEST_HEADERS: Mapping[str, str] = MappingProxyType({"Accept-Encoding": "identity"})
"""The headers of a transfer's first request when nothing of the file is on disk yet."""
MAX_RESTARTS = 5
MAX_NUMBERED_NAMES = 10_000


@dataclass(frozen=True)
class TransferSettings:
    """How transfers behave; one immutable value shared by every job of a queue."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    segment_threshold: int = 8 * MiB
    """Files with at least this much left to fetch may use several connections."""
    min_split: int = 1 * MiB
    """A range is never split into pieces smaller than this."""
    buffer_size: int = 256 * 1024
    """Bytes one read (and one write) may move, on a job's first connection. Not more: on this
    machine's kernel, 1 MiB writes into the page cache were at times 1.6x slower per byte
    (1 GiB: 1.6 s against 1.0 s for 256 KiB writes), while 256 KiB cost 8 % at best."""
    segment_buffer_size: int = 256 * 1024
    """The same for each extra connection of a split file."""
    split_after: float = 0.1
    """Seconds a large file runs on one connection before deciding whether to add more."""
    split_if_longer_than: float = 1.0
    """Add connections when, at one connection's speed, the rest would take longer."""
    sidecar_interval: float = 0.1
    """Seconds between sidecar saves while bytes arrive: what a kill -9 can cost, at most."""
    lazy_sidecar_below: int = 1 * MiB
    """Downloads smaller than this write their sidecar only when interrupted or slow."""


@dataclass(frozen=True)
class TransferRequest:
    """What one job asks for, copied out of the job when it starts."""

    job_id: int
    source: str
    dest: Path
    download_path: Optional[Path]
    token: Optional[str]
    checksum: Optional[tuple[str, str]]
    overwrite: bool
    max_connections: int


@dataclass(frozen=True)
class TransferOutcome:
    download_path: Path
    size: int
    reused_existing: bool = False
    """True when an identical file was already at the destination and nothing was fetched."""


class TransferHost(Protocol):
    """What a transfer reports to, and borrows from, the queue that runs it."""

    signal: AbortSignal
    limiter: RateLimiter
    host_slots: HostSlots

    def claim(self, path: Path) -> bool:
        """Reserve ``path`` (and its part files) for this job; False if another job holds it."""

    def unclaim(self, path: Path) -> None:
        """Give up a reservation this job no longer needs."""

    def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
        """The file name and size are known."""

    def progress(self, done: int, total: Optional[int]) -> None:
        """Bytes on disk so far; called often, throttled by the host."""

    def attempt_started(self) -> None: ...

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None: ...


class TransferAborted(Exception):
    """The transfer stopped because cancel, pause or stop asked it to."""

    def __init__(self, reason: AbortReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class _Retryable(Exception):
    """A transient failure; the next attempt resumes from what is on disk."""

    def __init__(self, cause: BaseException, retry_after: Optional[float] = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after


class _Restart(Exception):
    """Start the next attempt at once: the name is now known, or the file changed on the server."""


_OWN_NETWORK_ERRORS: tuple[type[Exception], ...] = (http.client.HTTPException, OSError)


def _network_errors() -> tuple[type[Exception], ...]:
    """What a failed request or read raises: OSError (requests' errors are OSErrors too) and
    http.client's, plus urllib3's once it is loaded (only requests' path loads it)."""
    urllib3_exceptions = sys.modules.get("urllib3.exceptions")
    if urllib3_exceptions is None:
        return _OWN_NETWORK_ERRORS
    return (*_OWN_NETWORK_ERRORS, urllib3_exceptions.HTTPError)


def _read_errors() -> tuple[type[Exception], ...]:
    return (*_network_errors(), ValueError)  # ValueError: a read of a response an abort closed


def _is_permanent_network_error(exc: BaseException) -> bool:
    """Failures that another attempt cannot fix: bad certificates, unusable URLs."""
    requests = sys.modules.get("requests")
    return requests is not None and isinstance(
        exc,
        (
            requests.exceptions.SSLError,
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
        ),
    )


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int
    """Exclusive."""
    total: Optional[int]


def parse_content_range(value: Optional[str]) -> Union[ContentRange, int, None]:
    """``bytes a-b/T`` -> ContentRange; ``bytes */T`` -> T; anything else -> None."""
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    span, _, total_text = spec.strip().partition("/")
    total: Optional[int] = None
    if total_text.strip() != "*":
        if not total_text.strip().isdigit():
            return None
        total = int(total_text)
    if span.strip() == "*":
        return total
    first, _, last = span.partition("-")
    if not (first.strip().isdigit() and last.strip().isdigit()):
        return None
    start, end = int(first), int(last) + 1
    if end <= start or (total is not None and end > total):
        return None
    return ContentRange(start, end, total)


def _content_length(response: HttpResponse) -> Optional[int]:
    value = response.headers.get("content-length")
    if value is None or "chunked" in response.headers.get("transfer-encoding", "").lower():
        return None
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


_T = TypeVar("_T")


def _in_folder(download_path: Path, create: Callable[[Path], _T]) -> _T:
    """``create`` the part file of ``download_path``; if its folder was removed meanwhile,
    make the folder again and try once more."""
    try:
        return create(part_path(download_path))
    except DiskError as exc:
        if not isinstance(exc.__cause__, FileNotFoundError):
            raise
        download_path.parent.mkdir(parents=True, exist_ok=True)
        return create(part_path(download_path))


def _closed_after(done: int, total: Optional[int]) -> str:
    """Why a body that ended early is retried."""
    return f"the connection closed after {done} of {total} bytes"


_buffers = threading.local()


def _thread_buffer(size: int) -> bytearray:
    """A read buffer reused by every transfer a worker thread runs: no allocation per job."""
    buffer: Optional[bytearray] = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) != size:
        buffer = _buffers.buffer = bytearray(size)
    return buffer


def _finish_response(response: HttpResponse, fully_read: bool) -> None:
    """Give the connection back to the pool when its body was read to the end, else close it."""
    if fully_read:
        response.release()
    response.close()


class _BodyCopier:
    """Moves one response's body into the part file, a chunk at a time.

    Through a kernel pipe where the response can (Linux, plain HTTP: no copy through Python,
    half the CPU), else through the connection's buffer. Receiving and storing are separate
    calls so that network and disk errors stay apart.
    """

    def __init__(self, response: HttpResponse, view: memoryview, part: PartFile) -> None:
        self._part = part
        self._view = view
        self._readinto = response.body_reader()
        self._fill = response.pipe_filler()
        self._pipe: Optional[KernelPipe] = None
        if self._fill is not None:
            with contextlib.suppress(OSError):  # out of file descriptors: the buffer works
                self._pipe = KernelPipe()
        self.chunk = len(view) if self._pipe is None else self._pipe.capacity

    def receive(self, size: int) -> int:
        """Up to ``size`` bytes of the body that have arrived; 0 at its end."""
        if self._pipe is not None:
            assert self._fill is not None
            return self._fill(self._pipe, size)
        return self._readinto(self._view[:size])

    def store(self, count: int, offset: int) -> None:
        """Write the ``count`` bytes just received at ``offset``."""
        if self._pipe is not None:
            self._part.write_from(self._pipe, count, offset)
        else:
            self._part.write_at(self._view[:count], offset)

    def __enter__(self) -> _BodyCopier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pipe is not None:
            self._pipe.close()


class Transfer:
    """Downloads one job's file; :meth:`run` returns when it is complete or raises why not."""

    def __init__(
        self,
        request: TransferRequest,
        client: HttpClient,
        settings: TransferSettings,
        host: TransferHost,
    ) -> None:
        self.request = request
        self.client = client
        self.settings = settings
        self.host = host
        self.signal = host.signal
        self.download_path = request.download_path
        self._state = PartState(source=request.source)
        self._state_loaded = False
        self._part: Optional[PartFile] = None
        self._sidecar_written = False
        self._plan: Optional[SegmentPlan] = None
        self._stream_offset = 0
        self._final_url = request.source
        _scheme, hostname, port = origin_of(request.source)  # cached: the client asks too
        self._host_key = f"{hostname}:{port}"
        self._existing_checked = False
        self._resumed_without_validator = False
        self._fresh_retry_used = False
        self._restarts = 0
        self._next_save = 0.0
        self._buffer = _thread_buffer(settings.buffer_size)
        self._stop_connections = threading.Event()
        self._connection_errors: list[BaseException] = []
        self._errors_lock = threading.Lock()
        self._changed_on_server = False
        self._ranges_refused = False  # learnt once, kept for every later attempt

    # -- the attempt loop -------------------------------------------------------------------

    def run(self) -> TransferOutcome:
        failures = 0
        try:
            while True:
                self._raise_if_aborted()
                done_before = self._bytes_done()
                try:
                    return self._attempt()
                except _Restart:
                    self._restarts += 1
                    if self._restarts > MAX_RESTARTS:
                        raise ResponseError(
                            "the file kept changing on the server during the download"
                        ) from None
                except _Retryable as failure:
                    self._raise_if_aborted()
                    self._save_state()
                    failures = 0 if self._bytes_done() > done_before else failures + 1
                    policy = self.settings.retry
                    if not policy.should_retry(failures):
                        raise failure.cause from None
                    delay = policy.delay(max(failures, 1), random.random(), failure.retry_after)
                    self.host.retrying(failures, delay, failure.cause)
                    if self.signal.wait(delay):
                        self._raise_if_aborted()
        except TransferAborted as aborted:
            self._on_abort(aborted.reason)
            raise
        except BaseException:
            self._save_state()
            raise
        finally:
            self._close_part()

    def _raise_if_aborted(self) -> None:
        reason = self.signal.reason
        if reason is not None:
            raise TransferAborted(reason)

    def _attempt(self) -> TransferOutcome:
        self.host.attempt_started()
        self._stop_connections.clear()
        self._connection_errors.clear()
        self._changed_on_server = False
        if self.download_path is not None:
            self._load_resume_state(self.download_path)
            total = self._state.total
            if total is not None and self._state.done.covers(total) and self._part_exists():
                self.host.set_target(self.download_path, total, None)
                self._open_part(total)
                return self._finish()
        wanted = self._first_range()
        headers = self._range_headers(wanted)
        if not self.host.host_slots.acquire(self._host_key, self.signal):
            self._raise_if_aborted()
        try:
            with watched(self.signal, self.client.address_policy) as scope:
                response = self._open(headers)
                if response.socket is not None:
                    scope.attach(response.socket)
                try:
                    return self._handle(response, wanted)
                finally:
                    response.close()
        finally:
            self.host.host_slots.release(self._host_key)

    def _open(self, headers: Mapping[str, str]) -> HttpResponse:
        try:
            response, self._final_url = self.client.open(
                self.request.source, headers, self.request.token
            )
        except FetchqError:
            raise
        except _network_errors() as exc:
            self._raise_if_aborted()
            if _is_permanent_network_error(exc):
                raise
            raise _Retryable(exc) from exc
        return response

    # -- the first response -----------------------------------------------------------------

    def _handle(
        self, response: HttpResponse, wanted: Optional[tuple[int, Optional[int]]]
    ) -> TransferOutcome:
        status = response.status_code
        accepts_ranges = response.headers.get("accept-ranges", "").strip().lower() == "bytes"
        if status in (200, 203):
            if wanted is not None:
                self._reset_to_zero()  # Range ignored, or If-Range said the file changed
            body_start, body_end = 0, _content_length(response)
            total = body_end
            fresh = True
        elif status == 206:
            if wanted is None:
                raise _Retryable(ResponseError("206 Partial Content to a request without Range"))
            content_range = parse_content_range(response.headers.get("content-range"))
            if not isinstance(content_range, ContentRange) or content_range.start != wanted[0]:
                raise _Retryable(
                    ResponseError(
                        f"Content-Range {response.headers.get('content-range')!r} does not "
                        f"match the requested bytes {wanted[0]}-"
                    )
                )
            known = self._state.total
            if known is not None and content_range.total not in (None, known):
                self._reset_to_zero()
                raise _Restart()
            total = content_range.total if content_range.total is not None else known
            body_start, body_end = content_range.start, content_range.end
            accepts_ranges = True
            fresh = False
        elif status == 416:
            return self._handle_416(response, wanted)
        elif status >= 300:
            reason = response.reason or status_phrase(status)
            error = http_error(reason, status)
            if is_retryable_status(status):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise _Retryable(error, retry_after)
            raise error
        else:
            raise ResponseError(f"unexpected HTTP status {status} {response.reason}")

        if self.download_path is None:
            target, verdict = self._choose_target(response, total)
            self.download_path = target
            if verdict == "reuse":
                return self._reuse_existing(total)
            if verdict == "resume":
                raise _Restart()  # ask again, this time for the missing bytes only
        elif not self._existing_checked:
            self._existing_checked = True
            if self._existing_file_matches(self.download_path, total):
                return self._reuse_existing(total)

        if fresh:
            self._state = PartState(
                source=self.request.source,
                total=total,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        elif total is not None and self._state.total is None:
            self._state = dataclasses.replace(self._state, total=total)
        assert self.download_path is not None
        self.host.set_target(self.download_path, total, response.headers.get("content-type"))
        if total is not None:
            if fresh and total <= len(self._buffer) and self._part is None:
                return self._fetch_whole(response, total)  # one write: a full disk says so
            check_free_space(self.download_path.parent, total - self._state.done.size())
        self._open_part(total)

        if total is None:
            self._stream(response, body_start, body_end)
        else:
            self._run_plan(response, body_start, body_end, total, accepts_ranges)
        return self._finish()

    def _handle_416(
        self, response: HttpResponse, wanted: Optional[tuple[int, Optional[int]]]
    ) -> TransferOutcome:
        total = parse_content_range(response.headers.get("content-range"))
        if wanted is not None and isinstance(total, int):
            if self._state.done.covers(total):
                assert self.download_path is not None
                self._state = dataclasses.replace(self._state, total=total)
                self.host.set_target(self.download_path, total, None)
                self._open_part(total)
                return self._finish()
            if wanted[0] < total:
                raise _Retryable(
                    ResponseError(f"416 for bytes {wanted[0]}- of a {total}-byte file")
                )
        self._reset_to_zero()  # the file shrank, or the range is meaningless: start over
        raise _Restart()

    # -- naming and existing files ----------------------------------------------------------

    def _choose_target(self, response: HttpResponse, total: Optional[int]) -> tuple[Path, str]:
        """The path for a download into a folder, and its verdict (see :meth:`_verdict`).

        Taken names are never reused: a different existing file, a part file of another source
        or a name another job holds moves us on to ``name (1).ext``, ``name (2).ext``, ...
        A name is claimed before the disk is looked at: another job of the queue may finish
        and release a name at any moment, but never while we hold it.
        """
        name = choose_filename(
            response.headers.get("content-disposition"),
            self._final_url,
            response.headers.get("content-type"),
        )
        folder = self.request.dest
        for number in range(MAX_NUMBERED_NAMES):
            candidate = folder / (name if number == 0 else numbered_name(name, number))
            if not self.host.claim(candidate):
                continue
            verdict = self._verdict(candidate, total)
            if verdict is not None:
                self._existing_checked = True
                return candidate, verdict
            self.host.unclaim(candidate)
        raise DestinationExistsError(f"no free name like {name} in {folder}")

    def _verdict(self, candidate: Path, total: Optional[int]) -> Optional[str]:
        """``"reuse"`` an identical file, ``"use"`` a free (or replaceable) name, ``"resume"``
        our own part file there, or None: the name is taken."""
        if os.path.lexists(candidate):
            if self._existing_file_matches(candidate, total):
                return "reuse"
            return "use" if self.request.overwrite and candidate.is_file() else None
        if part_path(candidate).exists():
            return "resume" if self._part_belongs_to_us(candidate) else None
        return "use"

    def _existing_file_matches(self, path: Path, total: Optional[int]) -> bool:
        """Apply the existing-file rule to ``path``: True to reuse it as the finished download.

        An identical file (same size, and same checksum when one was given) is reused. A
        different one is replaced only with ``overwrite``; otherwise this raises (for an explicit
        path) or the caller picks another name (for a folder).
        """
        if not path.is_file():
            return False
        if same_file_contents(path, total, self.request.checksum):
            return True
        if self.request.overwrite or (
            self.request.dest.is_dir() and path.parent == self.request.dest
        ):
            return False
        raise DestinationExistsError(
            f"{path} exists and differs from the download; pass overwrite=True to replace it"
        )

    def _part_belongs_to_us(self, path: Path) -> bool:
        state = load_part_state(path)
        return state is not None and state.source == self.request.source

    def _resumable_part_at(self, path: Path) -> bool:
        return part_path(path).exists() and self._part_belongs_to_us(path)

    def _reuse_existing(self, total: Optional[int]) -> TransferOutcome:
        assert self.download_path is not None
        size = self.download_path.stat().st_size
        self.host.set_target(self.download_path, total if total is not None else size, None)
        self._close_part()
        if self._resumable_part_at(self.download_path):
            remove_partial(self.download_path)
        return TransferOutcome(self.download_path, size, reused_existing=True)

    # -- resume state -----------------------------------------------------------------------

    def _part_exists(self) -> bool:
        return self.download_path is not None and part_path(self.download_path).exists()

    def _load_resume_state(self, path: Path) -> None:
        """Learn, once, what a part file left by an earlier run holds."""
        if self._state_loaded:
            return
        self._state_loaded = True
        if not self.host.claim(path):
            raise DestinationInUseError(f"another download is writing {path}")
        try:
            size = part_path(path).stat().st_size
        except OSError:
            return
        saved = load_part_state(path)
        if saved is None:
            if size > 0:  # a sequential download interrupted before its first sidecar
                self._state = PartState(self.request.source, done=ByteRanges.of([(0, size)]))
                self._resumed_without_validator = True
            return
        if saved.source != self.request.source and saved.validator is None:
            return  # someone else's bytes, and nothing to check them against
        done = saved.done.clip(size)
        self._state = dataclasses.replace(saved, source=self.request.source, done=done)
        self._sidecar_written = True
        if done and saved.validator is None:
            self._resumed_without_validator = True

    def _first_range(self) -> Optional[tuple[int, Optional[int]]]:
        """The bytes the first request of this attempt asks for: None for the whole file."""
        done = self._current_done()
        if not done:
            return None
        total = self._state.total
        if total is None:
            return (done.prefix_end(), None) if done.prefix_end() else None
        missing = done.missing(total)
        if not missing:
            return (total, None)
        start, end = missing.ranges[0]
        return (start, None) if end == total else (start, end)

    def _range_headers(self, wanted: Optional[tuple[int, Optional[int]]]) -> dict[str, str]:
        headers = dict(FRESH_REQUEST_HEADERS)
        if wanted is not None:
            start, end = wanted
            headers["Range"] = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
            if self._state.validator:
                headers["If-Range"] = self._state.validator
        return headers

    def _reset_to_zero(self) -> None:
        """Forget every byte on disk: the file is fetched again from its first byte."""
        self._state = PartState(source=self.request.source)
        self._plan = None
        self._stream_offset = 0
        self._resumed_without_validator = False
        if self._part is not None:
            self._part.truncate(0)

    def _current_done(self) -> ByteRanges:
        if self._plan is not None:
            return self._plan.done()
        if self._stream_offset:
            return ByteRanges.of([(0, self._stream_offset)])
        return self._state.done

    def _bytes_done(self) -> int:
        if self._plan is not None:
            return self._plan.bytes_done()
        if self._stream_offset:
            return self._stream_offset
        return self._state.done.size()

    def _save_state(self) -> None:
        """Record the bytes written in the sidecar (and in memory for the next attempt)."""
        if self.download_path is None or self._part is None:
            return
        self._state = dataclasses.replace(self._state, done=self._current_done())
        try:
            save_part_state(self.download_path, self._state)
            self._sidecar_written = True
        except OSError as exc:
            logger.warning("fetchq: cannot save %s: %s", sidecar_path(self.download_path), exc)

    # -- writing ----------------------------------------------------------------------------

    def _open_part(self, total: Optional[int]) -> None:
        assert self.download_path is not None
        if self._part is None:
            self._part = _in_folder(self.download_path, PartFile)
            if not self._state.done and self._part.size():
                self._part.truncate(0)
        if total is None or total >= self.settings.lazy_sidecar_below:
            self._save_state()
        now = time.monotonic()
        self._next_save = now + self.settings.sidecar_interval
        self._tick(now)

    def _close_part(self) -> None:
        if self._part is not None:
            self._part.close()
            self._part = None

    def _tick(self, now: float) -> None:
        """Report the bytes on disk (the host throttles events); save the sidecar now and then."""
        self.host.progress(self._bytes_done(), self._state.total)
        if now >= self._next_save:
            self._next_save = now + self.settings.sidecar_interval
            self._save_state()

    def _stream(self, response: HttpResponse, start: int, end: Optional[int]) -> None:
        """Read a body of unknown length (or from a server without ranges) in this thread."""
        assert self._part is not None
        limiter = self.host.limiter
        offset = self._stream_offset = start
        with _BodyCopier(response, memoryview(self._buffer), self._part) as copier:
            while end is None or offset < end:
                size = limiter.chunk_size(copier.chunk)
                if end is not None:
                    size = min(size, end - offset)
                count = self._read(copier.receive, size)
                if not count:
                    break
                copier.store(count, offset)
                offset = self._stream_offset = offset + count
                limiter.consume(count, self.signal)
                self._tick(time.monotonic())
        self._raise_if_aborted()
        if end is not None and offset < end:
            raise _Retryable(ResponseError(_closed_after(offset, end)))
        self._state = dataclasses.replace(
            self._state, total=offset, done=ByteRanges.of([(0, offset)])
        )
        _finish_response(response, fully_read=True)

    def _read(self, read: Callable[[_T], int], into: _T) -> int:
        """``read(into)``; a network error becomes a retryable one (unless we were aborted)."""
        try:
            return read(into)
        except _read_errors() as exc:
            self._raise_if_aborted()
            raise _Retryable(exc) from exc

    def _fetch_whole(self, response: HttpResponse, total: int) -> TransferOutcome:
        """A body that fits in the buffer: read it all, check it, write the file in one go.

        Most files of a big batch are small, and for them the part file's bookkeeping (open,
        lock, sidecar, progress ticks, reading it back for a checksum) cost more than the
        bytes. What an interrupted read got still goes to the part file for the next attempt,
        and a part file that is already there is written the usual way.
        """
        assert self.download_path is not None
        view = memoryview(self._buffer)[:total]
        read = response.body_reader()
        got = 0
        try:
            while got < total:
                count = self._read(read, view[got:])
                if not count:
                    self._raise_if_aborted()
                    raise _Retryable(ResponseError(_closed_after(got, total)))
                got += count
        except (_Retryable, TransferAborted):
            self._keep_partial(view[:got], total)
            raise
        self.host.limiter.consume(total, self.signal)
        self._raise_if_aborted()
        _finish_response(response, fully_read=True)
        path = self.download_path
        if self.request.checksum is not None:
            algorithm, expected = self.request.checksum
            actual = hexdigest_of(view, algorithm, len(expected))
            if actual != expected:
                raise ChecksumMismatch(f"{algorithm} is {actual}, expected {expected}")
        if not _in_folder(path, lambda part: PartFile.write_new(part, view)):
            self._keep_partial(view, total)
            return self._finish()
        promote(part_path(path), path, self.request.overwrite)
        self._stream_offset = total
        return TransferOutcome(path, total)

    def _keep_partial(self, data: memoryview, total: int) -> None:
        """Bytes of an interrupted small body go to the part file, for the next attempt."""
        if data:
            self._open_part(total)
            assert self._part is not None
            self._part.write_at(data, 0)
            self._state = dataclasses.replace(self._state, done=ByteRanges.of([(0, len(data))]))

    # -- planned (and segmented) downloads --------------------------------------------------

    def _run_plan(
        self,
        response: HttpResponse,
        body_start: int,
        body_end: Optional[int],
        total: int,
        accepts_ranges: bool,
    ) -> None:
        """Fetch every missing range of a file of known size, with one or more connections."""
        plan = self._plan = SegmentPlan(total, self._state.done, self.settings.min_split)
        remaining = total - self._state.done.size()
        segments = plan.split_evenly(1)
        if not segments:
            return
        first = segments[0]
        if first.start != body_start:
            raise _Retryable(ResponseError("the response does not start at the first missing byte"))
        first.stream_end = body_end if body_end is not None else total
        splittable = (
            accepts_ranges
            and not self._ranges_refused
            and self.request.max_connections > 1
            and remaining >= self.settings.segment_threshold
        )
        if splittable:
            self._save_state()
            self._run_connections(first, response)
        else:
            self._connection(first, response, inline=True)
        self._raise_if_aborted()
        if self._changed_on_server:
            self._reset_to_zero()
            raise _Restart()
        if not plan.is_complete():
            with self._errors_lock:
                errors = list(self._connection_errors)
            for error in errors:
                if not isinstance(error, _Retryable):
                    raise error
            transient = [e for e in errors if isinstance(e, _Retryable)]
            if transient:
                raise transient[-1]
            raise _Retryable(ResponseError("the download stopped before the file was complete"))

    def _run_connections(self, first: Segment, response: HttpResponse) -> None:
        """Fetch a large file with as many connections as help; report progress meanwhile.

        The first connection runs alone for a moment. If at its speed the rest would take
        longer than ``split_if_longer_than``, a second joins on trial; :mod:`._growth` decides
        from the two speeds whether the rest join (up to the maximum, as host slots allow,
        each taking half of the largest range left), two stay, or the second stops and hands
        its range back. Later ticks add connections when slots free up.
        """
        assert self._plan is not None
        plan = self._plan
        finished = threading.Semaphore(0)
        alive = 0
        connections = 0
        halts: list[threading.Event] = []

        def run(
            opened: Optional[HttpResponse],
            segment: Optional[Segment],
            slot: bool,
            halt: Optional[threading.Event],
        ) -> None:
            try:
                claimed = segment if segment is not None else plan.claim()
                if claimed is not None:
                    self._connection(claimed, opened, inline=False, halt=halt)
            finally:
                if slot:
                    self.host.host_slots.release(self._host_key)
                finished.release()

        def start(opened: Optional[HttpResponse], segment: Optional[Segment], slot: bool) -> None:
            nonlocal alive, connections
            alive += 1
            connections += 1
            halt = threading.Event() if slot else None
            if halt is not None:
                halts.append(halt)
            threading.Thread(
                target=run,
                args=(opened, segment, slot, halt),
                name=f"fetchq-job{self.request.job_id}-conn{connections}",
                daemon=True,
            ).start()

        def add_one() -> bool:
            if (
                alive < self.request.max_connections
                and plan.worth_claiming()
                and not self._stop_connections.is_set()
                and not self.signal.aborted
                and self.host.host_slots.try_acquire(self._host_key)
            ):
                start(None, None, True)
                return True
            return False

        start(response, first, False)  # the first response uses this job's own slot
        # The first tick only starts the clock: what the socket buffers held when the body
        # began arrives in a burst and would make one connection look faster than it is.
        probe_start: Optional[float] = None
        probe_bytes = 0
        single_speed = 0.0
        retrial_at = 0.0
        stage = Growth.ONE
        while alive:
            if finished.acquire(
                timeout=FIRST_TICK_SECONDS if probe_start is None else TICK_SECONDS
            ):
                alive -= 1
            now = time.monotonic()
            self._tick(now)
            if probe_start is None:
                probe_start, probe_bytes = now, plan.bytes_done()
                continue
            if stage in (Growth.ONE, Growth.TWO) and now - probe_start >= self.settings.split_after:
                speed = (plan.bytes_done() - probe_bytes) / (now - probe_start)
                if stage is Growth.ONE:
                    left = plan.total - plan.bytes_done()
                    stage = after_one(speed, left, self.settings.split_if_longer_than)
                    # No free slot for the trial (other downloads of this host hold them all):
                    # stay on one and ask again after the next measurement.
                    if stage is Growth.TWO and not add_one():
                        stage = Growth.ONE
                    single_speed = speed
                else:
                    stage = after_two(speed, single_speed)
                    logger.debug(
                        "job %d: one connection %.0f B/s, two %.0f B/s: %s",
                        self.request.job_id,
                        single_speed,
                        speed,
                        stage.value,
                    )
                    if stage is Growth.BACK_TO_ONE:
                        for halt in halts:
                            halt.set()
                        retrial_at = now + RETRIAL_AFTER
                probe_start, probe_bytes = now, plan.bytes_done()
            elif stage is Growth.BACK_TO_ONE and now >= retrial_at:
                # One judgement from a tenth of a second can be wrong (servers shape speed in
                # bursts): while the download still has a while to go, try again.
                stage, probe_start = Growth.ONE, None
                continue
            if stage is Growth.GROW:
                while add_one():
                    pass

    def _connection(
        self,
        segment: Optional[Segment],
        response: Optional[HttpResponse],
        inline: bool,
        halt: Optional[threading.Event] = None,
    ) -> None:
        """One connection's life: fetch its segment, then claim more work until none is left.

        Extra connections get a ``halt``: setting it retires that connection alone; it stops
        at its next read and gives its unread range back to the plan.
        """
        assert self._plan is not None
        plan = self._plan
        first = inline or halt is None  # the job's own connection reads into the job's buffer
        view = (
            memoryview(self._buffer)
            if first
            else memoryview(bytearray(self.settings.segment_buffer_size))
        )
        halt = halt or threading.Event()
        while segment is not None and not self._stop_connections.is_set() and not halt.is_set():
            try:
                with watched(self.signal, self.client.address_policy):
                    if response is None:
                        response = self._request_segment(segment)
                    if response is None:
                        plan.release(segment)
                        return
                    self._read_segment(response, segment, view, inline, halt)
            except (_Retryable, TransferError) as exc:
                plan.release(segment)
                if inline:
                    raise
                with self._errors_lock:
                    self._connection_errors.append(exc)
                if not isinstance(exc, _Retryable):
                    self._stop_connections.set()
                return
            except TransferAborted:
                plan.release(segment)
                if inline:
                    raise
                return
            finally:
                if response is not None:
                    response.close()
            plan.release(segment)
            response = None
            if self._changed_on_server or self.signal.aborted:
                return
            segment = plan.claim()

    def _request_segment(self, segment: Segment) -> Optional[HttpResponse]:
        """Open a Range request for ``segment``; None when this connection should stop."""
        headers = {
            "Accept-Encoding": "identity",
            "Range": f"bytes={segment.position}-{segment.end - 1}",
        }
        if self._state.validator:
            headers["If-Range"] = self._state.validator
        try:
            response, _ = self.client.open(self._final_url, headers, self._token_for_final())
        except FetchqError:
            raise
        except _network_errors() as exc:
            self._raise_if_aborted()
            raise _Retryable(exc) from exc
        status = response.status_code
        if status == 206:
            content_range = parse_content_range(response.headers.get("content-range"))
            if (
                isinstance(content_range, ContentRange)
                and content_range.start == segment.position
                and content_range.total in (None, self._state.total)
            ):
                segment.stream_end = content_range.end
                return response
            response.close()
            raise _Retryable(ResponseError("a range response does not match its request"))
        response.close()
        if status in (200, 203):
            # A whole file for a range: either it changed (If-Range failed) or the server
            # ignores ranges. The validators tell which; only a change means starting over.
            same = (
                response.headers.get("etag") == self._state.etag
                and response.headers.get("last-modified") == self._state.last_modified
            )
            if "If-Range" in headers and not same:
                self._changed_on_server = True
                self._stop_connections.set()
            else:
                self._ranges_refused = True
            return None  # the connection reading the whole body goes on into this range
        error = http_error(response.reason or status_phrase(status), status)
        if is_retryable_status(status) or status == 416:
            raise _Retryable(error, parse_retry_after(response.headers.get("retry-after")))
        raise error

    def _token_for_final(self) -> Optional[str]:
        if origin_of(self._final_url) == origin_of(self.request.source):
            return self.request.token
        return None

    def _read_segment(
        self,
        response: HttpResponse,
        segment: Segment,
        view: memoryview,
        inline: bool,
        halt: threading.Event,
    ) -> None:
        assert self._plan is not None
        assert self._part is not None
        plan, limiter = self._plan, self.host.limiter
        stop = self._stop_connections
        with _BodyCopier(response, view, self._part) as copier:
            while True:
                wanted = min(limiter.chunk_size(copier.chunk), segment.end - segment.position)
                if wanted <= 0:
                    if plan.advance(segment, 0):
                        continue
                    break
                count = self._read(copier.receive, wanted)
                if not count:
                    self._raise_if_aborted()
                    raise _Retryable(ResponseError(self._closed_early(segment)))
                copier.store(count, segment.position)
                limiter.consume(count, self.signal)
                if not plan.advance(segment, count) or stop.is_set() or halt.is_set():
                    break
                if inline:
                    self._tick(time.monotonic())
        self._raise_if_aborted()
        _finish_response(response, fully_read=segment.position >= segment.stream_end)

    def _closed_early(self, segment: Segment) -> str:
        total = self._state.total
        if segment.stream_end == total:
            return _closed_after(segment.position, total)
        return (
            f"the connection closed at byte {segment.position} of a range ending at {segment.end}"
        )

    # -- the end ----------------------------------------------------------------------------

    def _finish(self) -> TransferOutcome:
        """Check the complete part file, and rename it to the download path."""
        assert self.download_path is not None
        assert self._part is not None
        self._state = dataclasses.replace(self._state, done=self._current_done())
        total = self._state.total
        size = self._part.size()
        if total is None:
            total = size
        if size > total:
            self._part.truncate(total)  # bytes of an older, longer version of the file
        elif size < total:
            raise _Retryable(SizeMismatch(f"the file has {size} bytes, the server said {total}"))
        self._close_part()
        path = self.download_path
        if self.request.checksum is not None:
            algorithm, expected = self.request.checksum
            actual = hexdigest(part_path(path), algorithm, len(expected))
            if actual != expected:
                if self._resumed_without_validator and not self._fresh_retry_used:
                    self._fresh_retry_used = True
                    remove_partial(path)
                    self._reset_to_zero()
                    self._state_loaded = True
                    raise _Restart()
                remove_partial(path)
                raise ChecksumMismatch(f"{algorithm} is {actual}, expected {expected}")
        promote(part_path(path), path, self.request.overwrite)
        if self._sidecar_written:
            with contextlib.suppress(FileNotFoundError):
                sidecar_path(path).unlink()
        self._plan = None
        self._stream_offset = total
        return TransferOutcome(path, total)

    def _on_abort(self, reason: AbortReason) -> None:
        if self.download_path is None:
            return
        if reason is AbortReason.CANCEL:
            self._close_part()
            remove_partial(self.download_path)
        else:
            self._save_state()
