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

The transfer decides; its components keep their own state: :mod:`._resume` what is on disk,
:mod:`._destination` the name and the file already there, :mod:`._fetching` how requests go
out, :mod:`._bodies` the bodies not planned. The types it shares with the queue are in
:mod:`._transfer_types`, and importable from here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Callable
from typing import Optional

from ._abort import AbortReason, TransferAborted
from ._bodies import InMemory, Stream
from ._destination import Destination
from ._exceptions import (
    ChecksumMismatch,
    HTTPStatusError,
    LinkExpiredError,
    NetworkError,
    ResponseError,
    TransferError,
)
from ._failures import Failure
from ._fetching import Fetcher
from ._http import HttpClient
from ._response import (
    EXPIRED_STATUSES,
    Body,
    FileChanged,
    closed_after,
    read_first_answer,
    serves_a_page_instead,
)
from ._resume import Resume, in_folder, part_is_ours
from ._retry import Retryable, is_retryable_status, parse_retry_after, transient
from ._segmented import Connections
from ._segments import part_path, remove_partial
from ._steps import Sleep, Steps
from ._storage import (
    PartFile,
    check_free_space,
    hexdigest,
    hexdigest_of,
    promote,
    write_whole,
)
from ._transfer_types import TransferHost, TransferOutcome, TransferRequest, TransferSettings
from ._transport import ByteRange, ResponseHead

MAX_RESTARTS = 5


class _Restart(Exception):
    """Start the next attempt at once: the name is now known, or the file changed on the server."""


def _status_failure(exc: TransferError, head: ResponseHead) -> BaseException:
    """An HTTP status we cannot use, as an attempt sees it: retried (408, 429, 5xx) or final."""
    status = getattr(exc, "status_code", 0)
    if is_retryable_status(status):
        return Retryable(exc, parse_retry_after(head.header("retry-after")))
    return exc


class Transfer:
    """Downloads one job's file; :meth:`steps` return when it is complete or raise why not.

    The transfer is the receiver of each attempt's first response (:meth:`on_head`, then the
    ``on_data`` that the head chose); the ranges other connections fetch have receivers of
    their own (:mod:`._segmented`). What is on disk is its :class:`Resume`'s, the name its
    :class:`Destination`'s.
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
        self._resume = Resume(request, host)
        self._destination = Destination(request, host)
        self._fetcher = Fetcher(request, client, settings, host, self._resume, self._tick)
        self._restarts = 0
        self._next_save = 0.0
        self._ranges_refused = False  # learnt once, kept for every later attempt
        self._guessed = False  # looked for an earlier run's part file of a folder download
        # Per attempt: what the first response's head decided.
        self._wanted: Optional[ByteRange] = None
        self._after_body: Optional[Callable[[], TransferOutcome]] = None
        self._memory = InMemory()
        self._connections: Optional[Connections] = None
        self._streaming = False
        self._stream = Stream(self._resume, settings.keep_free, self._tick)

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
                    self._resume.save(self.download_path)
                    failures = 0 if self._bytes_done() > done_before else failures + 1
                    policy = self.settings.retry
                    if not policy.should_retry(failures):
                        raise failure.cause from None
                    delay = policy.delay(max(failures, 1), random.random(), failure.retry_after)
                    self.host.retrying(failures, delay, failure.cause)
                    if (yield Sleep(delay, self.signal)):
                        self._raise_if_aborted()
        except TransferAborted as aborted:
            if self.download_path is not None:
                self._resume.abort(self.download_path, aborted.reason is AbortReason.CANCEL)
            self._count()
            raise
        except HTTPStatusError as refused:
            self._resume.save(self.download_path)
            self._count()
            if self._bytes_done() and refused.status_code in EXPIRED_STATUSES:
                raise LinkExpiredError(
                    f"Link expired: the server now answers {refused.status_code} {refused.reason}"
                ) from None
            raise refused.as_http_error() from None  # requests' own, as the reference API has it
        except NetworkError as failed:
            if failed.failure == Failure.LOGIN.value:  # an FTP login: ask as a 401 does
                self.host.challenged("FTP")
            self._resume.save(self.download_path)
            self._count()
            raise
        except BaseException:
            self._resume.save(self.download_path)
            self._count()
            raise
        finally:
            self._resume.close_part()

    def _bytes_done(self) -> int:
        return self._resume.bytes_done(self._memory.filled)

    def _count(self) -> None:
        """The last count reaches the job when a transfer stops short (ticks lag behind); the
        queue's own final event then carries it."""
        self.host.count(self._bytes_done(), self._resume.state.total)

    def _raise_if_aborted(self) -> None:
        reason = self.signal.reason
        if reason is not None:
            raise TransferAborted(reason)

    def _attempt(self) -> Steps[TransferOutcome]:
        self.host.attempt_started()
        self._begin_attempt()
        resume = self._resume
        if self.download_path is None and not self._guessed:
            self._guessed = True
            self.download_path = self._destination.left_here()
        if self.download_path is not None:
            resume.load(self.download_path)
            yield from resume.adopt_bare_part(self.download_path, self.client, self.signal)
            total = resume.whole_at(self.download_path)
            if total is not None:
                self.host.set_target(self.download_path, total, None)
                self._open_part(total)
                return self._finish()
        wanted = self._wanted = resume.first_range()
        slots, host_key = self.host.host_slots, self._fetcher.host_key
        if not (yield from slots.acquire_steps(host_key, self.signal, self.host.waiting)):
            self._raise_if_aborted()
        try:
            failure: Optional[BaseException] = None
            try:
                yield from self._fetcher.first(self, wanted)
            except Exception as exc:  # judged with the body's mode, below
                failure = exc
            return (yield from self._after_first_response(failure))
        finally:
            slots.release(host_key)

    def _begin_attempt(self) -> None:
        """Forget what the last attempt's first response decided (its store's methods too: the
        engine tells a running request's receiver the time whatever body it reads)."""
        self.__dict__.pop("on_data", None)
        self.__dict__.pop("on_idle", None)
        self._after_body = None
        self._memory = InMemory()
        self._connections = None
        self._streaming = False
        self._stream.drop()

    def _after_first_response(self, failure: Optional[BaseException]) -> Steps[TransferOutcome]:
        if self._connections is not None:
            return (yield from self._settle(self._connections, failure))
        if self._streaming:  # what arrived is kept, for the next attempt or the resume
            if failure is None:
                self._stream.flush()
            else:
                with contextlib.suppress(TransferError, OSError):
                    self._stream.flush()
        if failure is not None:
            if self._memory.filled:
                self._keep_partial(self._memory.received())
            raise transient(failure)
        self._raise_if_aborted()
        if self._after_body is None:
            raise Retryable(ResponseError("the server sent no response"))
        return self._after_body()

    # -- the first response -----------------------------------------------------------------

    def on_head(self, head: ResponseHead) -> bool:
        """Read the first response of an attempt, name the file, and choose how to read it."""
        self._fetcher.final_url = head.url.href
        resume = self._resume
        if head.status == 416:
            self._after_body = self._decide_416(head)
            return False
        if head.status == 401:
            self.host.challenged(head.header("www-authenticate") or "")
        if resume.current_done() and serves_a_page_instead(
            head.status, head.header("content-type"), self.request.content_type
        ):  # a login or error page in place of the file: its part file must not be replaced
            raise LinkExpiredError("Link expired: the server now sends a web page, not the file")
        try:
            body = read_first_answer(head, self._wanted, resume.state.total)
        except FileChanged:
            resume.reset_to_zero()
            raise _Restart() from None
        except ResponseError as exc:
            raise Retryable(exc) from None
        except TransferError as exc:
            raise _status_failure(exc, head) from None
        if body.fresh and self._wanted is not None:
            resume.reset_to_zero()  # Range ignored, or If-Range said the file changed
        total = body.total

        if self.download_path is None:
            target, verdict = self._destination.choose(head, self._fetcher.final_url, total)
            self.download_path = target
            if verdict == "reuse":
                self._after_body = lambda: self._reuse_existing(total)
                return False
            if verdict == "resume":
                raise _Restart()  # ask again, this time for the missing bytes only
        elif self._destination.already_there(self.download_path, total):
            self._after_body = lambda: self._reuse_existing(total)
            return False

        resume.answered(body.fresh, total, head.header("etag"), head.header("last-modified"))
        assert self.download_path is not None
        self.host.answered(head.url.href, head.header("etag"), head.header("last-modified"))
        self.host.set_target(self.download_path, total, head.header("content-type"))
        if total is not None:
            if body.fresh and total <= self.settings.buffer_size and resume.part is None:
                memory = self._memory = InMemory(total)  # filled in place
                self.on_data = memory.on_data  # type: ignore[method-assign]
                self._after_body = self._finish_in_memory
                return True
            check_free_space(self.download_path.parent, total - resume.state.done.size())
        self._open_part(total)
        if total is None:
            self._stream.start(self.download_path.parent, body.start, body.end)
            self._streaming = True
            self.on_data = self._stream.on_data  # type: ignore[method-assign]
            self.on_idle = self._stream.on_idle  # type: ignore[method-assign]
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
        """A 416 answers a request for bytes past the end: the part file may be whole already
        (:meth:`Resume.after_416`; InvokeAI's: :meth:`Resume.adopted_after_416`)."""
        resume = self._resume
        if resume.adopted:
            assert self.download_path is not None
            size = resume.adopted_after_416(self.download_path, head)
        else:
            whole = resume.after_416(head, self._wanted)
            if whole is None:
                resume.reset_to_zero()  # the file shrank, or the range is meaningless: start over
                raise _Restart()
            size = whole
        path = self.download_path
        assert path is not None

        def complete() -> TransferOutcome:
            self.host.set_target(path, size, None)
            self._open_part(size)
            return self._finish()

        return complete

    # -- bodies not planned: small ones whole in memory, and those of unknown length --------

    def _finish_in_memory(self) -> TransferOutcome:
        """A body that fits in the buffer: checked in memory, then written in one go.

        Most files of a big batch are small, and for them the part file's bookkeeping (open,
        lock, sidecar, progress ticks, reading it back for a checksum) cost more than the
        bytes. What an interrupted read got still goes to the part file for the next attempt.
        """
        assert self.download_path is not None
        total = self._memory.expected
        data = self._memory.received()
        if len(data) < total:
            self._keep_partial(data)
            raise Retryable(ResponseError(closed_after(len(data), total)))
        path = self.download_path
        if self.request.checksum is not None:
            algorithm, expected = self.request.checksum
            actual = hexdigest_of(data, algorithm, len(expected))
            if actual != expected:
                raise ChecksumMismatch(f"{algorithm} is {actual}, expected {expected}")
        overwrite = self.request.overwrite
        if not overwrite and not os.path.lexists(part_path(path)) and write_whole(path, data):
            self._resume.stream_offset = total  # named without a part file (Linux)
            return TransferOutcome(path, total)
        if not in_folder(path, lambda part: PartFile.write_new(part, data)):
            self._keep_partial(data)
            return self._finish()
        promote(part_path(path), path, self.request.overwrite)
        self._resume.stream_offset = total
        return TransferOutcome(path, total)

    def _keep_partial(self, data: memoryview) -> None:
        """Bytes of an interrupted small body go to the part file, for the next attempt."""
        if data and self.download_path is not None:
            self._open_part(self._memory.expected)
            self._resume.keep_start(data)
            self._memory = InMemory()

    def _finish_stream(self) -> TransferOutcome:
        self._stream.complete()
        return dataclasses.replace(self._finish(), size_announced=False)

    # -- planned (and segmented) downloads --------------------------------------------------

    def _start_plan(self, body: Body, total: int) -> None:
        """Take a body of known size as the first segment of a plan of the missing ranges."""
        part = self._resume.part
        assert part is not None
        plan = self._resume.new_plan(total, self.settings.min_split)
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
            self._resume.save(self.download_path)  # other connections may write any range now
        # who=self: one transfer, to HostTrials; its retrials are its own
        connections = self._connections = self._fetcher.connections(
            plan, part, first, splittable, total, who=self
        )
        self.on_data = connections.first.on_data  # type: ignore[method-assign]
        self.on_idle = connections.first.on_idle  # type: ignore[method-assign]

    def _settle(
        self, connections: Connections, failure: Optional[BaseException]
    ) -> Steps[TransferOutcome]:
        yield from connections.settle(failure)
        self._ranges_refused = self._ranges_refused or connections.ranges_refused
        self._raise_if_aborted()
        if connections.changed_on_server:
            self._resume.reset_to_zero()
            raise _Restart()
        return self._finish()

    # -- progress and the end ---------------------------------------------------------------

    def _open_part(self, total: Optional[int]) -> None:
        assert self.download_path is not None
        lazy = total is not None and total < self.settings.lazy_sidecar_below
        self._resume.open_part(self.download_path, save=not lazy)
        now = time.monotonic()
        self._next_save = now + self.settings.sidecar_interval
        self._tick(now)

    def _tick(self, now: float) -> None:
        """Report the bytes on disk (the host throttles events); save the sidecar now and then."""
        self.host.progress(self._bytes_done(), self._resume.state.total)
        if now >= self._next_save:
            self._next_save = now + self.settings.sidecar_interval
            self._resume.save(self.download_path)

    def _reuse_existing(self, total: Optional[int]) -> TransferOutcome:
        assert self.download_path is not None
        size = os.lstat(self.download_path).st_size
        self.host.set_target(self.download_path, total if total is not None else size, None)
        self._resume.close_part()
        if part_is_ours(self.download_path, self.request.source):
            remove_partial(self.download_path)
        return TransferOutcome(self.download_path, size, reused_existing=True)

    def _finish(self) -> TransferOutcome:
        """Check the complete part file, and rename it to the download path."""
        assert self.download_path is not None
        total = self._resume.complete_part()
        path = self.download_path
        if self.request.checksum is not None:
            algorithm, expected = self.request.checksum
            actual = hexdigest(part_path(path), algorithm, len(expected))
            if actual != expected:
                if self._resume.fresh_try(path):
                    raise _Restart()
                remove_partial(path)
                raise ChecksumMismatch(f"{algorithm} is {actual}, expected {expected}")
        self._resume.promote(path, self.request.overwrite, total)
        return TransferOutcome(path, total)


__all__ = [
    "Transfer",
    "TransferError",
    "TransferHost",
    "TransferOutcome",
    "TransferRequest",
    "TransferSettings",
]
