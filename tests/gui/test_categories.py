"""Categories in the app (issue 17, item 4): downloads into the default folder land in their
type's folder, the filter shows one type, and Settings edits the table."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QPushButton, QTableWidgetItem
from pytestqt.qtbot import QtBot

from fetchq import DEFAULT_CATEGORIES
from fetchq.testing import TestServer
from fetchq_gui import MainWindow, Settings
from fetchq_gui.model import Column
from tests.gui.gui_helpers import WAIT_MS, child, click, wait_cell
from tests.helpers import payload


def test_sorting_by_type_is_on_for_a_new_user(tmp_path: Path) -> None:
    fresh = Settings(QSettings(str(tmp_path / "new.ini"), QSettings.Format.IniFormat))
    assert fresh.sort_by_category is True
    assert fresh.categories == DEFAULT_CATEGORIES


def test_downloads_land_in_their_category_folder_and_the_filter_shows_one_type(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    window.settings.sort_by_category = True
    urls = [
        server.add("/talk.mp4", payload(3000, 1)),
        server.add("/album.flac", payload(3000, 2)),
        server.add("/data.bin", payload(3000, 3)),
    ]
    jobs = window.add_urls(urls)
    for job in jobs:
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert (downloads / "Video" / "talk.mp4").is_file()
    assert (downloads / "Music" / "album.flac").is_file()
    assert (downloads / "data.bin").is_file()
    combo = window.category_filter
    assert [combo.itemText(i) for i in range(combo.count())][:3] == [
        "All types",
        "Documents",
        "Music",
    ]
    combo.setCurrentIndex(combo.findText("Video"))
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=WAIT_MS)
    shown = window.proxy.index(0, Column.NAME).data()
    assert shown == "talk.mp4"
    combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 3, timeout=WAIT_MS)


def test_a_folder_chosen_in_the_add_dialog_is_kept(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    window.settings.sort_by_category = True
    chosen = downloads / "talks"
    chosen.mkdir()
    (job,) = window.add_urls([server.add("/keynote.mp4", b"k" * 2000)], chosen)
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert (chosen / "keynote.mp4").is_file()


def test_settings_edit_the_types_and_the_next_download_follows(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    dialog = window.open_settings()
    assert not dialog.categories_table.isEnabled()  # sorting is off in this test's settings
    dialog.sort_check.setChecked(True)
    table = dialog.categories_table
    dialog._add_category_row("Papers", "Reading/Papers", "pdf application/pdf")
    names = [(table.item(r, 0) or QTableWidgetItem()).text() for r in range(table.rowCount())]
    row = names.index("Documents")
    table.removeRow(row)
    click(child(dialog, QPushButton, "settings_ok"))
    assert window.settings.sort_by_category
    assert "Papers" in [c.name for c in window.queue.categories]
    (job,) = window.add_urls([server.add("/paper.pdf", b"%PDF" * 500)])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert (downloads / "Reading" / "Papers" / "paper.pdf").is_file()
    assert window.category_filter.findText("Papers") > 0
