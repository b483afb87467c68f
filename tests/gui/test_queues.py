"""Named queues in the app (issue 17, item 3): set in Settings, chosen in the Add dialog, run
within their own limit and hours, shown one at a time."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus, Hours
from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.dialogs import AddDownloadsDialog
from fetchq_gui.model import Column
from fetchq_gui.scheduling import NamedQueue
from tests.gui.gui_helpers import (
    WAIT_MS,
    cell,
    child,
    click,
    click_toolbar,
    type_text,
    wait_cell,
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_queues_are_named_in_settings_and_a_bad_row_is_explained(window: MainWindow) -> None:
    dialog = window.open_settings()
    dialog._add_queue_row("Night", "2", "22:00-06:00")
    dialog._add_queue_row("Broken", "two", "")
    click(child(dialog, QPushButton, "settings_ok"))
    assert dialog.isVisible()
    assert dialog.queues_problem.text() == "Queues: Broken: at once is a number, 1 or more"
    dialog.queues_table.removeRow(1)
    click(child(dialog, QPushButton, "settings_ok"))
    assert window.settings.queues == (NamedQueue("Night", 2, Hours(time(22), time(6))),)
    assert window.queue_filter.isVisible()


def test_a_queue_outside_its_hours_waits_while_the_main_queue_runs(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    clock = Clock(datetime(2026, 12, 2, 12, 0))  # noon: the night queue waits
    window.scheduler.clock = clock
    window.settings.queues = (NamedQueue("Night", 1, Hours(time(22), time(6))),)
    window.apply_settings()
    click_toolbar(qtbot, window, "action_add")
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    type_text(dialog.urls_edit, server.add("/big.iso", b"i" * 5000))
    dialog.queue_combo.setCurrentIndex(dialog.queue_combo.findText("Night"))
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT_MS)
    click(dialog.ok_button)
    (night,) = window.queue.list_jobs()
    assert night.group == "Night"
    (day,) = window.add_urls([server.add("/now.bin", b"d" * 500)])
    wait_cell(qtbot, window, day.id, Column.STATUS, "Completed")
    assert night.status == DownloadJobStatus.WAITING
    window.queue_filter.setCurrentIndex(window.queue_filter.findText("Night"))
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=WAIT_MS)
    clock.now = datetime(2026, 12, 2, 22, 0)
    window.scheduler.tick()
    wait_cell(qtbot, window, night.id, Column.STATUS, "Completed")


def test_dragging_rows_onto_another_makes_them_run_before_it(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    window.queue.held = True  # nothing starts while the order is arranged
    window.queue.max_parallel_dl = 1
    urls = [server.add(f"/{name}.bin", name.encode() * 100) for name in "abcd"]
    a, b, c, d = window.add_urls(urls)
    window.select_jobs([c.id, d.id])
    mime = window.table.dragged()
    assert mime is not None
    source_row = window.model.row_of(a.id)
    assert source_row is not None
    row = window.proxy.mapFromSource(window.model.index(source_row, 0))
    target = QPointF(window.table.visualRect(row).center())
    viewport = window.table.viewport()
    for event in (
        QDragEnterEvent(target.toPoint(), Qt.DropAction.MoveAction, mime,
                        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
        QDragMoveEvent(target.toPoint(), Qt.DropAction.MoveAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier),
        QDropEvent(target, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
                   Qt.KeyboardModifier.NoModifier),
    ):  # fmt: skip
        QApplication.sendEvent(viewport, event)  # what a drag and drop delivers, in order
        assert event.isAccepted()
    assert [job.priority for job in (c, d, a, b)] == [0, 1, 2, 3]
    assert cell(window, c.id, Column.PRIORITY) == "0"
    window.queue.held = False
    for job in (a, b, c, d):
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    # the order the queue took them in (requests may be sent ahead, in any order)
    started = sorted((a, b, c, d), key=lambda job: job.job_sequence or 0)
    assert started == [c, d, a, b]


def test_links_dropped_from_outside_still_reach_the_window(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    mime = QMimeData()
    mime.setText(server.add("/dropped.bin", b"x" * 100))
    point = QPointF(window.table.viewport().rect().center())
    enter = QDragEnterEvent(point.toPoint(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(window.table.viewport(), enter)
    assert enter.isAccepted()  # not the list's own drag: the window took the link
    assert window.drop_overlay.isVisible()  # and shows what it would add
