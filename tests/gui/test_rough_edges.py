"""The rough edges of the first hour (issue 19): hints, units, fitting, wording, undo."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHeaderView,
    QPushButton,
    QToolBar,
    QToolButton,
)
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow, Settings
from fetchq_gui.actions import enablement, tray_enablement
from fetchq_gui.bridge import JobSnapshot
from fetchq_gui.dialogs import AddDownloadsDialog, SettingsDialog
from fetchq_gui.errors import human_error, human_exception
from fetchq_gui.model import status_text
from fetchq_gui.notifications import finished_messages
from fetchq_gui.status import counts_text
from fetchq_gui.views import EMPTY_HINT
from tests.gui.gui_helpers import WAIT_MS, cell, child, click, click_toolbar, select, wait_cell


def _snapshot(status: DownloadJobStatus, **fields: object) -> JobSnapshot:
    values: dict[str, object] = {
        "id": 1, "source": "https://example.com/a.bin", "name": "a.bin", "status": status,
        "bytes": 0, "total": 0, "priority": 10, "added": None, "dest": "/tmp",
        "download_path": None, "error_type": None, "attempts": 0,
    }  # fmt: skip
    values.update(fields)
    return JobSnapshot(**values)  # type: ignore[arg-type]


def test_the_empty_list_shows_a_hint(qtbot: QtBot, window: MainWindow, server: TestServer) -> None:
    assert window.table.showing_hint()
    assert window.table.hint == EMPTY_HINT == "Drop links here, or press Ctrl+N to add downloads"
    image = window.table.viewport().grab().toImage()
    background = image.pixelColor(2, 2)
    hint_pixels = sum(
        1
        for x in range(0, image.width(), 3)
        for y in range(image.height() // 2 - 12, image.height() // 2 + 12)
        if image.pixelColor(x, y) != background
    )
    assert hint_pixels > 20  # the text is painted in the middle of the empty table
    window.add_urls([server.add("/x.bin", b"x")])
    assert not window.table.showing_hint()


def test_the_speed_limit_has_units_and_an_unlimited_state(
    qtbot: QtBot, window: MainWindow, settings: Settings
) -> None:
    click_toolbar(qtbot, window, "action_settings")
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None
    check = child(dialog, QCheckBox, "settings_limit_check")
    value = child(dialog, QDoubleSpinBox, "settings_speed_limit")
    unit = child(dialog, QComboBox, "settings_limit_unit")
    assert not check.isChecked()  # unlimited is a state, not 0
    assert not value.isEnabled()
    check.setChecked(True)
    unit.setCurrentText("MiB/s")
    assert value.singleStep() == 0.5
    value.setValue(1.5)
    unit.setCurrentText("KiB/s")
    assert value.singleStep() == 64
    unit.setCurrentText("MiB/s")
    value.setValue(1.5)
    assert dialog.limit_kib() == 1536
    browse = dialog.findChild(QPushButton, "settings_browse")
    assert browse is not None
    click(browse)
    qtbot.waitUntil(lambda: dialog.findChild(QFileDialog) is not None, timeout=WAIT_MS)
    folder_dialog = dialog.findChild(QFileDialog)
    assert folder_dialog is not None
    folder_dialog.reject()
    ok = dialog.findChild(QPushButton, "settings_ok")
    assert ok is not None
    click(ok)
    assert settings.speed_limit_kib == 1536
    assert window.queue.speed_limit == 1536 * 1024


def test_a_polite_default_for_connections(tmp_path: Path) -> None:
    settings = Settings(QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat))
    assert settings.connections_per_file == 8


def test_a_narrow_window_keeps_the_table_and_toolbar_in_view(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    window.add_urls([server.add("/a-file-with-a-rather-long-name-indeed-to-elide.iso", b"a")])
    window.resize(800, 500)
    qtbot.waitUntil(lambda: window.width() == 800, timeout=WAIT_MS)
    table = window.table
    header = table.horizontalHeader()
    shown = sum(header.sectionSize(c) for c in Column if not table.isColumnHidden(c))
    assert shown <= table.viewport().width()  # no column out of view
    assert not table.horizontalScrollBar().isVisible()
    assert header.sectionResizeMode(Column.NAME) == QHeaderView.ResizeMode.Stretch
    toolbar = window.findChild(QToolBar, "main_toolbar")
    assert toolbar is not None
    extension = toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    assert extension is not None
    assert extension.isVisible()  # the rest of the toolbar is one click away


def test_errors_read_as_sentences() -> None:
    assert human_error("HTTPError(Not Found)") == "Not found on the server"
    assert human_error("HTTPError(I'm a teapot)") == "The server said: I'm a teapot"
    assert (
        human_error("NetworkError(Nothing answers at 127.0.0.1:1 (Failed to connect: refused))")
        == "Nothing answers at 127.0.0.1:1"
    )
    assert human_error("ChecksumMismatch(sha256 differs)") == "The file does not match its checksum"
    assert human_error("OSError([Errno 28] No space left on device)") == "No space left on device"
    assert human_exception(ConnectionRefusedError(111, "Connection refused")) == (
        "Connection refused"
    )
    failed = _snapshot(DownloadJobStatus.ERROR, error_type="HTTPError(Not Found)")
    assert status_text(failed) == "Failed: Not found on the server"


def test_a_failed_row_says_why_in_words_with_details_to_copy(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    (job,) = window.add_urls([server.url("/missing.bin")])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Failed: Not found on the server")
    row = window.model.row_of(job.id)
    assert row is not None
    tooltip = window.model.index(row, Column.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith("HTTPError(Not Found)")
    select(window, job.id)
    window.action("action_copy_error").trigger()
    copied = QGuiApplication.clipboard().text()
    assert copied.startswith(f"Link: {server.url('/missing.bin')}\nError: HTTPError(Not Found)")
    assert "requests.exceptions.HTTPError" in copied  # the traceback, for a bug report


def test_the_file_name_field_forgets_a_single_links_name(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    dialog = window.open_add_dialog()
    one = server.add("/named.bin", b"n" * 10, content_disposition='attachment; filename="x.bin"')
    dialog.urls_edit.setPlainText(one)
    qtbot.waitUntil(lambda: dialog.name_edit.placeholderText() == "x.bin", timeout=WAIT_MS)
    dialog.name_edit.setText("mine.bin")
    dialog.urls_edit.setPlainText(f"{one}\n{server.add('/other.bin', b'o')}")
    assert not dialog.name_edit.isEnabled()
    assert dialog.name_edit.text() == ""
    assert dialog.name_edit.placeholderText() == "each file is named by its server"
    assert isinstance(dialog, AddDownloadsDialog)
    dialog.reject()


def test_time_left_only_when_it_means_something(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    (job,) = window.add_urls([server.add("/eta.bin", b"e" * (8 << 20), shared_rate=1 << 20)])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Downloading")
    assert cell(window, job.id, Column.ETA) == ""  # no estimate from the first second
    qtbot.waitUntil(lambda: cell(window, job.id, Column.ETA).endswith(" s"), timeout=WAIT_MS)
    assert cell(window, job.id, Column.ETA) != "0 s"


def test_counts_and_tray_actions_follow_what_there_is() -> None:
    paused = _snapshot(DownloadJobStatus.PAUSED)
    running = _snapshot(DownloadJobStatus.RUNNING, id=2)
    assert counts_text([]) == "0 active · 0 queued · 0 done"
    assert counts_text([paused, running]) == "1 active · 0 queued · 1 paused · 0 done"
    assert tray_enablement([]) == (False, False)
    assert tray_enablement([paused]) == (False, True)
    assert tray_enablement([running]) == (True, False)
    can = enablement([paused], [paused, running])
    assert can["action_resume"]
    assert not can["action_pause"]
    assert not can["action_prune"]  # nothing completed to clear


def test_clear_completed_keeps_failed_ones_and_can_be_undone(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    ok, missing = window.add_urls([server.add("/done.bin", b"d" * 10), server.url("/nope.bin")])
    wait_cell(qtbot, window, ok.id, Column.STATUS, "Completed")
    wait_cell(qtbot, window, missing.id, Column.STATUS, "Failed: Not found on the server")
    click_toolbar(qtbot, window, "action_prune")
    assert window.model.row_of(ok.id) is None
    assert window.model.row_of(missing.id) is not None  # failed ones need a decision
    assert window.statusBar().currentMessage() == "Cleared 1 completed download (the files stay)"
    undo = window.findChild(QPushButton, "status_undo")
    assert undo is not None
    assert undo.isVisible()
    click(undo)
    assert window.model.row_of(ok.id) == 0  # back where it was
    assert window.queue.id_to_job(ok.id).complete
    click_toolbar(qtbot, window, "action_prune")
    window.status.commit()  # the time ran out
    assert not undo.isVisible()
    assert [j.id for j in window.queue.list_jobs()] == [missing.id]


def test_finished_downloads_are_told_once_per_kind_of_ending() -> None:
    done = _snapshot(DownloadJobStatus.COMPLETED, name="a.bin", download_path="/d/a.bin")
    there = _snapshot(DownloadJobStatus.COMPLETED, id=2, name="b.bin", already_downloaded=True)
    failed = _snapshot(DownloadJobStatus.ERROR, id=3, name="c.bin", error_type="HTTPError(Gone)")
    messages = finished_messages([done, there, failed])
    assert [(m.title, m.body, m.failed, m.path) for m in messages] == [
        ("Download complete", "a.bin", False, "/d/a.bin"),
        ("Already downloaded", "b.bin", False, None),
        ("Download failed", "c.bin: The file is gone from the server", True, None),
    ]
    two = finished_messages([done, _snapshot(DownloadJobStatus.COMPLETED, id=4, name="d.bin")])
    assert [(m.title, m.body) for m in two] == [("2 downloads complete", "a.bin, d.bin")]
