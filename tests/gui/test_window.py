"""The window, driven as a person would: the add dialog, drops, menus, the toolbar, settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QInputDialog,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QStyleOptionViewItem,
    QTableView,
)
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService
from fetchq.testing import TestServer
from fetchq_gui import Column, Filter, MainWindow
from fetchq_gui.delegates import ElidingDelegate
from fetchq_gui.dialogs import AddDownloadsDialog, SettingsDialog
from tests.gui.gui_helpers import (
    WAIT_MS,
    cell,
    child,
    click,
    click_toolbar,
    drag_and_drop,
    drag_enter_event,
    menu_action,
    open_context_menu,
    select,
    type_text,
    wait_cell,
)
from tests.helpers import file_sha256, leftovers, payload, sha256

ACTIONS = (
    "action_add",
    "action_pause",
    "action_resume",
    "action_cancel",
    "action_cancel_all",
    "action_prune",
    "action_open_file",
    "action_open_folder",
    "action_settings",
    "action_quit",
)


def test_named_actions_with_icons_tips_and_shortcuts(window: MainWindow) -> None:
    assert window.findChild(QTableView, "job_table") is window.table
    for name in ACTIONS:
        action = window.findChild(QAction, name)
        assert action is not None, name
        assert not action.icon().isNull(), name
        assert action.toolTip(), name
        assert not action.shortcut().isEmpty(), name
    headers = [window.model.headerData(c, Qt.Orientation.Horizontal) for c in Column]
    assert headers == [
        "Name",
        "Size",
        "Progress",
        "Speed",
        "Time left",
        "Status",
        "Priority",
        "Added",
        "Destination",
    ]


def test_actions_are_enabled_only_when_they_can_act(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    for name in ("action_pause", "action_resume", "action_cancel", "action_cancel_all",
                 "action_prune", "action_open_file", "action_open_folder"):  # fmt: skip
        assert not window.action(name).isEnabled(), name
    assert window.action("action_add").isEnabled()
    gate = threading.Event()
    (job,) = window.add_urls([server.add("/held.bin", b"h", gate=gate)])
    qtbot.waitUntil(lambda: window.action("action_cancel_all").isEnabled(), timeout=WAIT_MS)
    assert not window.action("action_pause").isEnabled()  # nothing selected yet
    select(window, job.id)
    qtbot.waitUntil(lambda: window.action("action_pause").isEnabled(), timeout=WAIT_MS)
    assert window.action("action_cancel").isEnabled()
    assert not window.action("action_resume").isEnabled()
    assert not window.action("action_open_file").isEnabled()
    gate.set()


def test_add_dialog_downloads_and_the_row_reaches_completed(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    data = payload(3_000_000)
    url = server.add("/files/report.pdf", data, rate=6_000_000)
    click_toolbar(qtbot, window, "action_add")
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.folder_edit.text() == str(downloads)
    type_text(dialog.urls_edit, url)
    qtbot.waitUntil(lambda: "report.pdf" in dialog.summary.text(), timeout=WAIT_MS)  # probed
    assert "2.9 MiB" in dialog.summary.text()
    dialog.checksum_edit.setText(f"sha256:{sha256(data)}")
    click(dialog.ok_button)
    (snapshot,) = window.model.snapshots()
    qtbot.waitUntil(
        lambda: cell(window, snapshot.id, Column.STATUS) == "Downloading", timeout=WAIT_MS
    )
    wait_cell(qtbot, window, snapshot.id, Column.STATUS, "Completed")
    assert cell(window, snapshot.id, Column.PROGRESS) == "100 %"
    assert cell(window, snapshot.id, Column.NAME) == "report.pdf"
    assert cell(window, snapshot.id, Column.SIZE) == "2.9 MiB"
    assert file_sha256(downloads / "report.pdf") == sha256(data)
    assert window.settings.last_add_folder == downloads


def test_add_dialog_refuses_what_it_cannot_download(
    qtbot: QtBot, window: MainWindow, server: TestServer, gui_queue: DownloadQueueService
) -> None:
    dialog = window.open_add_dialog()
    qtbot.waitExposed(dialog)
    type_text(dialog.urls_edit, "gopher://example.org/file.iso")
    qtbot.waitUntil(lambda: "Not added" in dialog.summary.text(), timeout=WAIT_MS)
    assert "not an http, https, ftp or ftps URL" in dialog.summary.text()
    assert not dialog.ok_button.isEnabled()
    dialog.urls_edit.setPlainText("example.org/file.zip")
    assert "no https://, http:// or ftp://" in dialog.summary.text()
    assert not dialog.ok_button.isEnabled()
    good = server.add("/good.bin", b"good")
    dialog.urls_edit.setPlainText(f"See {good}, and also gopher://nope/x and http:// for fun.")
    assert dialog.parsed.urls == (good,)
    assert len(dialog.parsed.refused) == 2
    dialog.checksum_edit.setText("sha256:zz")
    assert not dialog.ok_button.isEnabled()
    assert "not hexadecimal" in dialog.summary.text()
    dialog.checksum_edit.clear()
    dialog.name_edit.setText("../escape.bin")
    assert not dialog.ok_button.isEnabled()
    dialog.name_edit.setText("renamed.bin")
    click(dialog.ok_button)
    (job,) = gui_queue.list_jobs()
    assert str(job.source) == good
    assert job.download_path == window.download_dir / "renamed.bin"


def test_add_dialog_takes_several_links_with_options(
    qtbot: QtBot, window: MainWindow, server: TestServer, gui_queue: DownloadQueueService
) -> None:
    urls = [server.add(f"/many/{i}.bin", payload(1000, i)) for i in range(3)]
    dialog = window.open_add_dialog()
    dialog.urls_edit.setPlainText("\n".join(urls))
    assert not dialog.name_edit.isEnabled()
    dialog.priority_spin.setValue(3)
    dialog.connections_spin.setValue(2)
    dialog.token_edit.setText("secret-token")
    click(dialog.ok_button)
    jobs = gui_queue.list_jobs()
    assert [str(j.source) for j in jobs] == urls
    assert {(j.priority, j.max_connections, j.access_token) for j in jobs} == {
        (3, 2, "secret-token")
    }
    assert gui_queue.join(20)
    assert server.requests_for("/many/0.bin")[0].header("Authorization") == "Bearer secret-token"


def test_dropping_links_text_and_a_list_file(
    qtbot: QtBot, window: MainWindow, server: TestServer, tmp_path: Path, downloads: Path
) -> None:
    a, b, c = (server.add(f"/drop/{n}.bin", payload(2000, i)) for i, n in enumerate("abc"))
    mime = QMimeData()
    mime.setUrls([QUrl(a)])
    assert drag_and_drop(window, mime) == (True, True)
    text = QMimeData()
    text.setText(f"Grab this one: {b} (thanks!)")
    assert drag_and_drop(window, text) == (True, True)
    listing = tmp_path / "links.txt"
    listing.write_text(f"# my list\n{c}\n", encoding="utf-8")
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(listing))])
    assert drag_and_drop(window, files) == (True, True)
    ids = [s.id for s in window.model.snapshots()]
    assert len(ids) == 3
    for job_id, name in zip(ids, "abc", strict=True):
        wait_cell(qtbot, window, job_id, Column.STATUS, "Completed")
        assert (downloads / f"{name}.bin").exists()


def test_drops_of_unusable_things_are_refused_with_a_reason(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"\x89PNG")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(picture))])
    assert drag_and_drop(window, mime) == (False, False)
    plain = QMimeData()
    plain.setText("just some words, no links")
    accepted, dropped = drag_and_drop(window, plain)
    assert (accepted, dropped) == (False, False)
    assert window.model.rowCount() == 0
    seen: list[str] = []
    mime_again = QMimeData()
    mime_again.setUrls([QUrl("gopher://example.org/x")])
    enter = drag_enter_event(QPoint(10, 10), mime_again)
    QApplication.sendEvent(window, enter)
    seen.append(window.drop_overlay.text())
    assert not enter.isAccepted()
    assert "not an http, https, ftp or ftps URL" in seen[0]
    assert window.drop_overlay.isVisible()


def test_context_menu_cancel_removes_the_partial_file(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    data = payload(2_000_000)
    url = server.add("/slow.iso", data, rate=400_000)
    (job,) = window.add_urls([url])
    qtbot.waitUntil(lambda: job.bytes > 100_000, timeout=WAIT_MS)
    assert (downloads / "slow.iso.part").exists()
    menu = open_context_menu(qtbot, window, job.id)
    cancel = menu_action(menu, "action_cancel")
    assert isinstance(cancel, QAction)
    assert cancel.isEnabled()
    cancel.trigger()
    menu.close()
    wait_cell(qtbot, window, job.id, Column.STATUS, "Cancelled")
    assert leftovers(downloads) == []
    assert not (downloads / "slow.iso").exists()


def test_context_menu_offers_retry_copy_and_remove(
    qtbot: QtBot, window: MainWindow, server: TestServer, gui_queue: DownloadQueueService
) -> None:
    url = server.add("/later.bin", b"later", status=503, fail_first=0)
    (job,) = window.add_urls([url])
    qtbot.waitUntil(
        lambda: cell(window, job.id, Column.STATUS).startswith("Failed"), timeout=WAIT_MS
    )
    assert cell(window, job.id, Column.STATUS) == "Failed: The server is unavailable"
    menu = open_context_menu(qtbot, window, job.id)
    copy = menu_action(menu, "action_copy_url")
    assert isinstance(copy, QAction)
    copy.trigger()
    assert QGuiApplication.clipboard().text() == url
    server.resources["/later.bin"].status = 200
    retry = menu_action(menu, "action_retry")
    assert isinstance(retry, QAction)
    assert retry.isEnabled()
    retry.trigger()
    menu.close()
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    menu = open_context_menu(qtbot, window, job.id)
    remove = menu_action(menu, "action_remove")
    assert isinstance(remove, QAction)
    remove.trigger()
    menu.close()
    assert window.model.rowCount() == 0
    assert gui_queue.list_jobs() == []


def test_toolbar_pause_resume_and_cancel_all(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    data = payload(1_500_000)
    urls = [server.add(f"/t{i}.bin", data, rate=300_000) for i in range(2)]
    jobs = window.add_urls(urls)
    qtbot.waitUntil(lambda: all(j.bytes > 50_000 for j in jobs), timeout=WAIT_MS)
    select(window, jobs[0].id)
    click_toolbar(qtbot, window, "action_pause")
    wait_cell(qtbot, window, jobs[0].id, Column.STATUS, "Paused")
    assert (downloads / "t0.bin.part").exists()
    click_toolbar(qtbot, window, "action_resume")
    wait_cell(qtbot, window, jobs[0].id, Column.STATUS, "Downloading")
    click_toolbar(qtbot, window, "action_cancel_all")
    box = window.findChild(QMessageBox, "confirm_cancel_all")
    assert box is not None
    box.button(QMessageBox.StandardButton.Yes).click()
    for job in jobs:
        wait_cell(qtbot, window, job.id, Column.STATUS, "Cancelled")
    assert leftovers(downloads) == []


def test_prune_open_file_and_open_folder(
    qtbot: QtBot,
    window: MainWindow,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toLocalFile())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    done, missing = window.add_urls([server.add("/ok.txt", b"ok"), server.url("/nope.txt")])
    wait_cell(qtbot, window, done.id, Column.STATUS, "Completed")
    qtbot.waitUntil(
        lambda: cell(window, missing.id, Column.STATUS).startswith("Failed"), timeout=WAIT_MS
    )
    select(window, done.id)
    qtbot.waitUntil(lambda: window.action("action_open_file").isEnabled(), timeout=WAIT_MS)
    click_toolbar(qtbot, window, "action_open_file")
    click_toolbar(qtbot, window, "action_open_folder")
    assert opened == [str(downloads / "ok.txt"), str(downloads)]
    click_toolbar(qtbot, window, "action_prune")
    assert window.model.row_of(done.id) is None  # completed: cleared
    assert window.model.row_of(missing.id) is not None  # failed: kept for a decision
    assert (downloads / "ok.txt").read_bytes() == b"ok"  # clearing forgets rows, not files


def test_priority_changes_reorder_waiting_jobs(
    qtbot: QtBot, window: MainWindow, server: TestServer, gui_queue: DownloadQueueService
) -> None:
    gui_queue.max_parallel_dl = 1
    window.settings.parallel_downloads = 1
    gate = threading.Event()
    (blocker,) = window.add_urls([server.add("/blocker", b"b", gate=gate)])
    qtbot.waitUntil(lambda: blocker.running, timeout=WAIT_MS)
    first, second, third = window.add_urls([server.add(f"/p{i}", b"p") for i in range(3)])
    started: list[int] = []
    for job in (first, second, third):
        job.on_start = lambda j: started.append(j.id)
    select(window, third.id)
    qtbot.waitUntil(lambda: window.action("action_priority_set").isEnabled(), timeout=WAIT_MS)
    window.action("action_priority_set").trigger()
    dialog = window.findChild(QInputDialog, "priority_dialog")
    assert dialog is not None
    dialog.setIntValue(1)
    dialog.accept()
    assert cell(window, third.id, Column.PRIORITY) == "1"
    select(window, first.id)
    window.action("action_priority_down").trigger()
    assert cell(window, first.id, Column.PRIORITY) == "11"
    gate.set()
    assert gui_queue.join(20)
    assert started == [third.id, second.id, first.id]


def test_filter_and_sort(qtbot: QtBot, window: MainWindow, server: TestServer) -> None:
    ok = window.add_urls([server.add("/b-ok.bin", b"x" * 10)])[0]
    bad = window.add_urls([server.url("/a-missing.bin")])[0]
    wait_cell(qtbot, window, ok.id, Column.STATUS, "Completed")
    qtbot.waitUntil(
        lambda: cell(window, bad.id, Column.STATUS).startswith("Failed"), timeout=WAIT_MS
    )
    window.filter_tabs.setCurrentIndex(list(Filter).index(Filter.FAILED))
    assert window.proxy.rowCount() == 1
    window.filter_tabs.setCurrentIndex(list(Filter).index(Filter.FINISHED))
    assert window.proxy.rowCount() == 1
    window.set_filter(Filter.ALL)
    window.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    names = [window.proxy.index(r, Column.NAME).data() for r in range(window.proxy.rowCount())]
    assert names == ["a-missing.bin", "b-ok.bin"]


def test_status_bar_and_no_tray_fallback(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    assert not window.tray.available  # offscreen has no system tray
    messages: list[tuple[str, str]] = []
    window.notifier.notified.connect(lambda title, text: messages.append((title, text)))
    (job,) = window.add_urls([server.add("/note.bin", b"n" * 100)])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    qtbot.waitUntil(lambda: bool(messages), timeout=WAIT_MS)
    assert messages == [("Download complete", "note.bin")]
    assert window.statusBar().currentMessage() == "Download complete: note.bin"
    qtbot.waitUntil(lambda: "1 done" in window.counts_label.text(), timeout=WAIT_MS)
    assert window.counts_label.text() == "0 active · 0 queued · 1 done"


def test_settings_apply_without_restart(
    qtbot: QtBot, window: MainWindow, gui_queue: DownloadQueueService, tmp_path: Path
) -> None:
    click_toolbar(qtbot, window, "action_settings")
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None
    parallel = dialog.findChild(QSpinBox, "settings_parallel")
    assert parallel is not None
    parallel.setValue(7)
    child(dialog, QCheckBox, "settings_limit_check").setChecked(True)
    child(dialog, QComboBox, "settings_limit_unit").setCurrentText("KiB/s")
    child(dialog, QDoubleSpinBox, "settings_speed_limit").setValue(512)
    dialog.folder_edit.setText(str(tmp_path / "elsewhere"))
    ok = dialog.findChild(QPushButton, "settings_ok")
    assert ok is not None
    click(ok)
    assert gui_queue.max_parallel_dl == 7
    assert gui_queue.speed_limit == 512 * 1024
    assert window.download_dir == tmp_path / "elsewhere"
    assert window.settings.parallel_downloads == 7


def test_long_names_are_elided_with_the_full_name_in_a_tooltip(
    window: MainWindow, server: TestServer
) -> None:
    long_name = "a-remarkably-long-file-name-" * 6 + "end.tar.gz"
    (job,) = window.add_urls([server.add(f"/{long_name}", b"z", gate=threading.Event())])
    row = window.model.row_of(job.id)
    assert row is not None
    tooltip = window.model.index(row, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert long_name in tooltip
    assert server.url(f"/{long_name}") in tooltip
    delegate = window.table.itemDelegateForColumn(Column.NAME)
    assert isinstance(delegate, ElidingDelegate)

    option = QStyleOptionViewItem()
    delegate.initStyleOption(option, window.proxy.mapFromSource(window.model.index(row, 0)))
    assert option.textElideMode == Qt.TextElideMode.ElideMiddle
    server.resources[f"/{long_name}"].gate.set()  # type: ignore[union-attr]


def test_column_order_and_widths_are_remembered(
    qtbot: QtBot, window: MainWindow, gui_queue: DownloadQueueService
) -> None:
    header = window.table.horizontalHeader()
    header.moveSection(header.visualIndex(Column.PRIORITY), 0)
    header.resizeSection(Column.NAME, 333)
    window.save_state()
    again = MainWindow(gui_queue, window.download_dir, settings=window.settings)
    qtbot.addWidget(again)
    again_header = again.table.horizontalHeader()
    assert again_header.visualIndex(Column.PRIORITY) == 0
    assert again_header.sectionSize(Column.NAME) == 333


def test_paste_links_from_the_clipboard(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    QGuiApplication.clipboard().setText(f"two links: {server.url('/x')} {server.url('/y')}")
    window.action("action_paste").trigger()
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    assert dialog.parsed.urls == (server.url("/x"), server.url("/y"))
    dialog.reject()


def test_queued_rows_show_probed_names_and_sizes(
    qtbot: QtBot, window: MainWindow, server: TestServer, gui_queue: DownloadQueueService
) -> None:
    gui_queue.max_parallel_dl = 1
    window.settings.parallel_downloads = 1
    gate = threading.Event()
    window.add_urls([server.add("/blocker", b"b", gate=gate)])
    disposition = 'attachment; filename="the-real-name.iso"'
    (queued,) = window.add_urls(
        [server.add("/download?id=7", payload(5 * 1024 * 1024), content_disposition=disposition)]
    )
    wait_cell(qtbot, window, queued.id, Column.NAME, "the-real-name.iso")
    assert cell(window, queued.id, Column.SIZE) == "5.0 MiB"
    assert cell(window, queued.id, Column.STATUS) == "Queued"
    gate.set()


def test_menus_hold_the_actions(window: MainWindow) -> None:
    from PySide6.QtWidgets import QMenu

    downloads = window.findChild(QMenu, "menu_downloads")
    assert downloads is not None
    names = [a.objectName() for a in downloads.actions() if a.objectName()]
    assert {"action_add", "action_pause", "action_resume", "action_cancel", "action_quit"} <= set(
        names
    )
    view = window.findChild(QMenu, "menu_view")
    assert view is not None
    failed = next(a for a in view.actions() if a.objectName() == "action_show_failed")
    failed.trigger()
    assert window.proxy.mode == Filter.FAILED
    assert window.filter_tabs.currentIndex() == list(Filter).index(Filter.FAILED)


def test_icons_follow_a_dark_palette(qtbot: QtBot, window: MainWindow) -> None:
    from PySide6.QtGui import QColor, QPalette

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    original = app.palette()

    def brightest_opaque_pixel() -> int:
        image = window.action("action_add").icon().pixmap(24, 24).toImage()
        values = [
            QColor(image.pixel(x, y)).value()
            for x in range(image.width())
            for y in range(image.height())
            if QColor.fromRgba(image.pixel(x, y)).alpha() > 200
        ]
        assert values
        return max(values)

    assert brightest_opaque_pixel() < 80  # dark strokes on the light default palette
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    try:
        app.setPalette(dark)
        qtbot.waitUntil(lambda: brightest_opaque_pixel() > 200, timeout=WAIT_MS)
    finally:
        app.setPalette(original)


def test_add_dialog_sends_the_headers_and_cookies_typed_to_that_site_only(
    qtbot: QtBot, window: MainWindow, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(20_000)
    url = server.add("/api/export.csv", redirect=other_server.add("/cdn/export.csv", data))
    click_toolbar(qtbot, window, "action_add")
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    type_text(dialog.urls_edit, url)
    type_text(dialog.headers_edit, "X-Api-Key 1234")
    qtbot.waitUntil(lambda: "line 1 is not 'Name: value'" in dialog.summary.text(), timeout=WAIT_MS)
    assert not dialog.ok_button.isEnabled()
    dialog.headers_edit.setPlainText("X-Api-Key: 1234\nRange: bytes=0-")
    qtbot.waitUntil(
        lambda: "sets the Range header itself" in dialog.summary.text(), timeout=WAIT_MS
    )
    assert not dialog.ok_button.isEnabled()
    dialog.headers_edit.setPlainText("X-Api-Key: 1234\n")
    type_text(dialog.cookies_edit, "session=abc; theme=dark")
    qtbot.waitUntil(dialog.ok_button.isEnabled, timeout=WAIT_MS)
    click(dialog.ok_button)
    (snapshot,) = window.model.snapshots()
    wait_cell(qtbot, window, snapshot.id, Column.STATUS, "Completed")
    assert file_sha256(downloads / "export.csv") == sha256(data)
    # the dialog's probe (bytes 0-0) asks before the headers are typed; the download after
    sent = [r for r in server.requests_for("/api/export.csv") if r.header("Range") != "bytes=0-0"]
    assert sent, "no download request reached the site"
    for request in sent:
        assert request.header("X-Api-Key") == "1234"
        assert request.header("Cookie") == "session=abc; theme=dark"
    for request in other_server.requests_for("/cdn/export.csv"):  # another site: nothing
        assert request.header("X-Api-Key") is None
        assert request.header("Cookie") is None
