"""One attempt at a planned download: its connections, their writes, and how it ended.

The first connection reads the body that the attempt's first request opened; the supervisor
(:mod:`._supervisor`) may start more, each a task on the engine fetching a range of the
:class:`SegmentPlan` with a Range request of its own and writing it in place into the one part
file. A connection that
finishes its range claims another (half of the largest left: work stealing). When every
connection has ended, :meth:`Connections.settle` says whether the file is complete, and if not,
why (the errors the connections met), or that the server's file changed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from ._abort import AbortSignal, TransferAborted
from ._exceptions import ResponseError, TransferError
from ._limits import HostSlots, HostTrials
from ._response import SegmentAnswer, closed_after, read_segment_answer
from ._retry import Retryable, is_retryable_status, parse_retry_after, transient
from ._segments import Segment, SegmentPlan
from ._steps import Steps, Task
from ._storage import PartFile
from ._supervisor import Supervisor
from ._transport import ByteRange, Receiver, ResponseHead

KiB = 1 << 10
WRITE_SIZE = 256 * KiB
"""Bytes gathered before one positional write into the part file..."""
CHUNK_AT_MOST = 64 * KiB
"""Room past ``WRITE_SIZE`` for the chunk that fills it (libcurl's are 16 KiB at most)."""


class Flag:
    """Set once, read often, by the tasks of one thread (no lock)."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@dataclass(frozen=True)
class Setup:
    """What the connections of one attempt share with the transfer that runs them."""

    job_id: int
    plan: SegmentPlan
    part: PartFile
    signal: AbortSignal
    host_slots: HostSlots
    trials: HostTrials
    trials_key: object
    """Who this download is to :class:`HostTrials` (the same for all its attempts)."""
    host_key: str
    max_connections: int
    fetch_range: Callable[[ByteRange, Receiver], Steps[object]]
    """Send a Range request for these bytes (the transfer knows the URL, headers and token)."""
    spawn: Callable[[Steps[Any]], Task]
    """Start steps as a task of their own on the engine (a connection, the supervisor)."""
    tick: Callable[[float], None]
    """Report progress (and save the sidecar now and then)."""
    known_total: Optional[int]
    validators: tuple[Optional[str], Optional[str]]
    """ETag and Last-Modified recorded for the part file."""
    min_split: int
    min_split_slow: int
    split_after: float
    split_if_longer_than: float


class SegmentWriter:
    """Writes one connection's body into its segment of the part file, in large writes.

    libcurl hands the body over in chunks of 16 KiB (or less); writing each with its own
    system call cost 30 % more time than gathering them into writes of ``WRITE_SIZE``. Bytes
    count in the plan (and so in the sidecar) once written, never before; what is held is
    written at the engine's next tick at the latest (:meth:`on_idle`), so a slow download's
    progress shows. Writes stop at the segment's end, which another connection may move down
    by taking the upper half (work stealing), or up into a free range that follows (the stream
    goes on).
    """

    __slots__ = (
        "_chunks",
        "_connections",
        "_extra",
        "_halt",
        "_held",
        "segment",
    )

    def __init__(
        self,
        connections: Connections,
        segment: Segment,
        halt: Flag,
        extra: bool = False,
    ) -> None:
        self._connections = connections
        self.segment = segment
        self._halt = halt
        self._extra = extra
        """An extra connection: it gives its slot to a download waiting for its first one."""
        # libcurl's chunks are kept as they came (each a new bytes object) and written with one
        # pwritev: no copy into a buffer of ours first.
        self._chunks: list[bytes] = []
        self._held = 0

    def on_data(self, data: bytes) -> Optional[bool]:
        """Keep a chunk; write when a piece is full or its segment's end is reached. Runs for
        every chunk: kept lean (no clock, no lock)."""
        self._chunks.append(data)
        held = self._held = self._held + len(data)
        segment = self.segment
        if held >= WRITE_SIZE or segment.position + held >= segment.end:
            return self._written()
        return None

    def _written(self) -> Optional[bool]:
        """Write what is held; False when this connection should end now."""
        if not self.flush():
            return False
        connections = self._connections
        if connections.stopping() or self._halt.is_set():
            return False
        if self._extra and connections.setup.host_slots.should_yield(connections.setup.host_key):
            self._halt.set()  # the rest of the segment goes back to the plan
            return False
        return None

    def on_idle(self) -> Optional[bool]:
        """The engine's tick: write what is held, report progress when no supervisor does;
        False ends the connection (halted, stopped, or its slot given away)."""
        connections = self._connections
        if connections.supervisor is None:
            connections.tick(time.monotonic())
        if self._held:
            return self._written()
        if connections.stopping() or self._halt.is_set():
            return False
        return None

    def held(self) -> int:
        """Bytes received and not written yet."""
        return self._held

    def flush(self) -> bool:
        """Write what is held; False when the segment is done (the rest is not ours)."""
        setup = self._connections.setup
        plan, part = setup.plan, setup.part
        segment, chunks, held = self.segment, self._chunks, self._held
        self._chunks, self._held = [], 0
        written = 0
        while written < held:
            room = segment.end - segment.position
            if room <= 0:
                if not plan.advance(segment, 0):
                    return False
                continue
            piece = _take(chunks, min(room, held - written))
            part.write_chunks_at(piece, segment.position)
            count = sum(len(chunk) for chunk in piece)
            written += count
            if not plan.advance(segment, count):
                return False
        return True

    def flushed(self) -> Optional[BaseException]:
        """Write what is held; the disk's error if it refused, else None."""
        try:
            self.flush()
        except (TransferError, OSError) as exc:
            return exc
        return None

    def flush_quietly(self) -> None:
        """After a failed read: keep what arrived, unless the disk is what failed."""
        with contextlib.suppress(TransferError, OSError):
            self.flush()


def _take(chunks: list[bytes], count: int) -> list[bytes]:
    """The first ``count`` bytes of ``chunks``, taken off the list (a chunk split if need be)."""
    taken: list[bytes] = []
    while count and chunks:
        chunk = chunks[0]
        if len(chunk) <= count:
            taken.append(chunks.pop(0))
            count -= len(chunk)
        else:
            taken.append(chunk[:count])
            chunks[0] = chunk[count:]
            count = 0
    return taken


class _RangeReceiver(SegmentWriter):
    """Receives the answer to one segment's Range request."""

    __slots__ = ()

    def on_head(self, head: ResponseHead) -> bool:
        return self._connections.check_range_answer(head, self.segment)


class Connections:
    """The connections of one attempt at a planned download."""

    def __init__(self, setup: Setup, first: Segment, accepts_ranges: bool) -> None:
        self.setup = setup
        self.first = SegmentWriter(self, first, Flag())
        self.changed_on_server = False
        """A range request got a different file: the download starts again from zero."""
        self.ranges_refused = False
        """A range request got the whole (same) file: the server ignores ranges."""
        self._stop = Flag()
        self._errors: list[BaseException] = []
        self._writers: list[SegmentWriter] = [self.first]
        self._halts: list[Flag] = []
        self._extras = 0
        self.supervisor: Optional[Supervisor] = None
        if accepts_ranges and setup.max_connections > 1:
            self.supervisor = Supervisor(
                add=self._add,
                halt_extras=self._halt_extras,
                tick=self.tick,
                bytes_done=self.received,
                total=setup.plan.total,
                split_after=setup.split_after,
                split_if_longer_than=setup.split_if_longer_than,
                aborted=lambda: setup.signal.aborted or self._stop.is_set(),
                may_try=lambda: setup.trials.may_try(setup.host_key, setup.trials_key),
                tried=lambda helped: setup.trials.tried(setup.host_key, helped, setup.trials_key),
                abandon=lambda: setup.trials.abandon(setup.host_key),
            )
            self.supervisor.task = setup.spawn(self.supervisor.steps())

    def tick(self, now: float) -> None:
        self.setup.tick(now)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def received(self) -> int:
        """Bytes that arrived: those written, and those the connections still hold. The
        supervisor measures speeds with this (written bytes move in steps of a write)."""
        held = sum(writer.held() for writer in list(self._writers))
        return self.setup.plan.bytes_done() + held

    # -- the end of the attempt -------------------------------------------------------------

    def settle(self, failure: Optional[BaseException]) -> Steps[None]:
        """The first response's body has ended (``failure`` says how): go on claiming work on
        this connection, wait for the others, and raise unless the file is complete."""
        setup, first = self.setup, self.first
        plan, segment = setup.plan, first.segment
        if failure is None:
            failure = first.flushed()
        else:
            first.flush_quietly()
        if (
            failure is None
            and not setup.signal.aborted
            and not self.changed_on_server
            and not self._stop.is_set()
            and segment.position < min(segment.end, segment.stream_end)
        ):
            failure = Retryable(ResponseError(self._closed_early(segment)))
        plan.release(segment)
        if failure is None:
            yield from self._connection(plan.claim(), Flag())
        else:
            self._record(transient(failure))
        if self.supervisor is not None:
            self.supervisor.connection_ended()
            yield from self.supervisor.join()
        if setup.signal.aborted or self.changed_on_server or plan.is_complete():
            return
        errors = list(self._errors)
        for error in errors:
            if not isinstance(error, Retryable):
                raise error
        transient_errors = [e for e in errors if isinstance(e, Retryable)]
        if transient_errors:
            raise transient_errors[-1]
        raise Retryable(ResponseError("the download stopped before the file was complete"))

    def _record(self, error: BaseException) -> None:
        if isinstance(error, TransferAborted):
            return
        self._errors.append(error)
        if not isinstance(error, Retryable):
            self._stop.set()

    def _closed_early(self, segment: Segment) -> str:
        total = self.setup.known_total
        if segment.stream_end == total:
            return closed_after(segment.position, total)
        return (
            f"the connection closed at byte {segment.position} of a range ending at {segment.end}"
        )

    # -- more connections -------------------------------------------------------------------

    def _add(self) -> bool:
        """Start one more connection if it would get work and the host has a slot for it."""
        setup, plan, supervisor = self.setup, self.setup.plan, self.supervisor
        if supervisor is not None and supervisor.single_speed > 0:
            # Slow connections get smaller pieces: each should still take about a second.
            plan.min_split = max(
                setup.min_split_slow, min(setup.min_split, int(supervisor.single_speed))
            )
        if (
            self._extras + 1 < setup.max_connections
            and plan.worth_claiming()
            and not self._stop.is_set()
            and not setup.signal.aborted
            and setup.host_slots.try_acquire(setup.host_key)
        ):
            halt = Flag()
            self._halts.append(halt)
            self._extras += 1
            setup.spawn(self._extra(halt))
            return True
        return False

    def _halt_extras(self) -> None:
        for halt in self._halts:
            halt.set()

    def _extra(self, halt: Flag) -> Steps[None]:
        try:
            yield from self._connection(self.setup.plan.claim(), halt, extra=True)
        finally:
            self._extras -= 1
            self.setup.host_slots.release(self.setup.host_key)
            if self.supervisor is not None:
                self.supervisor.connection_ended()

    def _connection(
        self, segment: Optional[Segment], halt: Flag, extra: bool = False
    ) -> Steps[None]:
        """One connection's life: fetch its segment, then claim more work until none is left.

        Setting ``halt`` retires the connection: it stops at its next chunk and gives its
        unread range back to the plan. Errors are recorded for :meth:`settle`.
        """
        setup = self.setup
        plan = setup.plan
        while (
            segment is not None
            and not self._stop.is_set()
            and not halt.is_set()
            and not setup.signal.aborted
        ):
            receiver = _RangeReceiver(self, segment, halt, extra)
            self._writers.append(receiver)
            try:
                yield from setup.fetch_range((segment.position, segment.end), receiver)
            except BaseException as exc:  # recorded, judged by settle()
                receiver.flush_quietly()
                self._writers.remove(receiver)
                plan.release(segment)
                self._record(transient(exc))
                return
            failure = receiver.flushed()
            self._writers.remove(receiver)
            done = segment.position >= min(segment.end, segment.stream_end)
            plan.release(segment)
            if failure is not None:
                self._record(failure)
                return
            if self.changed_on_server or setup.signal.aborted or halt.is_set():
                return
            if not done and not self._stop.is_set():
                self._record(Retryable(ResponseError(self._closed_early(segment))))
                return
            segment = plan.claim()

    def check_range_answer(self, head: ResponseHead, segment: Segment) -> bool:
        """Whether a segment's answer is the range asked for; True to read it."""
        setup = self.setup
        try:
            answer, stream_end = read_segment_answer(
                head, (segment.position, segment.end), setup.known_total, setup.validators
            )
        except ResponseError as exc:
            raise Retryable(exc) from None
        except TransferError as exc:  # an HTTP status
            status = getattr(exc, "status_code", 0)
            if is_retryable_status(status) or status == 416:
                raise Retryable(exc, parse_retry_after(head.header("retry-after"))) from None
            raise
        if answer is SegmentAnswer.RANGE:
            segment.stream_end = stream_end
            return True
        if answer is SegmentAnswer.CHANGED:
            self.changed_on_server = True
            self._stop.set()
        else:
            self.ranges_refused = True
        return False  # the connection reading the whole body goes on into this range
