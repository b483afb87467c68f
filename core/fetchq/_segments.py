"""Byte-range bookkeeping: which bytes of a file are done, who fetches the rest, and the sidecar.

A partial download is ``<name>.part`` plus ``<name>.part.json``, the sidecar, which records the
source, the validators (ETag, Last-Modified), the total size and the ranges written. Those two
files are all a resume needs: a single-connection download is one growing range, a segmented one
any set of ranges.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ._validation import redact_url

SIDECAR_VERSION = 2
"""2: the sidecar names the part file it describes (device and inode). A version-1 sidecar is
not trusted; its part file is resumed as one without a sidecar (the bare-part rule)."""
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # Windows has no such flag (nor, usually, links)


@dataclass(frozen=True)
class ByteRanges:
    """A sorted set of disjoint, non-adjacent half-open ranges ``[start, end)``."""

    ranges: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, ranges: Iterable[tuple[int, int]]) -> ByteRanges:
        merged: list[list[int]] = []
        for start, end in sorted((s, e) for s, e in ranges if e > s):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return cls(tuple((s, e) for s, e in merged))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.ranges)

    def __bool__(self) -> bool:
        return bool(self.ranges)

    def add(self, start: int, end: int) -> ByteRanges:
        return ByteRanges.of((*self.ranges, (start, end)))

    def union(self, other: Iterable[tuple[int, int]]) -> ByteRanges:
        return ByteRanges.of((*self.ranges, *other))

    def clip(self, limit: int) -> ByteRanges:
        """The part of these ranges below ``limit``."""
        return ByteRanges.of((s, min(e, limit)) for s, e in self.ranges if s < limit)

    def size(self) -> int:
        return sum(e - s for s, e in self.ranges)

    def prefix_end(self) -> int:
        """How many bytes from offset 0 are done without a gap."""
        if self.ranges and self.ranges[0][0] == 0:
            return self.ranges[0][1]
        return 0

    def missing(self, total: int) -> ByteRanges:
        """The gaps in ``[0, total)``."""
        gaps: list[tuple[int, int]] = []
        cursor = 0
        for start, end in self.ranges:
            if start >= total:
                break
            if start > cursor:
                gaps.append((cursor, start))
            cursor = max(cursor, end)
        if cursor < total:
            gaps.append((cursor, total))
        return ByteRanges(tuple(gaps))

    def covers(self, total: int) -> bool:
        return not self.missing(total)


@dataclass(frozen=True)
class PartState:
    """The sidecar's content: enough to resume a partial file safely."""

    source: str
    total: Optional[int] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    done: ByteRanges = field(default_factory=ByteRanges)
    part_id: Optional[tuple[int, int]] = None
    """(device, inode) of the part file this describes: a sidecar next to another file (one a
    server or another program put there) is not believed."""

    @property
    def validator(self) -> Optional[str]:
        """The value for ``If-Range``: a strong ETag, else Last-Modified."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": SIDECAR_VERSION,
                "source": _without_credentials(self.source),
                "total": self.total,
                "etag": self.etag,
                "last_modified": self.last_modified,
                "done": [list(r) for r in self.done],
                "part": list(self.part_id) if self.part_id else None,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Optional[PartState]:
        """Parse a sidecar; None for anything this version cannot trust."""
        try:
            data: Any = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != SIDECAR_VERSION:
                return None
            total = data.get("total")
            done = ByteRanges.of((int(s), int(e)) for s, e in data.get("done", []))
            device, inode = (int(n) for n in data["part"])
            etag, last_modified = data.get("etag"), data.get("last_modified")
            if not all(value is None or isinstance(value, str) for value in (etag, last_modified)):
                return None
            return cls(
                source=str(data["source"]),
                total=int(total) if total is not None else None,
                etag=etag,
                last_modified=last_modified,
                done=done,
                part_id=(device, inode),
            )
        except (ValueError, TypeError, KeyError):
            return None


def _without_credentials(url: str) -> str:
    """The URL a sidecar records: a file beside the download is no place for a password."""
    return redact_url(url)


def same_source(recorded: str, source: str) -> bool:
    """Whether a sidecar's URL is the download's (recorded without its credentials)."""
    return recorded in (source, _without_credentials(source))


PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"


@functools.lru_cache(maxsize=1024)  # asked several times per file: pathlib is slow
def part_path(download_path: Path) -> Path:
    """Where the bytes of ``download_path`` are written until it is complete."""
    return download_path.with_name(download_path.name + PART_SUFFIX)


def sidecar_path(download_path: Path) -> Path:
    return download_path.with_name(download_path.name + SIDECAR_SUFFIX)


INVOKEAI_PARTIAL_SUFFIX = ".downloading"


def invokeai_partial_path(download_path: Path) -> Path:
    """Where InvokeAI's download queue keeps the bytes of ``download_path`` until it is whole."""
    return download_path.with_name(download_path.name + INVOKEAI_PARTIAL_SUFFIX)


def read_no_follow(path: Path, limit: int = 1 << 20) -> Optional[bytes]:
    """The bytes of a regular file at ``path`` (never through a symbolic link), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)


def part_identity(download_path: Path) -> Optional[tuple[int, int]]:
    """(device, inode) of the part file, if it is a regular file (not a link) at all."""
    try:
        info = os.lstat(part_path(download_path))
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return (info.st_dev, info.st_ino)


def load_part_state(download_path: Path) -> Optional[PartState]:
    """The sidecar of ``download_path``, if it is fetchq's and describes the part file there."""
    raw = read_no_follow(sidecar_path(download_path))
    if raw is None:
        return None
    try:
        state = PartState.from_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None
    if state is None or state.part_id is None or state.part_id != part_identity(download_path):
        return None
    return state


_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = re.compile(r"[a-z0-9_]{8}")
"""What ``tempfile.mkstemp`` puts between a temporary sidecar's prefix and suffix."""


def _temp_prefix(download_path: Path) -> str:
    """How the temporary file :func:`save_part_state` writes, then renames, is named."""
    return sidecar_path(download_path).name + "."


def save_part_state(download_path: Path, state: PartState) -> None:
    """Write the sidecar atomically: a reader sees the old state or the new, never half.

    The temporary file is new (``O_EXCL``, a random name), so a link planted in its place is
    never followed; ``os.replace`` then replaces whatever is at the sidecar's name, links too.
    """
    target = sidecar_path(download_path)
    fd, temporary = tempfile.mkstemp(
        prefix=_temp_prefix(download_path), suffix=_TEMP_SUFFIX, dir=target.parent
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as output:
            output.write(state.to_json())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_partial(download_path: Path) -> None:
    """Delete a download's part file and sidecar, if any."""
    for path in (part_path(download_path), sidecar_path(download_path)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_sidecar_temps(download_path: Path) -> None:
    """Delete the temporary sidecars a run killed while saving left behind (``save_part_state``
    writes ``<name>.part.json.XXXXXXXX.tmp``, then renames it); only regular files of exactly
    that shape, never links."""
    prefix = _temp_prefix(download_path)
    try:
        entries = list(os.scandir(download_path.parent))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if (
            name.startswith(prefix)
            and name.endswith(_TEMP_SUFFIX)
            and _TEMP_RANDOM.fullmatch(name[len(prefix) : -len(_TEMP_SUFFIX)])
            and entry.is_file(follow_symlinks=False)
        ):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


class Segment:
    """One connection's share of a file: bytes ``[start, end)``, written up to ``position``.

    ``end`` may shrink while the connection runs, when another connection steals the upper half;
    ``stream_end`` is where the connection's response stops, so it may grow ``end`` up to there.
    """

    __slots__ = ("end", "position", "start", "stream_end")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.position = start
        self.stream_end = end

    @property
    def remaining(self) -> int:
        return max(0, self.end - self.position)

    def __repr__(self) -> str:
        return f"Segment({self.start}, {self.position}, {self.end})"


class SegmentPlan:
    """Hands out the missing ranges of a file to connections, with work stealing.

    A connection asks :meth:`claim` for work: first a range nobody holds, else the upper half of
    the largest range still being fetched, as long as both halves stay at least ``min_split``.
    Thread-safe; every method is short and does no I/O.
    """

    def __init__(self, total: int, done: ByteRanges, min_split: int) -> None:
        self.total = total
        self.min_split = max(1, min_split)
        self._lock = threading.Lock()
        self._done = done.clip(total)
        self._free: list[tuple[int, int]] = list(self._done.missing(total))
        self._active: list[Segment] = []

    def split_evenly(self, connections: int) -> list[Segment]:
        """Cut the free ranges into at most ``connections`` similar segments, and claim them."""
        with self._lock:
            pieces: list[tuple[int, int]] = list(self._free)
            while len(pieces) < connections:
                start, end = max(pieces, key=lambda r: r[1] - r[0], default=(0, 0))
                if end - start < 2 * self.min_split:
                    break
                middle = start + (end - start) // 2
                pieces.remove((start, end))
                pieces += [(start, middle), (middle, end)]
            pieces.sort()
            self._free = pieces[connections:]
            segments = [Segment(s, e) for s, e in pieces[:connections]]
            self._active.extend(segments)
            return segments

    def claim(self) -> Optional[Segment]:
        """New work for a connection that is idle, or None when nothing is left worth splitting."""
        with self._lock:
            if self._free:
                start, end = self._free.pop(0)
                segment = Segment(start, end)
                self._active.append(segment)
                return segment
            victim = max(self._active, key=lambda s: s.remaining, default=None)
            if victim is None or victim.remaining < 2 * self.min_split:
                return None
            middle = victim.position + victim.remaining // 2
            segment = Segment(middle, victim.end)
            victim.end = middle
            self._active.append(segment)
            return segment

    def advance(self, segment: Segment, count: int) -> bool:
        """Record ``count`` bytes written at ``segment.position``; False once the segment is done.

        When the segment reaches its end and its stream goes on, it takes the free range that
        starts there, so a connection keeps reading instead of closing and reconnecting.
        """
        with self._lock:
            segment.position += count
            if segment.position < segment.end:
                return True
            for index, (start, end) in enumerate(self._free):
                if start == segment.end and segment.stream_end > start:
                    grow_to = min(end, segment.stream_end)
                    segment.end = grow_to
                    if grow_to < end:
                        self._free[index] = (grow_to, end)
                    else:
                        del self._free[index]
                    return True
            return False

    def release(self, segment: Segment) -> None:
        """A connection stopped: keep what it wrote, give back what it did not."""
        with self._lock:
            if segment not in self._active:
                return
            self._active.remove(segment)
            written_end = min(segment.position, segment.end)
            self._done = self._done.add(segment.start, written_end)
            if written_end < segment.end:
                self._free.append((written_end, segment.end))
                self._free = list(ByteRanges.of(self._free))

    def done(self) -> ByteRanges:
        """Every byte written so far, the running segments included."""
        with self._lock:
            return self._done.union(
                (s.start, min(s.position, s.end)) for s in self._active if s.position > s.start
            )

    def bytes_done(self) -> int:
        with self._lock:
            return self._done.size() + sum(min(s.position, s.end) - s.start for s in self._active)

    def is_complete(self) -> bool:
        with self._lock:
            if self._free:
                return False
            return self._done.union((s.start, min(s.position, s.end)) for s in self._active).covers(
                self.total
            )

    def worth_claiming(self) -> bool:
        """Whether a new connection would get work: a free range, or one worth splitting."""
        with self._lock:
            if self._free:
                return True
            return any(s.remaining >= 2 * self.min_split for s in self._active)

    def has_free(self) -> bool:
        with self._lock:
            return bool(self._free)
