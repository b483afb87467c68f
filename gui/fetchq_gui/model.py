"""The job table's model: rows from snapshots, changes flushed once per refresh tick.

Snapshots arrive as often as the core reports (up to ~10 a second per job). They are kept in a
pending map and applied by one timer tick (every 150 ms by default): each changed row emits
``dataChanged`` for the span of columns that changed, and contiguous rows are merged, so
thousands of rows and dozens of active downloads cost a handful of signals per tick.
"""

from __future__ import annotations

import bisect
import enum
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Optional, Union

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)

from fetchq import DownloadJobStatus

from .bridge import JobSnapshot
from .errors import human_error
from .units import SpeedMeter, eta_seconds, human_duration, human_size, human_speed

ModelIndex = Union[QModelIndex, QPersistentModelIndex]

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2
"""Done as a float in [0, 1], or -1.0 while the size is unknown."""
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 3
STATUS_ROLE = Qt.ItemDataRole.UserRole + 4
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 20
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 21
GROUP_ROLE = Qt.ItemDataRole.UserRole + 22
ALL_QUEUES = "\0all"
"""The queue filter's "every queue" (None is the main queue)."""
PACKAGE_ROLE = Qt.ItemDataRole.UserRole + 5
"""The id of the multi-file job a file row belongs to, or None."""


class Column(enum.IntEnum):
    NAME = 0
    SIZE = 1
    PROGRESS = 2
    SPEED = 3
    ETA = 4
    STATUS = 5
    PRIORITY = 6
    ADDED = 7
    DESTINATION = 8


HEADERS = {
    Column.NAME: "Name",
    Column.SIZE: "Size",
    Column.PROGRESS: "Progress",
    Column.SPEED: "Speed",
    Column.ETA: "Time left",
    Column.STATUS: "Status",
    Column.PRIORITY: "Priority",
    Column.ADDED: "Added",
    Column.DESTINATION: "Destination",
}

STATUS_TEXT = {
    DownloadJobStatus.WAITING: "Queued",
    DownloadJobStatus.RUNNING: "Downloading",
    DownloadJobStatus.PAUSED: "Paused",
    DownloadJobStatus.COMPLETED: "Completed",
    DownloadJobStatus.CANCELLED: "Cancelled",
    DownloadJobStatus.ERROR: "Failed",
}

STALL_AFTER = 5.0
"""Seconds without a byte before a running download says it is stalled."""

_UNFINISHED = {DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING, DownloadJobStatus.PAUSED}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_NUMERIC = {Column.SIZE, Column.SPEED, Column.ETA, Column.PRIORITY}


class _Row:
    """A row's state on the GUI thread: the latest snapshot, its speed, what a probe learned."""

    __slots__ = (
        "added_text",
        "last_change",
        "probed_name",
        "probed_size",
        "snapshot",
        "speed",
        "stalled",
    )

    def __init__(self, snapshot: JobSnapshot) -> None:
        self.snapshot = snapshot
        self.speed = SpeedMeter()
        self.last_change = time.monotonic()
        """When bytes last arrived, or the job last changed state."""
        self.stalled = False
        self.probed_name: Optional[str] = None
        self.probed_size: Optional[int] = None
        self.added_text = _local_time(snapshot.added)

    @property
    def name(self) -> str:
        if self.snapshot.download_path is None and self.probed_name:
            return self.probed_name
        return self.snapshot.name

    @property
    def total(self) -> int:
        return self.snapshot.total or self.probed_size or 0


def _local_time(iso: Optional[str]) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _changed_columns(old: JobSnapshot, new: JobSnapshot) -> tuple[int, int]:
    """The first and last column a snapshot change touches."""
    columns: list[int] = []
    if old.name != new.name or old.download_path != new.download_path:
        columns += [Column.NAME, Column.DESTINATION]
    if old.total != new.total:
        columns += [Column.SIZE, Column.PROGRESS, Column.ETA]
    if old.bytes != new.bytes:
        columns += [Column.PROGRESS, Column.SPEED, Column.ETA]
    if (
        old.status != new.status
        or old.error_type != new.error_type
        or old.waiting_for != new.waiting_for
        or old.already_downloaded != new.already_downloaded
        or old.link_expired != new.link_expired
        or old.auth_challenge != new.auth_challenge
        or old.category != new.category
    ):
        columns += [Column.PROGRESS, Column.SPEED, Column.ETA, Column.STATUS]
    if old.priority != new.priority:
        columns.append(Column.PRIORITY)
    if not columns:
        return (-1, -1)
    return (min(columns), max(columns))


class JobTableModel(QAbstractTableModel):
    """One row per job, in the order jobs were added."""

    flushed = Signal()  # after each tick that changed something: actions and status bar refresh

    def __init__(self, parent: Optional[QObject] = None, refresh_ms: int = 150) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._row_of: dict[int, int] = {}
        self._pending: dict[int, JobSnapshot] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self.ticks_with_changes = 0

    # -- Qt model API -----------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == PROGRESS_ROLE:
            status = row.snapshot.status
            if status == DownloadJobStatus.CANCELLED or (
                status == DownloadJobStatus.ERROR and not row.snapshot.bytes
            ):
                return None  # nothing kept, or nothing ever came: no bar
            fraction = _fraction(row)
            return -1.0 if fraction is None else fraction
        if role == JOB_ID_ROLE:
            return row.snapshot.id
        if role == STATUS_ROLE:
            return row.snapshot.status
        if role == CATEGORY_ROLE:
            return row.snapshot.category
        if role == GROUP_ROLE:
            return row.snapshot.group
        if role == SEARCH_ROLE:
            return f"{row.snapshot.name}\n{row.snapshot.source}\n{row.snapshot.download_path}"
        if role == PACKAGE_ROLE:
            return row.snapshot.package_id
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return int(_RIGHT)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{HEADERS[column]}: {self._display(row, column)}"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- rows -------------------------------------------------------------------------------

    def add(self, snapshots: Iterable[JobSnapshot]) -> None:
        """Append rows for new jobs (at once, not on the next tick)."""
        fresh = [s for s in snapshots if s.id not in self._row_of]
        if not fresh:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        for offset, snapshot in enumerate(fresh):
            self._row_of[snapshot.id] = first + offset
            self._rows.append(_Row(snapshot))
        self.endInsertRows()
        self.flushed.emit()

    def reinsert(self, snapshots: Iterable[JobSnapshot]) -> None:
        """Put rows back where their ids place them (an undone removal). Rows are in id order
        (ids only grow), so each finds its place by bisection; the index is rebuilt once."""
        ids = [r.snapshot.id for r in self._rows]
        for snapshot in sorted(snapshots, key=lambda s: s.id):
            if snapshot.id in self._row_of:
                continue
            row = bisect.bisect_left(ids, snapshot.id)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(row, _Row(snapshot))
            ids.insert(row, snapshot.id)
            self.endInsertRows()
        self._row_of = {job_id: i for i, job_id in enumerate(ids)}
        self.flushed.emit()

    def update(self, snapshot: JobSnapshot) -> None:
        """Record a change; it shows on the next tick. Unknown jobs are added."""
        if snapshot.id not in self._row_of:
            self.add([snapshot])
            return
        self._pending[snapshot.id] = snapshot

    def remove(self, job_ids: Iterable[int]) -> None:
        doomed = sorted((self._row_of[i] for i in set(job_ids) if i in self._row_of), reverse=True)
        for row in doomed:
            self.beginRemoveRows(QModelIndex(), row, row)
            snapshot = self._rows.pop(row).snapshot
            self._pending.pop(snapshot.id, None)
            self.endRemoveRows()
        if doomed:
            self._row_of = {r.snapshot.id: i for i, r in enumerate(self._rows)}
            self.flushed.emit()

    def set_probe(self, job_id: int, name: Optional[str], size: Optional[int]) -> None:
        """Show what a probe learned about a job that has not started yet."""
        row_number = self._row_of.get(job_id)
        if row_number is None:
            return
        row = self._rows[row_number]
        row.probed_name, row.probed_size = name, size
        self.dataChanged.emit(self.index(row_number, 0), self.index(row_number, len(Column) - 1))

    def snapshot(self, job_id: int) -> Optional[JobSnapshot]:
        row = self._row_of.get(job_id)
        if row is None:
            return None
        pending = self._pending.get(job_id)
        return pending if pending is not None else self._rows[row].snapshot

    def snapshots(self) -> list[JobSnapshot]:
        return [self._pending.get(r.snapshot.id, r.snapshot) for r in self._rows]

    def row_of(self, job_id: int) -> Optional[int]:
        return self._row_of.get(job_id)

    def speed_of(self, job_id: int) -> float:
        row = self._row_of.get(job_id)
        return self._rows[row].speed.speed if row is not None else 0.0

    def total_speed(self) -> float:
        return sum(r.speed.speed for r in self._rows if r.snapshot.status == "running")

    # -- the tick ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Apply pending snapshots and refresh speeds: one dataChanged per run of rows."""
        now = time.monotonic()
        spans: dict[int, tuple[int, int]] = {}
        pending, self._pending = self._pending, {}
        for job_id, snapshot in pending.items():
            row_number = self._row_of.get(job_id)
            if row_number is None:
                continue
            row = self._rows[row_number]
            span = _changed_columns(row.snapshot, snapshot)
            if snapshot.status != DownloadJobStatus.RUNNING:
                row.speed.reset()
            if snapshot.bytes != row.snapshot.bytes or snapshot.status != row.snapshot.status:
                row.last_change = now
            row.snapshot = snapshot
            if span[0] >= 0:
                spans[row_number] = span
        for row_number, row in enumerate(self._rows):
            running = row.snapshot.status == DownloadJobStatus.RUNNING
            stalled = running and now - row.last_change >= STALL_AFTER
            if stalled or row.stalled:  # the time since the last byte counts up
                first, last = spans.get(row_number, (Column.STATUS, Column.STATUS))
                spans[row_number] = (min(first, Column.STATUS), max(last, Column.STATUS))
            row.stalled = stalled
            if running:
                before = row.speed.speed
                row.speed.sample(now, row.snapshot.bytes)
                if row.speed.speed != before or row_number in spans:
                    first, last = spans.get(row_number, (Column.SPEED, Column.ETA))
                    spans[row_number] = (min(first, Column.SPEED), max(last, Column.ETA))
        if not spans:
            return
        self.ticks_with_changes += 1
        for first_row, last_row, first_column, last_column in _merge(spans):
            self.dataChanged.emit(
                self.index(first_row, first_column), self.index(last_row, last_column)
            )
        self.flushed.emit()

    # -- presentation -----------------------------------------------------------------------

    def _display(self, row: _Row, column: Column) -> str:
        snapshot = row.snapshot
        if column == Column.NAME:
            if snapshot.is_package:
                return f"{row.name}  ({snapshot.files} files)"
            return row.name
        if column == Column.SIZE:
            return human_size(row.total) if row.total else ""
        if column == Column.PROGRESS:
            fraction = _fraction(row)
            if fraction is None:
                return human_size(snapshot.kept_bytes) if snapshot.kept_bytes else ""
            return f"{fraction * 100:.0f} %"
        if column == Column.SPEED:
            return human_speed(row.speed.speed) if snapshot.status == "running" else ""
        if column == Column.ETA:
            if snapshot.status != DownloadJobStatus.RUNNING or row.stalled:
                return ""
            if not row.speed.settled(time.monotonic()):
                return ""  # a second of samples is not an estimate yet
            eta = eta_seconds(snapshot.bytes, row.total, row.speed.speed)
            return human_duration(eta) if eta is not None and eta >= 1 else ""
        if column == Column.STATUS:
            return status_text(snapshot, time.monotonic() - row.last_change if row.stalled else 0)
        if column == Column.PRIORITY:
            return str(snapshot.priority)
        if column == Column.ADDED:
            return row.added_text
        return snapshot.download_path or snapshot.dest

    def _sort_key(self, row: _Row, column: Column) -> Any:
        snapshot = row.snapshot
        keys: dict[Column, Any] = {
            Column.NAME: row.name.casefold(),
            Column.SIZE: row.total,
            Column.PROGRESS: snapshot.fraction if snapshot.fraction is not None else -1.0,
            Column.SPEED: row.speed.speed,
            Column.ETA: eta_seconds(snapshot.bytes, row.total, row.speed.speed) or 0.0,
            Column.STATUS: STATUS_TEXT[snapshot.status],
            Column.PRIORITY: snapshot.priority,
            Column.ADDED: snapshot.added or "",
            Column.DESTINATION: snapshot.download_path or snapshot.dest,
        }
        return keys[column]

    def _tooltip(self, row: _Row, column: Column) -> Optional[str]:
        snapshot = row.snapshot
        if column == Column.NAME:
            if snapshot.is_package:
                return f"{row.name}: {snapshot.files} files in one download; select it to see them"
            return f"{row.name}\n{snapshot.source}"
        if column == Column.STATUS and snapshot.error_type:
            return f"{snapshot.error_type}\n(right-click: Copy error details)"
        if column == Column.DESTINATION:
            return snapshot.download_path or snapshot.dest
        if column == Column.PROGRESS and snapshot.total:
            return f"{human_size(snapshot.bytes)} of {human_size(snapshot.total)}"
        return None


def _fraction(row: _Row) -> Optional[float]:
    snapshot = row.snapshot
    fraction = snapshot.fraction
    if fraction is None and row.total and snapshot.status != DownloadJobStatus.CANCELLED:
        fraction = min(1.0, snapshot.bytes / row.total)
    return fraction


WAITING_TEXT = {
    "bandwidth": "Waiting for bandwidth",
    "connection": "Waiting for a connection to host",
}


def status_text(snapshot: JobSnapshot, stalled_for: float = 0.0) -> str:
    """The Status column: the state in words, why a running job does not move, and a failure
    in a short sentence (the technical text is in the tooltip)."""
    status = snapshot.status
    if status == DownloadJobStatus.ERROR and snapshot.auth_challenge:
        return "Login required"
    if status == DownloadJobStatus.ERROR:
        return f"Failed: {human_error(snapshot.error_type)}"
    if status == DownloadJobStatus.COMPLETED and snapshot.already_downloaded:
        return "Already downloaded"
    if status == DownloadJobStatus.PAUSED and snapshot.link_expired:
        return "Link expired: Change link…"
    if status == DownloadJobStatus.RUNNING:
        if snapshot.waiting_for in WAITING_TEXT:
            return WAITING_TEXT[snapshot.waiting_for]
        if stalled_for >= STALL_AFTER:
            return f"Stalled · no data for {human_duration(stalled_for)}"
    text = STATUS_TEXT[status]
    if snapshot.is_package and status in _UNFINISHED:
        return f"{text} · {snapshot.files_done}/{snapshot.files} files"
    return text


def _merge(spans: dict[int, tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Merge changed rows into runs of consecutive rows with the union of their columns."""
    runs: list[list[int]] = []
    for row in sorted(spans):
        first, last = spans[row]
        if runs and runs[-1][1] == row - 1:
            runs[-1][1] = row
            runs[-1][2] = min(runs[-1][2], first)
            runs[-1][3] = max(runs[-1][3], last)
        else:
            runs.append([row, row, first, last])
    return [(a, b, c, d) for a, b, c, d in runs]


class Filter(enum.Enum):
    ALL = "All"
    ACTIVE = "Active"
    FINISHED = "Finished"
    FAILED = "Failed"


_FILTER_STATUSES = {
    Filter.ACTIVE: {DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING, DownloadJobStatus.PAUSED},
    Filter.FINISHED: {DownloadJobStatus.COMPLETED},
    Filter.FAILED: {DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED},
}


class JobFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's natural key and shows all, active, finished or failed jobs."""

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._filter = Filter.ALL
        self._category: Optional[str] = None
        self._search = ""
        self._group: Optional[str] = ALL_QUEUES
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def mode(self) -> Filter:
        return self._filter

    def set_mode(self, mode: Filter) -> None:
        self._refilter("_filter", mode)

    def _refilter(self, attribute: str, value: object) -> None:
        """Change one of the filter's settings, and the rows shown, if it changes."""
        if getattr(self, attribute) != value:
            self.beginFilterChange()
            setattr(self, attribute, value)
            self.endFilterChange()

    def set_category(self, category: Optional[str]) -> None:
        """Show only downloads of this category (None: every one)."""
        self._refilter("_category", category)

    def set_group(self, group: Optional[str]) -> None:
        """Show only one queue's downloads (None: the main queue; ALL_QUEUES: all)."""
        self._refilter("_group", group)

    def set_search(self, text: str) -> None:
        """Show only downloads whose name or link holds ``text`` (any case)."""
        self._refilter("_search", text.casefold())

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._search and self._search not in str(index.data(SEARCH_ROLE)).casefold():
            return False
        if self._group != ALL_QUEUES and index.data(GROUP_ROLE) != self._group:
            return False
        if self._category is not None and index.data(CATEGORY_ROLE) != self._category:
            return False
        if self._filter == Filter.ALL:
            return True
        return index.data(STATUS_ROLE) in _FILTER_STATUSES[self._filter]


class FilesProxy(JobFilterProxy):
    """The files of one multi-file job (``package_id``), from a model of every job's files."""

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._package_id: Optional[int] = None

    @property
    def package_id(self) -> Optional[int]:
        return self._package_id

    def set_package(self, package_id: Optional[int]) -> None:
        self._refilter("_package_id", package_id)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        index = self.sourceModel().index(source_row, 0, source_parent)
        return self._package_id is not None and index.data(PACKAGE_ROLE) == self._package_id
