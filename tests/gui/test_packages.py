"""Multi-file jobs in the window: one row, its files under the table, actions on both."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QUrl
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QMenu
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow
from fetchq_gui.dialogs import AddDownloadsDialog
from tests.gui.gui_helpers import (
    WAIT_MS,
    cell,
    click,
    click_toolbar,
    drag_and_drop,
    menu_action,
    open_context_menu,
    select,
    wait_cell,
)
from tests.helpers import file_sha256, payload, sha256

PHOTOS = {f"/albums/holiday/{n}.jpg": payload(40_000 + n, n) for n in range(1, 5)}


def file_cell(window: MainWindow, job_id: int, column: Column) -> str:
    row = window.files_model.row_of(job_id)
    assert row is not None, f"no file row for job {job_id}"
    return str(window.files_model.index(row, column).data() or "")


def shown_files(window: MainWindow) -> list[str]:
    proxy = window.files_proxy
    return sorted(str(proxy.index(r, Column.NAME).data()) for r in range(proxy.rowCount()))


def open_files_menu(qtbot: QtBot, window: MainWindow, job_id: int) -> QMenu:
    row = window.files_model.row_of(job_id)
    assert row is not None
    index = window.files_proxy.mapFromSource(window.files_model.index(row, Column.NAME))
    position: QPoint = window.files_table.visualRect(index).center()
    window.files_table.customContextMenuRequested.emit(position)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=WAIT_MS)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def test_links_added_as_one_package_are_one_row_that_shows_its_files(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    urls = [server.add(path, data, rate=400_000) for path, data in PHOTOS.items()]
    click_toolbar(qtbot, window, "action_add")
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    dialog.urls_edit.setPlainText("\n".join(urls))  # pasted, as a list of links is
    assert dialog.package_check.isEnabled()
    click(dialog.package_check)
    assert dialog.package_edit.text() == "holiday"  # the folder the links share
    click(dialog.ok_button)

    (row,) = window.model.snapshots()
    assert row.is_package
    assert cell(window, row.id, Column.NAME) == "holiday  (4 files)"
    select(window, row.id)
    assert window.files_pane.isVisible()
    assert shown_files(window) == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    wait_cell(qtbot, window, row.id, Column.STATUS, "Completed")
    assert cell(window, row.id, Column.PROGRESS) == "100 %"
    assert window.files_label.text() == "Files of holiday: 4 of 4 done"
    for path, data in PHOTOS.items():
        name = path.rsplit("/", 1)[-1]
        assert file_sha256(downloads / "holiday" / name) == sha256(data)
    select(window)  # nothing selected: the files pane goes
    assert not window.files_pane.isVisible()


def test_pause_resume_and_cancel_act_on_the_whole_package(
    qtbot: QtBot,
    window: MainWindow,
    server: TestServer,
    gui_queue: DownloadQueueService,
    downloads: Path,
) -> None:
    gate = threading.Event()
    urls = [server.add(path, data, gate=gate) for path, data in PHOTOS.items()]
    package = window.add_package(urls, "holiday")
    assert package is not None
    select(window, package.id)
    click_toolbar(qtbot, window, "action_pause")
    gate.set()
    wait_cell(qtbot, window, package.id, Column.STATUS, "Paused · 0/4 files")
    assert all(file.status == DownloadJobStatus.PAUSED for file in package.parts)
    click_toolbar(qtbot, window, "action_resume")
    wait_cell(qtbot, window, package.id, Column.STATUS, "Completed")

    gate.clear()
    again = window.add_package(urls, "again")
    assert again is not None
    select(window, again.id)
    click_toolbar(qtbot, window, "action_cancel")
    gate.set()
    wait_cell(qtbot, window, again.id, Column.STATUS, "Cancelled")
    assert all(file.status == DownloadJobStatus.CANCELLED for file in again.parts)
    assert not any(p.is_file() for p in (downloads / "again").iterdir())


def test_the_files_menu_acts_on_one_file(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    gate = threading.Event()
    urls = [server.add(path, data, gate=gate) for path, data in PHOTOS.items()]
    package = window.add_package(urls, "holiday")
    assert package is not None
    select(window, package.id)
    first, *others = package.parts
    menu = open_files_menu(qtbot, window, first.id)
    pause = menu_action(menu, "file_pause")
    assert isinstance(pause, QAction)
    assert pause.isEnabled()
    pause.trigger()
    menu.close()
    gate.set()
    qtbot.waitUntil(
        lambda: all(file_cell(window, f.id, Column.STATUS) == "Completed" for f in others),
        timeout=WAIT_MS,
    )
    assert file_cell(window, first.id, Column.STATUS) == "Paused"
    wait_cell(qtbot, window, package.id, Column.STATUS, "Paused · 3/4 files")
    menu = open_files_menu(qtbot, window, first.id)
    resume = menu_action(menu, "file_resume")
    assert isinstance(resume, QAction)
    assert resume.isEnabled()
    pause_again = menu_action(menu, "file_pause")
    assert isinstance(pause_again, QAction)
    assert not pause_again.isEnabled()  # it is paused already
    resume.trigger()
    menu.close()
    wait_cell(qtbot, window, package.id, Column.STATUS, "Completed")
    assert (downloads / "holiday" / "1.jpg").read_bytes() == PHOTOS["/albums/holiday/1.jpg"]


def test_a_dropped_list_file_becomes_one_package_named_after_it(
    qtbot: QtBot, window: MainWindow, server: TestServer, tmp_path: Path, downloads: Path
) -> None:
    urls = [server.add(path, data) for path, data in PHOTOS.items()]
    listing = tmp_path / "summer photos.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(listing))])
    assert drag_and_drop(window, mime) == (True, True)
    (row,) = window.model.snapshots()
    assert row.is_package
    assert row.files == 4
    wait_cell(qtbot, window, row.id, Column.STATUS, "Completed")
    assert sorted(p.name for p in (downloads / "summer photos").iterdir()) == [
        "1.jpg",
        "2.jpg",
        "3.jpg",
        "4.jpg",
    ]


def test_a_failed_file_fails_the_package_and_retry_fetches_only_what_is_missing(
    qtbot: QtBot, window: MainWindow, server: TestServer, downloads: Path
) -> None:
    urls = [server.add(path, data) for path, data in PHOTOS.items()]
    # The files run side by side: the broken one answers once the others are done (a file
    # still running when one fails is cancelled with the package, and fetched again on retry).
    done = threading.Event()
    broken = server.add("/albums/holiday/5.jpg", status=404, gate=done)
    package = window.add_package([*urls, broken], "holiday")
    assert package is not None
    qtbot.waitUntil(
        lambda: all((downloads / "holiday" / path.rsplit("/", 1)[1]).exists() for path in PHOTOS),
        timeout=WAIT_MS,
    )
    done.set()
    wait_cell(qtbot, window, package.id, Column.STATUS, "Failed: Not found on the server")
    server.resources["/albums/holiday/5.jpg"].status = 200
    server.resources["/albums/holiday/5.jpg"].body = b"five"
    menu = open_context_menu(qtbot, window, package.id)
    retry = menu_action(menu, "action_retry")
    assert isinstance(retry, QAction)
    assert retry.isEnabled()
    retry.trigger()
    menu.close()
    wait_cell(qtbot, window, package.id, Column.STATUS, "Completed")
    for path in PHOTOS:  # the files done before the failure were not fetched again
        assert len(server.requests_for(path)) == 1
    assert (downloads / "holiday" / "5.jpg").read_bytes() == b"five"
