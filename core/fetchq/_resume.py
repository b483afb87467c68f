"""The resume state of one download: its part file, its sidecar, and what they are worth.

A part file left by an earlier run is taken as its sidecar describes it, checked against the
server when it has none (the bare-part rule), or taken over from InvokeAI's partial file. From
then on :class:`Resume` knows which bytes are on disk (in the sidecar's state, the running plan
or the stream's offset), records them in the sidecar, and says which bytes to ask for next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Optional, TypeVar

from ._abort import AbortSignal, TransferAborted
from ._exceptions import (
    DestinationExistsError,
    DestinationInUseError,
    DiskError,
    ResponseError,
    ResumeRequired,
    SizeMismatch,
    TransferError,
)
from ._http import FIRST_REQUEST_HEADERS, HttpClient
from ._response import (
    ContentRange,
    NotSatisfiable,
    adopted_partial_is_whole,
    parse_content_range,
    read_416,
)
from ._retry import Retryable, transient
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
from ._steps import Steps
from ._storage import PartFile, disk_error, in_use_elsewhere, is_regular_file, promote, read_tail
from ._transfer_types import TransferHost, TransferRequest
from ._transport import ByteRange, RangeAnswer, ResponseHead

logger = logging.getLogger("fetchq")

KiB = 1 << 10
OVERLAP = 64 * KiB
"""Bytes at the end of a part file without a sidecar that are asked for again to check it."""

_T = TypeVar("_T")


def in_folder(download_path: Path, create: Callable[[Path], _T]) -> _T:
    """``create`` the part file of ``download_path``; if its folder was removed meanwhile,
    make the folder again and try once more."""
    try:
        return create(part_path(download_path))
    except DiskError as exc:
        if not isinstance(exc.__cause__, FileNotFoundError):
            raise
        download_path.parent.mkdir(parents=True, exist_ok=True)
        return create(part_path(download_path))


def part_is_ours(path: Path, source: str) -> bool:
    """Whether the part file of ``path`` has a sidecar of ``source``'s download."""
    state = load_part_state(path)
    return state is not None and same_source(state.source, source)


class Resume:
    """What one download has on disk, from an earlier run or this one, and its part file.

    The bytes done are the sidecar's state until a plan or a stream writes more (they count
    them). A part file is opened once and kept open across attempts.
    """

    def __init__(self, request: TransferRequest, host: TransferHost) -> None:
        self._request = request
        self._host = host
        self.state = PartState(source=request.source)
        self.part: Optional[PartFile] = None
        self.plan: Optional[SegmentPlan] = None
        self.stream_offset = 0
        """The end of the bytes a body of unknown length has written (from the first byte)."""
        self.adopted = 0
        """Bytes of an InvokeAI partial file taken over as our part file."""
        self._loaded = False
        self._left_by_earlier_run = False
        self._sidecar_written = False
        self._resumed_without_validator = False
        self._fresh_retry_used = False
        self._bare_size = 0  # a part file without a sidecar, to check before going on

    # -- what an earlier run left -----------------------------------------------------------

    def load(self, path: Path) -> None:
        """Learn, once, what a part file left by an earlier run holds."""
        if self._loaded:
            return
        self._loaded = True
        if not self._host.claim(path):
            raise DestinationInUseError(f"another download is writing {path}")
        request = self._request
        if request.start_over:
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
            self._bare_size = size  # no sidecar to trust: see adopt_bare_part
            return
        if not same_source(saved.source, request.source) and saved.validator is None:
            return  # someone else's bytes, and nothing to check them against
        done = saved.done.clip(size)
        self.state = dataclasses.replace(saved, source=request.source, done=done)
        self._sidecar_written = True
        if done and saved.validator is None:
            self._resumed_without_validator = True

    def _adopt_invokeai_partial(self, path: Path) -> None:
        """Take over InvokeAI's partial file of ``path`` (``<name>.downloading``) as our part
        file, and ask for the rest as InvokeAI would: from its end, with ``If-Range`` when its
        version is known. Only for a file path the caller named: in a folder, such a file may
        be anyone's, and the bare-part rule could not check it without a request InvokeAI's
        servers answer the same way (see docs/DESIGN-NOTES.md)."""
        request = self._request
        if request.dest != path:
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
        self.state = PartState(
            request.source,
            None,  # the server says whether it is whole, even when the sizes agree
            request.etag,
            request.last_modified,
            done=ByteRanges.of([(0, info.st_size)]),
        )
        self.adopted = info.st_size
        self._resumed_without_validator = self.state.validator is None

    def adopt_bare_part(self, path: Path, client: HttpClient, signal: AbortSignal) -> Steps[None]:
        """Check the part file :meth:`load` found without a sidecar, if any (once it is checked,
        whatever the verdict, it is not checked again)."""
        if self._bare_size:
            yield from self._adopt_bare_part(path, self._bare_size, client, signal)
            self._bare_size = 0

    def _adopt_bare_part(
        self, path: Path, size: int, client: HttpClient, signal: AbortSignal
    ) -> Steps[None]:
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
        request = self._request
        overlap = min(OVERLAP, size)
        answer = RangeAnswer(overlap)
        try:
            yield from client.fetch_steps(
                request.source,
                FIRST_REQUEST_HEADERS,
                request.secrets,
                answer,
                signal,
                byte_range=(size - overlap, size),
            )
        except TransferError as exc:
            raise transient(exc) from None
        reason = signal.reason
        if reason is not None:
            raise TransferAborted(reason)
        head = answer.head
        if head is None or head.status != 206 or len(answer.body) != overlap:
            return
        content_range = parse_content_range(head.header("content-range"))
        if not isinstance(content_range, ContentRange) or content_range.start != size - overlap:
            return
        etag, last_modified = head.header("etag"), head.header("last-modified")
        state = PartState(request.source, content_range.total, etag, last_modified)
        if state.validator is None and request.checksum is None:
            return
        if read_tail(part_path(path), overlap) != bytes(answer.body):
            return
        self.state = dataclasses.replace(state, done=ByteRanges.of([(0, size)]))
        # Whatever the server says now, nothing says which version the file's bytes before
        # the overlap came from: a checksum that fails gets one more try from zero.
        self._resumed_without_validator = True

    def whole_at(self, path: Path) -> Optional[int]:
        """The size of the file when the part file of ``path`` already holds all of it."""
        total = self.state.total
        if total is not None and self.state.done.covers(total) and is_regular_file(part_path(path)):
            return total
        return None

    # -- what the server says ---------------------------------------------------------------

    def first_range(self) -> Optional[ByteRange]:
        """The bytes the first request of this attempt asks for: None for the whole file."""
        done = self.current_done()
        if not done:
            return None
        total = self.state.total
        if total is None:
            return (done.prefix_end(), None) if done.prefix_end() else None
        missing = done.missing(total)
        if not missing:
            return (total, None)
        start, end = missing.ranges[0]
        return (start, None) if end == total else (start, end)

    def answered(
        self, fresh: bool, total: Optional[int], etag: Optional[str], last_modified: Optional[str]
    ) -> None:
        """The server sends the file: from the first byte (``fresh``, of this version), or the
        bytes asked for (of the version on disk, whose size may now be known)."""
        if fresh:
            self.state = PartState(
                source=self._request.source,
                total=total,
                etag=etag,
                last_modified=last_modified,
            )
        elif total is not None and self.state.total is None:
            self.state = dataclasses.replace(self.state, total=total)

    def after_416(self, head: ResponseHead, wanted: Optional[ByteRange]) -> Optional[int]:
        """What a 416 says of the part file: the file's size when it holds all of it, None when
        it must be fetched again from zero; raises :class:`Retryable` when the answer may be a
        passing fault."""
        verdict, total = read_416(head, wanted, self.state.done.covers)
        if verdict is NotSatisfiable.COMPLETE:
            assert total is not None
            self.state = dataclasses.replace(self.state, total=total)
            return total
        if verdict is NotSatisfiable.RETRY:
            assert wanted is not None
            raise Retryable(ResponseError(f"416 for bytes {wanted[0]}- of a {total}-byte file"))
        return None

    def adopted_after_416(self, path: Path, head: ResponseHead) -> int:
        """InvokeAI's rule for its partial file: whole if the sizes agree (it becomes the
        download: its size is returned); otherwise the job pauses with ``resume_required`` and
        the file goes back under InvokeAI's name, untouched."""
        size = self.adopted
        if adopted_partial_is_whole(head, size, self._request.expected_total):
            self.whole(size)
            return size
        with contextlib.suppress(OSError):
            os.rename(part_path(path), invokeai_partial_path(path))
        self.adopted = 0
        self.state = PartState(source=self._request.source)
        raise ResumeRequired("Resume refused by server. Restart required.")

    def whole(self, size: int) -> None:
        """The file is ``size`` bytes, all of them on disk."""
        self.state = dataclasses.replace(self.state, total=size, done=ByteRanges.of([(0, size)]))

    def reset_to_zero(self) -> None:
        """Forget every byte on disk: the file is fetched again from its first byte."""
        if self.current_done():
            self._host.started_over(
                "The partial file could not be resumed; started again from zero."
            )
        self.adopted = 0
        self.state = PartState(source=self._request.source)
        self.plan = None
        self.stream_offset = 0
        self._resumed_without_validator = False
        if self.part is not None:
            self.part.truncate(0)

    # -- the bytes done ---------------------------------------------------------------------

    def current_done(self) -> ByteRanges:
        if self.plan is not None:
            return self.plan.done()
        if self.stream_offset:
            return ByteRanges.of([(0, self.stream_offset)])
        return self.state.done

    def bytes_done(self, in_memory: int) -> int:
        """Bytes on disk, or ``in_memory`` (a small body's, not written yet) if any."""
        if self.plan is not None:
            return self.plan.bytes_done()
        if self.stream_offset:
            return self.stream_offset
        if in_memory:
            return in_memory
        return self.state.done.size()

    def new_plan(self, total: int, min_split: int) -> SegmentPlan:
        """A plan of the bytes still missing of a ``total``-byte file."""
        self.plan = SegmentPlan(total, self.state.done, min_split)
        return self.plan

    def save(self, path: Optional[Path]) -> None:
        """Record the bytes written in the sidecar (and in memory for the next attempt)."""
        if path is None or self.part is None:
            return
        self.state = dataclasses.replace(
            self.state, done=self.current_done(), part_id=self.part.identity()
        )
        try:
            save_part_state(path, self.state)
            self._sidecar_written = True
        except OSError as exc:
            logger.warning("fetchq: cannot save %s: %s", sidecar_path(path), exc)

    # -- the part file ----------------------------------------------------------------------

    def open_part(self, path: Path, save: bool) -> None:
        """Open the part file of ``path`` (once); ``save``: write the sidecar now."""
        if self.part is None:
            self.part = in_folder(path, PartFile)
            if not self.state.done and self.part.size():
                self.part.truncate(0)
        if save:
            self.save(path)

    def close_part(self) -> None:
        if self.part is not None:
            self.part.close()
            self.part = None

    def keep_start(self, data: memoryview) -> None:
        """Write the first bytes of the file (an interrupted small body), for the next
        attempt."""
        assert self.part is not None
        self.part.write_at(data, 0)
        self.state = dataclasses.replace(self.state, done=ByteRanges.of([(0, len(data))]))

    def complete_part(self) -> int:
        """Close the part file that should hold the whole file, and return the file's size
        (the announced one, or the part file's); raises :class:`Retryable` when bytes are
        missing. Bytes past the end (of an older, longer version) are cut off."""
        assert self.part is not None
        self.state = dataclasses.replace(self.state, done=self.current_done())
        total = self.state.total
        size = self.part.size()
        if total is None:
            total = size
        if size > total:
            self.part.truncate(total)  # bytes of an older, longer version of the file
        elif size < total:
            raise Retryable(SizeMismatch(f"the file has {size} bytes, the server said {total}"))
        self.close_part()
        return total

    def fresh_try(self, path: Path) -> bool:
        """The checksum failed: a part file resumed without a validator may hold another
        version's bytes, so it gets one more try from zero (True: it is removed); once."""
        if self._resumed_without_validator and not self._fresh_retry_used:
            self._fresh_retry_used = True
            remove_partial(path)
            self.reset_to_zero()
            self._loaded = True
            return True
        return False

    def promote(self, path: Path, overwrite: bool, size: int) -> None:
        """Rename the complete part file to ``path`` and clean up after it."""
        promote(part_path(path), path, overwrite)
        if self._sidecar_written:
            with contextlib.suppress(FileNotFoundError):
                sidecar_path(path).unlink()
        if self._left_by_earlier_run:
            remove_sidecar_temps(path)
        self.plan = None
        self.stream_offset = size

    def abort(self, path: Path, cancel: bool) -> None:
        """A cancel removes the part file and its sidecar; a pause or stop saves the sidecar."""
        if cancel:
            self.close_part()
            remove_partial(path)
        else:
            self.save(path)
