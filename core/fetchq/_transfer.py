"""One job's transfer: request, response checks, plan, write, verify, promote.

A transfer runs attempts until the file is complete, a permanent error occurs or it is aborted.
It is written as steps (:mod:`._steps`): it yields the requests it sends and the waits it needs,
and the engine thread (:mod:`._engine`) does them, for every transfer at once.
Each attempt sends one GET (with ``Range``/``If-Range`` when bytes are already on disk). The
transfer is that request's receiver: when the head arrives it reads what it means
(:mod:`._response`), names the file and decides how to take the body: whole in memory (a small
file), as a stream (no known size), or into a :class:`SegmentPlan` that more connections may
join while it runs (:mod:`._segmented`). What was written is recorded in the sidecar, so any
later attempt, process or machine start can go on from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import random
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol, TypeVar

from ._abort import AbortReason, AbortSignal, TransferAborted
from ._categories import Category, category_folder, category_for
from ._exceptions import (
    ChecksumMismatch,
    DestinationExistsError,
    DestinationInUseError,
    DiskError,
    HTTPStatusError,
    LinkExpiredError,
    NetworkError,
    ResponseError,
    ResumeRequired,
    SizeMismatch,
    TransferError,
)
from ._failures import Failure
from ._http import FIRST_REQUEST_HEADERS, HttpClient, OriginSecrets, origin_of
from ._limits import HostSlots, HostTrials, Pacer, RateLimiter
from ._naming import choose_filename, numbered_name
from ._response import (
    EXPIRED_STATUSES,
    Body,
    ContentRange,
    FileChanged,
    NotSatisfiable,
    adopted_partial_is_whole,
    closed_after,
    parse_content_range,
    read_416,
    read_first_answer,
    serves_a_page_instead,
)
from ._retry import (
    Retryable,
    RetryPolicy,
    Timeouts,
    is_retryable_status,
    parse_retry_after,
    transient,
)
from ._segmented import CHUNK_AT_MOST, WRITE_SIZE, Connections, Setup
from ._segments import (
    ByteRanges,
    PartState,
    SegmentPlan,
    invokeai_partial_path,
    load_part_state,
    part_path,
    remove_partial,
    remove_sidecar_temps,
    same_source,
    save_part_state,
    sidecar_path,
)
from ._steps import Sleep, Steps, Task
from ._storage import (
    PartFile,
    check_free_space,
    disk_error,
    hexdigest,
    hexdigest_of,
    in_use_elsewhere,
    is_regular_file,
    keep_free,
    promote,
    read_tail,
    same_file_contents,
)
from ._transport import ByteRange, RangeAnswer, Receiver, ResponseHead

logger = logging.getLogger("fetchq")

MiB = 1 << 20
KiB = 1 << 10
MAX_RESTARTS = 5
SPACE_CHECK_EVERY = 64 * MiB
"""Bytes of a body of unknown length between two looks at the free disk space."""
OVERLAP = 64 * KiB
"""Bytes at the end of a part file without a sidecar that are asked for again to check it."""
MAX_NUMBERED_NAMES = 10_000


@dataclass(frozen=True)
class TransferSettings:
    """How transfers behave; one immutable value shared by every job of a queue."""

    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    min_split: int = 1 * MiB
    """A range is never split into pieces smaller than this on a fast connection..."""
    min_split_slow: int = 64 * KiB
    """...nor smaller than this on a slow one (pieces that take a second each at its speed)."""
    buffer_size: int = 256 * KiB
    """A body of at most this size is read whole into memory, checked, and written in one go."""
    split_after: float = 0.1
    """Seconds a download runs on one connection before deciding whether to add more."""
    split_if_longer_than: float = 1.0
    """Add connections when, at one connection's speed, the rest would take longer."""
    sidecar_interval: float = 0.1
    """Seconds between sidecar saves while bytes arrive: what a kill -9 can cost, at most."""
    lazy_sidecar_below: int = 1 * MiB
    """Downloads smaller than this write their sidecar only when interrupted or slow."""
    keep_free: int = 256 * MiB
    """A download of unknown size (a body that may never end) stops while this much disk is
    still free, rather than fill it."""


@dataclass(frozen=True)
class TransferRequest:
    """What one job asks for, copied out of the job when it starts."""

    job_id: int
    source: str
    dest: Path
    download_path: Optional[Path]
    secrets: Optional[OriginSecrets]
    """The token, headers and cookies that go to the source's origin only."""
    checksum: Optional[tuple[str, str]]
    overwrite: bool
    max_connections: int
    expected_total: Optional[int] = None
    """A size known in advance (InvokeAI's ``expected_total_bytes``)."""
    etag: Optional[str] = None
    """The version known in advance (InvokeAI's job fields), for ``If-Range`` on the resume
    of an InvokeAI partial file..."""
    last_modified: Optional[str] = None
    """...or, without an ETag, its Last-Modified."""
    content_type: Optional[str] = None
    """The type an earlier run was served: a web page in its place means the link expired."""
    categories: tuple[Category, ...] = ()
    """Into a folder: the categories whose folders the file may go into (none: ``dest``)."""
    start_over: bool = False
    """Drop whatever partial file there is and fetch from the first byte."""


@dataclass(frozen=True)
class TransferOutcome:
    download_path: Path
    size: int
    reused_existing: bool = False
    """True when an identical file was already at the destination and nothing was fetched."""
    size_announced: bool = True
    """False when the server never said how large the file is (its body ran to the end)."""


class TransferHost(Protocol):
    """What a transfer reports to, and borrows from, the queue that runs it."""

    signal: AbortSignal
    limiter: RateLimiter
    host_slots: HostSlots
    trials: HostTrials

    def claim(self, path: Path) -> bool:
        """Reserve ``path`` (and its part files) for this job; False if another job holds it."""

    def unclaim(self, path: Path) -> None:
        """Give up a reservation this job no longer needs."""

    def set_target(self, path: Path, total: Optional[int], content_type: Optional[str]) -> None:
        """The file name and size are known."""

    def progress(self, done: int, total: Optional[int]) -> None:
        """Bytes on disk so far; called often, throttled by the host."""

    def count(self, done: int, total: Optional[int]) -> None:
        """The same, without an event: the transfer is ending and the host reports the end."""

    def attempt_started(self) -> None: ...

    def answered(self, final_url: str, etag: Optional[str], last_modified: Optional[str]) -> None:
        """The server answered with the file: where from (after redirects), and its version."""

    def started_over(self, message: str) -> None:
        """The bytes on disk could not be used: the download begins again from zero."""

    def challenged(self, challenge: str) -> None:
        """The server asks for a login (a 401's ``WWW-Authenticate``): the app may ask."""

    def categorized(self, category: str) -> None:
        """The file goes into this category's folder."""

    def retrying(self, attempt: int, delay: float, error: BaseException) -> None: ...

    def spawn(self, steps: Steps[Any]) -> Task:
        """Start ``steps`` as a task of their own beside this transfer's (on the engine)."""

    def waiting(self, reason: Optional[str]) -> None:
        """The download waits for ``"bandwidth"`` or a ``"connection"`` to its host; None: no
        longer."""


class _Restart(Exception):
    """Start the next attempt at once: the name is now known, or the file changed on the server."""


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


def _status_failure(exc: TransferError, head: ResponseHead) -> BaseException:
    """An HTTP status we cannot use, as an attempt sees it: retried (408, 429, 5xx) or final."""
    status = getattr(exc, "status_code", 0)
    if is_retryable_status(status):
        return Retryable(exc, parse_retry_after(head.header("retry-after")))
    return exc


class Transfer:
    """Downloads one job's file; :meth:`run` returns when it is complete or raises why not.

    The transfer is the receiver of each attempt's first response (:meth:`on_head`, then the
    ``on_data`` that the head chose); the ranges other connections fetch have receivers of
    their own (:mod:`._segmented`).
    """

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
        self._left_by_earlier_run = False
        self._part: Optional[PartFile] = None
        self._sidecar_written = False
        self._plan: Optional[SegmentPlan] = None
        self._stream_offset = 0
        self._final_url = request.source
        _scheme, hostname, port = origin_of(request.source)
        self._host_key = f"{hostname}:{port}"
        self._existing_checked = False
        self._resumed_without_validator = False
        self._fresh_retry_used = False
        self._restarts = 0
        self._next_save = 0.0
        self._ranges_refused = False  # learnt once, kept for every later attempt
        self._bare_size = 0  # a part file without a sidecar, to check before going on
        self._guessed = False  # looked for an earlier run's part file of a folder download
        self._adopted = 0  # bytes of an InvokeAI partial file taken over as our part file
        # Per attempt: what the first response's head decided.
        self._wanted: Optional[ByteRange] = None
        self._after_body: Optional[Callable[[], TransferOutcome]] = None
        self._memory = bytearray()
        self._filled = 0
        self._expected = 0
        self._connections: Optional[Connections] = None
        self._streaming = False
        self._stream_end: Optional[int] = None
        self._stream_buffer = bytearray()
        self._stream_held = 0
        self._next_space_check = 0
        self._pace = Pacer(host.limiter, request.job_id, host.waiting)

    # -- the attempt loop -------------------------------------------------------------------

    def steps(self) -> Steps[TransferOutcome]:
        failures = 0
        try:
            while True:
                self._raise_if_aborted()
                done_before = self._bytes_done()
                try:
                    return (yield from self._attempt())
                except _Restart:
                    self._restarts += 1
                    if self._restarts > MAX_RESTARTS:
                        raise ResponseError(
                            "the file kept changing on the server during the download"
                        ) from None
                except Retryable as failure:
                    self._raise_if_aborted()
                    self._save_state()
                    failures = 0 if self._bytes_done() > done_before else failures + 1
                    policy = self.settings.retry
                    if not policy.should_retry(failures):
                        raise failure.cause from None
                    delay = policy.delay(max(failures, 1), random.random(), failure.retry_after)
                    self.host.retrying(failures, delay, failure.cause)
                    if (yield Sleep(delay, self.signal)):
                        self._raise_if_aborted()
        except TransferAborted as aborted:
            self._on_abort(aborted.reason)
            self._count()
            raise
        except HTTPStatusError as refused:
            self._save_state()
            self._count()
            if self._bytes_done() and refused.status_code in EXPIRED_STATUSES:
                raise LinkExpiredError(
                    f"Link expired: the server now answers {refused.status_code} {refused.reason}"
                ) from None
            raise refused.as_http_error() from None  # requests' own, as the reference API has it
        except NetworkError as failed:
            if failed.failure == Failure.LOGIN.value:  # an FTP login: ask as a 401 does
                self.host.challenged("FTP")
            self._save_state()
            self._count()
            raise
        except BaseException:
            self._save_state()
            self._count()
            raise
        finally:
            self._close_part()

    def _count(self) -> None:
        """The last count reaches the job when a transfer stops short (ticks lag behind); the
        queue's own final event then carries it."""
        self.host.count(self._bytes_done(), self._state.total)

    def _raise_if_aborted(self) -> None:
        reason = self.signal.reason
        if reason is not None:
            raise TransferAborted(reason)

    def _attempt(self) -> Steps[TransferOutcome]:
        self.host.attempt_started()
        self._begin_attempt()
        if self.download_path is None and not self._guessed:
            self._guessed = True
            self.download_path = self._part_left_here()
        if self.download_path is not None:
            self._load_resume_state(self.download_path)
            if self._bare_size:
                yield from self._adopt_bare_part(self._bare_size)
                self._bare_size = 0
            total = self._state.total
            if total is not None and self._state.done.covers(total) and self._part_exists():
                self.host.set_target(self.download_path, total, None)
                self._open_part(total)
                return self._finish()
        wanted = self._wanted = self._first_range()
        slots = self.host.host_slots
        if not (yield from slots.acquire_steps(self._host_key, self.signal, self.host.waiting)):
            self._raise_if_aborted()
        try:
            failure: Optional[BaseException] = None
            try:
                yield from self.client.fetch_steps(
                    self.request.source,
                    self._request_headers(wanted is not None),
                    self.request.secrets,
                    self,
                    self.signal,
                    byte_range=wanted,
                    pace=self._pace,
                )
            except Exception as exc:  # judged with the body's mode, below
                failure = exc
            return (yield from self._after_first_response(failure))
        finally:
            slots.release(self._host_key)

    def _begin_attempt(self) -> None:
        """Forget what the last attempt's first response decided."""
        self._after_body = None
        self._memory, self._filled = bytearray(), 0
        self._connections = None
        self._streaming = False
        self._stream_held = 0

    def _after_first_response(self, failure: Optional[BaseException]) -> Steps[TransferOutcome]:
        if self._connections is not None:
            return (yield from self._settle(self._connections, failure))
        if self._streaming:  # what arrived is kept, for the next attempt or the resume
            if failure is None:
                self._flush_stream()
            else:
                with contextlib.suppress(TransferError, OSError):
                    self._flush_stream()
        if failure is not None:
            if self._filled:
                self._keep_partial(memoryview(self._memory)[: self._filled])
            raise transient(failure)
        self._raise_if_aborted()
        if self._after_body is None:
            raise Retryable(ResponseError("the server sent no response"))
        return self._after_body()

    def _request_headers(self, ranged: bool) -> Mapping[str, str]:
        if ranged and self._state.validator:
            return {**FIRST_REQUEST_HEADERS, "If-Range": self._state.validator}
        return FIRST_REQUEST_HEADERS

    # -- the first response -----------------------------------------------------------------

    def on_head(self, head: ResponseHead) -> bool:
        """Read the first response of an attempt, name the file, and choose how to read it."""
        self._final_url = head.url.href
        if head.status == 416:
            self._after_body = self._decide_416(head)
            return False
        if head.status == 401:
            self.host.challenged(head.header("www-authenticate") or "")
        if self._current_done() and serves_a_page_instead(
            head.status, head.header("content-type"), self.request.content_type
        ):  # a login or error page in place of the file: its part file must not be replaced
            raise LinkExpiredError("Link expired: the server now sends a web page, not the file")
        try:
            body = read_first_answer(head, self._wanted, self._state.total)
        except FileChanged:
            self._reset_to_zero()
            raise _Restart() from None
        except ResponseError as exc:
            raise Retryable(exc) from None
        except TransferError as exc:
            raise _status_failure(exc, head) from None
        if body.fresh and self._wanted is not None:
            self._reset_to_zero()  # Range ignored, or If-Range said the file changed
        total = body.total

        if self.download_path is None:
            target, verdict = self._choose_target(head, total)
            self.download_path = target
            if verdict == "reuse":
                self._after_body = lambda: self._reuse_existing(total)
                return False
            if verdict == "resume":
                raise _Restart()  # ask again, this time for the missing bytes only
        elif not self._existing_checked:
            self._existing_checked = True
            if self._existing_file_matches(self.download_path, total):
                self._after_body = lambda: self._reuse_existing(total)
                return False

        if body.fresh:
            self._state = PartState(
                source=self.request.source,
                total=total,
                etag=head.header("etag"),
                last_modified=head.header("last-modified"),
            )
        elif total is not None and self._state.total is None:
            self._state = dataclasses.replace(self._state, total=total)
        assert self.download_path is not None
        self.host.answered(head.url.href, head.header("etag"), head.header("last-modified"))
        self.host.set_target(self.download_path, total, head.header("content-type"))
        if total is not None:
            if body.fresh and total <= self.settings.buffer_size and self._part is None:
                self._expected = total
                self._memory, self._filled = bytearray(total), 0  # filled in place
                self.on_data = self._store_in_memory  # type: ignore[method-assign]
                self._after_body = self._finish_in_memory
                return True
            check_free_space(self.download_path.parent, total - self._state.done.size())
        self._open_part(total)
        if total is None:
            self._stream_offset = body.start
            self._stream_end = body.end
            self._streaming = True
            if not self._stream_buffer:
                self._stream_buffer = bytearray(WRITE_SIZE + CHUNK_AT_MOST)
            self.on_data = self._store_stream  # type: ignore[method-assign]
            self.on_idle = self._stream_idle  # type: ignore[method-assign]
            self._after_body = self._finish_stream
            return True
        self._start_plan(body, total)
        return True

    def on_data(self, data: bytes) -> Optional[bool]:
        """Replaced by the store method :meth:`on_head` chose."""
        raise ResponseError("a body arrived before its head")

    def on_idle(self) -> Optional[bool]:
        """Replaced likewise, where something is held back."""

    def _decide_416(self, head: ResponseHead) -> Callable[[], TransferOutcome]:
        """A 416 answers a request for bytes past the end: the part file may be whole already."""
        if self._adopted:
            return self._decide_416_of_adopted(head)
        verdict, total = read_416(head, self._wanted, self._state.done.covers)
        if verdict is NotSatisfiable.COMPLETE:
            assert self.download_path is not None
            assert total is not None
            self._state = dataclasses.replace(self._state, total=total)
            path, size = self.download_path, total

            def complete() -> TransferOutcome:
                self.host.set_target(path, size, None)
                self._open_part(size)
                return self._finish()

            return complete
        if verdict is NotSatisfiable.RETRY:
            wanted = self._wanted
            assert wanted is not None
            raise Retryable(ResponseError(f"416 for bytes {wanted[0]}- of a {total}-byte file"))
        self._reset_to_zero()  # the file shrank, or the range is meaningless: start over
        raise _Restart()

    def _decide_416_of_adopted(self, head: ResponseHead) -> Callable[[], TransferOutcome]:
        """InvokeAI's rule for its partial file: whole if the sizes agree (it becomes the
        download); otherwise the job pauses with ``resume_required`` and the file goes back
        under InvokeAI's name, untouched."""
        size = self._adopted
        assert self.download_path is not None
        if adopted_partial_is_whole(head, size, self.request.expected_total):
            self._state = dataclasses.replace(
                self._state, total=size, done=ByteRanges.of([(0, size)])
            )
            path = self.download_path

            def complete() -> TransferOutcome:
                self.host.set_target(path, size, None)
                self._open_part(size)
                return self._finish()

            return complete
        with contextlib.suppress(OSError):
            os.rename(part_path(self.download_path), invokeai_partial_path(self.download_path))
        self._adopted = 0
        self._state = PartState(source=self.request.source)
        raise ResumeRequired("Resume refused by server. Restart required.")

    # -- small bodies: whole in memory ------------------------------------------------------

    def _store_in_memory(self, data: bytes) -> Optional[bool]:
        filled = self._filled
        room = self._expected - filled
        more_than_announced = len(data) > room
        if more_than_announced:
            data = data[:room]
        self._memory[filled : filled + len(data)] = data
        self._filled = filled + len(data)
        return False if more_than_announced else None

    def _finish_in_memory(self) -> TransferOutcome:
        """A body that fits in the buffer: checked in memory, then written in one go.

        Most files of a big batch are small, and for them the part file's bookkeeping (open,
        lock, sidecar, progress ticks, reading it back for a checksum) cost more than the
        bytes. What an interrupted read got still goes to the part file for the next attempt.
        """
        assert self.download_path is not None
        total = self._expected
        data = memoryview(self._memory)[: self._filled]
        if len(data) < total:
            self._keep_partial(data)
            raise Retryable(ResponseError(closed_after(len(data), total)))
        path = self.download_path
        if self.request.checksum is not None:
            algorithm, expected = self.request.checksum
            actual = hexdigest_of(data, algorithm, len(expected))
            if actual != expected:
                raise ChecksumMismatch(f"{algorithm} is {actual}, expected {expected}")
        if not _in_folder(path, lambda part: PartFile.write_new(part, data)):
            self._keep_partial(data)
            return self._finish()
        promote(part_path(path), path, self.request.overwrite)
        self._stream_offset = total
        return TransferOutcome(path, total)

    def _keep_partial(self, data: memoryview) -> None:
        """Bytes of an interrupted small body go to the part file, for the next attempt."""
        if data and self.download_path is not None:
            self._open_part(self._expected)
            assert self._part is not None
            self._part.write_at(data, 0)
            self._state = dataclasses.replace(self._state, done=ByteRanges.of([(0, len(data))]))
            self._memory, self._filled = bytearray(), 0

    # -- bodies of unknown length -----------------------------------------------------------

    def _store_stream(self, data: bytes) -> Optional[bool]:
        """Keep a chunk of a body of unknown length; write when a piece is full (and at the
        engine's tick: :meth:`_stream_idle`)."""
        held = self._stream_held
        end = self._stream_end
        if end is not None and self._stream_offset + held + len(data) > end:
            data = data[: max(0, end - self._stream_offset - held)]
        buffer = self._stream_buffer
        if held + len(data) > len(buffer):
            buffer.extend(bytes(held + len(data) - len(buffer)))
        buffer[held : held + len(data)] = data
        self._stream_held = held + len(data)
        if self._stream_held >= WRITE_SIZE:
            self._flush_stream()
        return None

    def _stream_idle(self) -> None:
        self._flush_stream()
        self._tick(time.monotonic())

    def _flush_stream(self) -> None:
        assert self._part is not None
        held = self._stream_held
        if held:
            with memoryview(self._stream_buffer) as view:
                self._part.write_at(view[:held], self._stream_offset)
            self._stream_offset += held
            self._stream_held = 0
            if self._stream_offset >= self._next_space_check:
                self._next_space_check = self._stream_offset + SPACE_CHECK_EVERY
                assert self.download_path is not None
                keep_free(self.download_path.parent, self.settings.keep_free)

    def _finish_stream(self) -> TransferOutcome:
        offset, end = self._stream_offset, self._stream_end
        if end is not None and offset < end:
            raise Retryable(ResponseError(closed_after(offset, end)))
        self._state = dataclasses.replace(
            self._state, total=offset, done=ByteRanges.of([(0, offset)])
        )
        return dataclasses.replace(self._finish(), size_announced=False)

    # -- planned (and segmented) downloads --------------------------------------------------

    def _start_plan(self, body: Body, total: int) -> None:
        """Take a body of known size as the first segment of a plan of the missing ranges."""
        assert self._part is not None
        plan = self._plan = SegmentPlan(total, self._state.done, self.settings.min_split)
        segments = plan.split_evenly(1)
        if not segments:
            self._after_body = self._finish
            return
        first = segments[0]
        if first.start != body.start:
            plan.release(first)
            raise Retryable(ResponseError("the response does not start at the first missing byte"))
        first.stream_end = body.end if body.end is not None else total
        splittable = body.accepts_ranges and not self._ranges_refused
        if splittable and self.request.max_connections > 1:
            self._save_state()  # other connections may write any range from now on
        settings = self.settings
        connections = self._connections = Connections(
            Setup(
                job_id=self.request.job_id,
                plan=plan,
                part=self._part,
                signal=self.signal,
                host_slots=self.host.host_slots,
                trials=self.host.trials,
                trials_key=self,  # one transfer: its retrials are its own
                host_key=self._host_key,
                max_connections=self.request.max_connections,
                fetch_range=self._fetch_range,
                spawn=self.host.spawn,
                tick=self._tick,
                known_total=total,
                validators=(self._state.etag, self._state.last_modified),
                min_split=settings.min_split,
                min_split_slow=settings.min_split_slow,
                split_after=settings.split_after,
                split_if_longer_than=settings.split_if_longer_than,
            ),
            first,
            splittable,
        )
        self.on_data = connections.first.on_data  # type: ignore[method-assign]
        self.on_idle = connections.first.on_idle  # type: ignore[method-assign]

    def _fetch_range(self, byte_range: ByteRange, receiver: Receiver) -> Steps[object]:
        return self.client.fetch_steps(
            self._final_url,
            self._request_headers(True),
            self._secrets_for_final(),
            receiver,
            self.signal,
            byte_range=byte_range,
            pace=self._pace,
        )

    def _settle(
        self, connections: Connections, failure: Optional[BaseException]
    ) -> Steps[TransferOutcome]:
        yield from connections.settle(failure)
        self._ranges_refused = self._ranges_refused or connections.ranges_refused
        self._raise_if_aborted()
        if connections.changed_on_server:
            self._reset_to_zero()
            raise _Restart()
        return self._finish()

    def _secrets_for_final(self) -> Optional[OriginSecrets]:
        if origin_of(self._final_url) == origin_of(self.request.source):
            return self.request.secrets
        return None

    # -- naming and existing files ----------------------------------------------------------

    def _part_left_here(self) -> Optional[Path]:
        """A folder download's part file, left by an earlier run of this link under the name
        its path gives: it is resumed with a Range request from the first request on, so no
        whole body starts (and is thrown away) before the name is known. None: name it from
        the server's answer, as usual."""
        request = self.request
        if request.categories or request.start_over:
            return None
        candidate = request.dest / choose_filename(None, request.source, None)
        if os.path.lexists(candidate) or not os.path.lexists(part_path(candidate)):
            return None
        saved = load_part_state(candidate)
        if saved is None or not saved.done or not same_source(saved.source, request.source):
            return None
        return candidate if self.host.claim(candidate) else None

    def _choose_target(self, head: ResponseHead, total: Optional[int]) -> tuple[Path, str]:
        """The path for a download into a folder, and its verdict (see :meth:`_verdict`).

        Taken names are never reused: a different existing file, a part file of another source
        or a name another job holds moves us on to ``name (1).ext``, ``name (2).ext``, ...
        A name is claimed before the disk is looked at: another job of the queue may finish
        and release a name at any moment, but never while we hold it.
        """
        name = choose_filename(
            head.header("content-disposition"), self._final_url, head.header("content-type")
        )
        folder = self.request.dest
        category = category_for(name, head.header("content-type"), self.request.categories)
        if category is not None:
            folder = category_folder(folder, category)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, folder) from None
            self.host.categorized(category.name)
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
        our own part file there, or None: the name is taken. Symbolic links are never followed:
        one at the name or the part file's name takes it."""
        if os.path.lexists(candidate):
            if self._existing_file_matches(candidate, total):
                return "reuse"
            return "use" if self.request.overwrite and is_regular_file(candidate) else None
        part = part_path(candidate)
        if os.path.lexists(part):
            saved = load_part_state(candidate)
            if saved is not None:  # fetchq's, for this download or another
                return "resume" if same_source(saved.source, self.request.source) else None
            # No sidecar (or one not describing it): a part file nobody holds is taken over
            # under the name asked for, by the bare-part rule (see _adopt_bare_part).
            return None if in_use_elsewhere(part) else "resume"
        return "use"

    def _existing_file_matches(self, path: Path, total: Optional[int]) -> bool:
        """Apply the existing-file rule to ``path``: True to reuse it as the finished download.

        An identical file (same size, and same checksum when one was given) is reused. A
        different one is replaced only with ``overwrite``; otherwise this raises (for an explicit
        path) or the caller picks another name (for a folder).
        """
        if not os.path.lexists(path):
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
        return state is not None and same_source(state.source, self.request.source)

    def _resumable_part_at(self, path: Path) -> bool:
        return self._part_belongs_to_us(path)

    def _reuse_existing(self, total: Optional[int]) -> TransferOutcome:
        assert self.download_path is not None
        size = os.lstat(self.download_path).st_size
        self.host.set_target(self.download_path, total if total is not None else size, None)
        self._close_part()
        if self._resumable_part_at(self.download_path):
            remove_partial(self.download_path)
        return TransferOutcome(self.download_path, size, reused_existing=True)

    # -- resume state -----------------------------------------------------------------------

    def _part_exists(self) -> bool:
        return self.download_path is not None and is_regular_file(part_path(self.download_path))

    def _load_resume_state(self, path: Path) -> None:
        """Learn, once, what a part file left by an earlier run holds."""
        if self._state_loaded:
            return
        self._state_loaded = True
        if not self.host.claim(path):
            raise DestinationInUseError(f"another download is writing {path}")
        if self.request.start_over:
            remove_partial(path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(invokeai_partial_path(path))
        try:
            info = os.lstat(part_path(path))
        except OSError:
            self._adopt_invokeai_partial(path)
            return
        self._left_by_earlier_run = True  # which may have been killed while saving its sidecar
        if not stat.S_ISREG(info.st_mode):
            raise DestinationExistsError(
                f"{part_path(path).name} is not a file fetchq wrote (a link, a folder, ...); "
                "it is left alone"
            )
        size = info.st_size
        saved = load_part_state(path)
        if saved is None:
            self._bare_size = size  # no sidecar to trust: see _adopt_bare_part
            return
        if not same_source(saved.source, self.request.source) and saved.validator is None:
            return  # someone else's bytes, and nothing to check them against
        done = saved.done.clip(size)
        self._state = dataclasses.replace(saved, source=self.request.source, done=done)
        self._sidecar_written = True
        if done and saved.validator is None:
            self._resumed_without_validator = True

    def _adopt_invokeai_partial(self, path: Path) -> None:
        """Take over InvokeAI's partial file of ``path`` (``<name>.downloading``) as our part
        file, and ask for the rest as InvokeAI would: from its end, with ``If-Range`` when its
        version is known. Only for a file path the caller named: in a folder, such a file may
        be anyone's, and the bare-part rule could not check it without a request InvokeAI's
        servers answer the same way (see docs/DESIGN-NOTES.md)."""
        if self.request.dest != path:
            return
        partial = invokeai_partial_path(path)
        try:
            info = os.lstat(partial)
        except OSError:
            return
        if not stat.S_ISREG(info.st_mode) or in_use_elsewhere(partial):
            return
        if info.st_size == 0:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            return
        try:
            os.rename(partial, part_path(path))
        except OSError as exc:
            raise disk_error(exc, partial) from exc
        self._state = PartState(
            self.request.source,
            None,  # the server says whether it is whole, even when the sizes agree
            self.request.etag,
            self.request.last_modified,
            done=ByteRanges.of([(0, info.st_size)]),
        )
        self._adopted = info.st_size
        self._resumed_without_validator = self._state.validator is None

    def _adopt_bare_part(self, size: int) -> Steps[None]:
        """Go on from a part file that has no sidecar to say what it holds, or start again.

        Such a file is left by a crash before the first save, an older fetchq, or a copy from
        another machine; its bytes may be another version of the file, or garbage at its end.
        So its last bytes (up to ``OVERLAP``) are asked for again: when the server sends the
        same bytes there and names the version it serves (a validator, for ``If-Range`` from
        now on) or a checksum will check the result, the download goes on from the file's
        end; otherwise it starts from zero, under the same name. A server that ignores ranges
        also means zero.
        """
        if size <= 0:
            return
        assert self.download_path is not None
        overlap = min(OVERLAP, size)
        answer = RangeAnswer(overlap)
        try:
            yield from self.client.fetch_steps(
                self.request.source,
                FIRST_REQUEST_HEADERS,
                self.request.secrets,
                answer,
                self.signal,
                byte_range=(size - overlap, size),
            )
        except TransferError as exc:
            raise transient(exc) from None
        self._raise_if_aborted()
        head = answer.head
        if head is None or head.status != 206 or len(answer.body) != overlap:
            return
        content_range = parse_content_range(head.header("content-range"))
        if not isinstance(content_range, ContentRange) or content_range.start != size - overlap:
            return
        etag, last_modified = head.header("etag"), head.header("last-modified")
        state = PartState(self.request.source, content_range.total, etag, last_modified)
        if state.validator is None and self.request.checksum is None:
            return
        if read_tail(part_path(self.download_path), overlap) != bytes(answer.body):
            return
        self._state = dataclasses.replace(state, done=ByteRanges.of([(0, size)]))
        # Whatever the server says now, nothing says which version the file's bytes before
        # the overlap came from: a checksum that fails gets one more try from zero.
        self._resumed_without_validator = True

    def _first_range(self) -> Optional[ByteRange]:
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

    def _reset_to_zero(self) -> None:
        """Forget every byte on disk: the file is fetched again from its first byte."""
        if self._current_done():
            self.host.started_over(
                "The partial file could not be resumed; started again from zero."
            )
        self._adopted = 0
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
        if self._filled:
            return self._filled
        return self._state.done.size()

    def _save_state(self) -> None:
        """Record the bytes written in the sidecar (and in memory for the next attempt)."""
        if self.download_path is None or self._part is None:
            return
        self._state = dataclasses.replace(
            self._state, done=self._current_done(), part_id=self._part.identity()
        )
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
            raise Retryable(SizeMismatch(f"the file has {size} bytes, the server said {total}"))
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
        if self._left_by_earlier_run:
            remove_sidecar_temps(path)
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


__all__ = ["TransferError"]
