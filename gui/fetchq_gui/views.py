"""The job table's view: a hint where the list is empty, and columns that fit the window.

The Name column takes the room the others leave and elides; the columns a newcomer needs least
(priority, when added, where to) start hidden and come back from the header's menu, so the
table fits an 800-pixel window without a horizontal scroll bar.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import (
    QDrag,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView, QWidget

from .delegates import ElidingDelegate, ProgressDelegate
from .model import HEADERS, Column

REORDER_MIME = "application/x-fetchq-job-ids"
"""What a drag of rows inside the list carries: the dragged downloads' ids."""

EMPTY_HINT = "Drop links here, or press Ctrl+N to add downloads"

COLUMN_WIDTHS = {
    Column.NAME: 290,
    Column.SIZE: 75,
    Column.PROGRESS: 130,
    Column.SPEED: 85,
    Column.ETA: 75,
    Column.STATUS: 190,
    Column.PRIORITY: 55,
    Column.ADDED: 120,
    Column.DESTINATION: 220,
}
HIDDEN_AT_FIRST = (Column.PRIORITY, Column.ADDED, Column.DESTINATION)


class JobTableView(QTableView):
    """A table of jobs: whole rows selected, sortable, progress bars and elided names drawn by
    delegates, columns that fit, a context menu of the window's, and a hint in the viewport
    while it has no rows."""

    reorder_requested = Signal(list, object)  # job ids dragged, the id dropped on (None: end)

    def __init__(
        self, parent: Optional[QWidget] = None, hint: str = EMPTY_HINT, row_padding: int = 12
    ) -> None:
        super().__init__(parent)
        self.hint = hint
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + row_padding)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self))
        self.setItemDelegateForColumn(Column.NAME, ElidingDelegate(self))
        self.setItemDelegateForColumn(Column.DESTINATION, ElidingDelegate(self))
        self._id_role = int(Qt.ItemDataRole.UserRole)

    def enable_reordering(self, id_role: int) -> None:
        """Rows can be dragged onto another row to run before it (:attr:`reorder_requested`);
        other drags (links dropped from outside) go on to the window."""
        self._id_role = id_role
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDropIndicatorShown(True)

    def dragged(self) -> Optional[QMimeData]:
        """What a drag of the selected rows carries (None when nothing is selected)."""
        ids = sorted(
            {int(index.data(self._id_role)) for index in self.selectionModel().selectedRows()}
        )
        if not ids:
            return None
        mime = QMimeData()
        mime.setData(REORDER_MIME, ",".join(map(str, ids)).encode())
        return mime

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        """Qt's drag of the selection, carrying the rows' ids."""
        mime = self.dragged()
        if mime is not None:
            drag = QDrag(self)
            drag.setMimeData(mime)
            drag.exec(Qt.DropAction.MoveAction)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(REORDER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # links from outside: the window takes them

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(REORDER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        if not data.hasFormat(REORDER_MIME):
            event.ignore()
            return
        ids = [int(part) for part in bytes(data.data(REORDER_MIME).data()).decode().split(",")]
        target = self.indexAt(event.position().toPoint())
        before = int(target.data(self._id_role)) if target.isValid() else None
        event.acceptProposedAction()
        self.reorder_requested.emit(ids, before)

    def select_under(self, position: QPoint) -> None:
        """Before a context menu: the row under the pointer joins the selection, unless it is
        in it already (then the whole selection is what the menu acts on)."""
        index = self.indexAt(position)
        if index.isValid() and not self.selectionModel().isRowSelected(index.row(), index.parent()):
            self.selectRow(index.row())

    def showing_hint(self) -> bool:
        model = self.model()
        return bool(self.hint) and (model is None or model.rowCount() == 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if not self.showing_hint():
            return
        painter = QPainter(self.viewport())
        color = self.palette().placeholderText().color()
        painter.setPen(color)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(
            self.viewport().rect().adjusted(24, 24, -24, -24),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            self.hint,
        )
        painter.end()


def fit_columns(table: QTableView, hide: tuple[Column, ...] = HIDDEN_AT_FIRST) -> None:
    """Give the table its column widths, let Name stretch, hide the least needed columns,
    and let the header's context menu show or hide any of them."""
    header = table.horizontalHeader()
    header.setSectionsMovable(True)
    header.setHighlightSections(False)
    header.setStretchLastSection(False)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(48)
    for column, width in COLUMN_WIDTHS.items():
        table.setColumnWidth(column, width)
    for column in hide:
        table.setColumnHidden(column, True)
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.customContextMenuRequested.connect(
        lambda position: column_menu(table).popup(header.mapToGlobal(position))
    )


def column_menu(table: QTableView) -> QMenu:
    """Checkable entries to show or hide each column but Name."""
    menu = QMenu(table)
    menu.setObjectName("column_menu")
    menu.aboutToHide.connect(menu.deleteLater)
    for column in Column:
        if column == Column.NAME:
            continue
        action = menu.addAction(HEADERS[column])
        action.setObjectName(f"column_{column.name.lower()}")
        action.setCheckable(True)
        action.setChecked(not table.isColumnHidden(column))
        action.toggled.connect(lambda on, c=column: table.setColumnHidden(c, not on))
    return menu
