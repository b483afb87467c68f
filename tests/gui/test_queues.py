"""Named queues in the app (issue 17, item 3): set in Settings, chosen in the Add dialog, run
within their own limit and hours, shown one at a time."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus, Hours
from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.dialogs import AddDownloadsDialog
from fetchq_gui.model import Column
from fetchq_gui.scheduling import NamedQueue
from tests.gui.gui_helpers import WAIT_MS, child, click, click_toolbar, type_text, wait_cell


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
