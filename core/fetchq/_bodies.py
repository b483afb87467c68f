"""Where the body of an attempt's first response goes when it is not a segment of a plan.

A small body of known size is kept whole in memory (:class:`InMemory`), to be checked and
written in one go; a body of unknown length is written into the part file a piece at a time
(:class:`Stream`). Both are receivers' ``on_data`` for :class:`~._transfer.Transfer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from ._exceptions import ResponseError
from ._response import closed_after
from ._resume import Resume
from ._retry import Retryable
from ._segmented import CHUNK_AT_MOST, WRITE_SIZE
from ._storage import keep_free

MiB = 1 << 20
SPACE_CHECK_EVERY = 64 * MiB
"""Bytes of a body of unknown length between two looks at the free disk space."""


class InMemory:
    """A body of ``expected`` bytes, filled in place; what comes past them is not wanted."""

    __slots__ = ("_buffer", "expected", "filled")

    def __init__(self, expected: int = 0) -> None:
        self.expected = expected
        self._buffer = bytearray(expected)
        self.filled = 0

    def on_data(self, data: bytes) -> Optional[bool]:
        filled = self.filled
        room = self.expected - filled
        more_than_announced = len(data) > room
        if more_than_announced:
            data = data[:room]
        self._buffer[filled : filled + len(data)] = data
        self.filled = filled + len(data)
        return False if more_than_announced else None

    def received(self) -> memoryview:
        return memoryview(self._buffer)[: self.filled]


class Stream:
    """Writes a body of unknown length into the part file from ``resume.stream_offset`` on.

    Chunks are held until a piece of ``WRITE_SIZE`` is full, and written then and at the
    engine's tick (:meth:`on_idle`). The buffer is allocated once, by the first stream, and
    kept for the later attempts of the same download.
    """

    def __init__(self, resume: Resume, keep_free: int, tick: Callable[[float], None]) -> None:
        self._resume = resume
        self._keep_free = keep_free
        self._tick = tick
        self._buffer = bytearray()
        self._held = 0
        self._end: Optional[int] = None
        self._folder: Optional[Path] = None
        self._next_space_check = 0

    def start(self, folder: Path, start: int, end: Optional[int]) -> None:
        """A body of bytes ``start`` to ``end`` (None: to wherever it ends) begins."""
        self._resume.stream_offset = start
        self._end = end
        self._folder = folder
        if not self._buffer:
            self._buffer = bytearray(WRITE_SIZE + CHUNK_AT_MOST)

    def drop(self) -> None:
        """Forget what is held (an attempt begins)."""
        self._held = 0

    def on_data(self, data: bytes) -> Optional[bool]:
        """Keep a chunk; write when a piece is full (and at the engine's tick:
        :meth:`on_idle`)."""
        held = self._held
        end = self._end
        offset = self._resume.stream_offset
        if end is not None and offset + held + len(data) > end:
            data = data[: max(0, end - offset - held)]
        buffer = self._buffer
        if held + len(data) > len(buffer):
            buffer.extend(bytes(held + len(data) - len(buffer)))
        buffer[held : held + len(data)] = data
        self._held = held + len(data)
        if self._held >= WRITE_SIZE:
            self.flush()
        return None

    def on_idle(self) -> None:
        self.flush()
        self._tick(time.monotonic())

    def flush(self) -> None:
        resume = self._resume
        assert resume.part is not None
        held = self._held
        if held:
            with memoryview(self._buffer) as view:
                resume.part.write_at(view[:held], resume.stream_offset)
            resume.stream_offset += held
            self._held = 0
            if resume.stream_offset >= self._next_space_check:
                self._next_space_check = resume.stream_offset + SPACE_CHECK_EVERY
                assert self._folder is not None
                keep_free(self._folder, self._keep_free)

    def complete(self) -> None:
        """The body ended: what was written is the whole file, unless it ended short of the
        end it announced (:class:`Retryable`)."""
        offset, end = self._resume.stream_offset, self._end
        if end is not None and offset < end:
            raise Retryable(ResponseError(closed_after(offset, end)))
        self._resume.whole(offset)
