"""What a new user ran into in the first hour with the app (issue 19), each driven as a person
would: settings, the Add dialog, drops, the context menu, the status bar, notifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QMessageBox,
    QPushButton,
    QSpinBox,
)
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService, JobCallbacks, Timeouts
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow, Settings
from fetchq_gui.dialogs import AddDownloadsDialog, SettingsDialog
from fetchq_gui.model import PROGRESS_ROLE
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
    wait_cell,
)
from tests.helpers import file_sha256, payload, sha256

MiB = 1 << 20


def _set_speed_limit(qtbot: QtBot, window: MainWindow, mib: float, connections: int) -> None:
    click_toolbar(qtbot, window, "action_settings")
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None
    check = child(dialog, QCheckBox, "settings_limit_check")
    value = child(dialog, QDoubleSpinBox, "settings_speed_limit")
    unit = child(dialog, QComboBox, "settings_limit_unit")
    spin = child(dialog, QSpinBox, "settings_connections")
    check.setChecked(True)
    unit.setCurrentText("MiB/s")
    value.setValue(mib)
    spin.setValue(connections)
    ok = dialog.findChild(QPushButton, "settings_ok")
    assert ok is not None
    click(ok)


def test_bug1_a_small_file_gets_going_beside_a_big_one_under_a_speed_limit(
    qtbot: QtBot, window: MainWindow, gui_queue: DownloadQueueService, server: TestServer
) -> None:
    _set_speed_limit(qtbot, window, 3.0, connections=2)
    assert gui_queue.speed_limit == 3 * MiB
    gui_queue.max_connections_per_host = 2  # the big one can fill the host's slots
    big_url = server.add("/big.iso", payload(48 * MiB, 3), rate=1 * MiB)
    (big,) = window.add_urls([big_url])
    qtbot.waitUntil(lambda: gui_queue._host_slots.busiest() == 2, timeout=WAIT_MS)
    (small,) = window.add_urls([server.add("/note.txt", b"nine byte")])
    qtbot.waitUntil(lambda: cell(window, small.id, Column.STATUS) == "Completed", timeout=5000)
    assert cell(window, big.id, Column.STATUS) == "Downloading"


def test_bug1_a_download_waiting_for_a_connection_says_so(
    qtbot: QtBot, window: MainWindow, gui_queue: DownloadQueueService, server: TestServer
) -> None:
    gui_queue.max_connections_per_host = 1
    (big,) = window.add_urls([server.add("/slow.iso", payload(8 * MiB, 4), rate=1 * MiB)])
    wait_cell(qtbot, window, big.id, Column.STATUS, "Downloading")
    (small,) = window.add_urls([server.add("/waits.txt", b"six b.")])
    wait_cell(qtbot, window, small.id, Column.STATUS, "Waiting for a connection to host")
    select(window, big.id)
    click_toolbar(qtbot, window, "action_pause")
    wait_cell(qtbot, window, small.id, Column.STATUS, "Completed")


def test_bug2_the_add_dialog_gives_every_refused_line_its_reason(
    qtbot: QtBot, window: MainWindow, downloads: Path
) -> None:
    click_toolbar(qtbot, window, "action_add")
    dialog = window.findChild(AddDownloadsDialog)
    assert dialog is not None
    dialog.urls_edit.setPlainText("ftp://x\nnot a url\nhttp://127.0.0.1:1/nothing")
    summary = dialog.summary
    assert "Not added, ftp://x: names an FTP server, not a file on it" in summary.text()
    assert "Not added, not a url: no link in this line" in summary.text()
    warning = "Warning, http://127.0.0.1:1/nothing: Nothing answers at 127.0.0.1:1."
    qtbot.waitUntil(lambda: warning in summary.text(), timeout=WAIT_MS)
    assert "Errno" not in summary.text()
    assert "1 link to download" in summary.text()
    assert "Not added, ftp://x" in summary.text()  # still there, whatever came after
    assert dialog.ok_button.isEnabled()  # a warning, not a refusal: it can still be added
    click(dialog.ok_button)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT_MS)


def test_bug3_a_dropped_list_is_counted_as_it_will_be_added(
    qtbot: QtBot, window: MainWindow, server: TestServer, tmp_path: Path
) -> None:
    one, two = server.add("/l/1.bin", b"1" * 10), server.add("/l/2.bin", b"2" * 20)
    listing = tmp_path / "holiday.txt"
    listing.write_text(f"{one}\nftp://x\n{two}\nnot a link\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(listing))])
    enter = drag_enter_event(QPoint(10, 10), mime)
    window.dragEnterEvent(enter)
    banner = window.drop_overlay.text()
    assert banner.startswith("Drop to download 2 links as one package, holiday into")
    assert "Not added (2):" in banner
    assert "ftp://x: names an FTP server" in banner
    assert "not a link: no link in this line" in banner
    assert drag_and_drop(window, mime) == (True, True)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT_MS)
    (package,) = gui_queue_packages(window)
    assert len(package.download_parts) == 2


def gui_queue_packages(window: MainWindow) -> list[Any]:
    return window.queue.list_multifile_jobs()


def test_bug4_a_cancelled_row_shows_no_stale_progress(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    (job,) = window.add_urls([server.add("/c.bin", payload(4 * MiB, 5), rate=1 * MiB)])
    qtbot.waitUntil(
        lambda: cell(window, job.id, Column.PROGRESS) not in ("", "0 %"), timeout=WAIT_MS
    )
    select(window, job.id)
    click_toolbar(qtbot, window, "action_cancel")
    wait_cell(qtbot, window, job.id, Column.STATUS, "Cancelled")
    assert cell(window, job.id, Column.PROGRESS) == ""  # the partial file is gone
    row = window.model.row_of(job.id)
    assert row is not None
    assert window.model.index(row, Column.PROGRESS).data(PROGRESS_ROLE) is None  # no bar


def test_bug5_the_status_bar_counts_every_state_and_every_addition(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    urls = [server.add(f"/s{i}.bin", payload(2 * MiB, i), rate=256 * 1024) for i in range(3)]
    for url in urls:  # added one by one, as the demo does
        window.add_urls([url])
    assert window.statusBar().currentMessage() == "Added 3 downloads"
    jobs = window.queue.list_jobs()
    select(window, jobs[0].id)
    click_toolbar(qtbot, window, "action_pause")
    select(window, jobs[1].id)
    click_toolbar(qtbot, window, "action_cancel")
    qtbot.waitUntil(lambda: "1 paused" in window.counts_label.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "1 cancelled" in window.counts_label.text(), timeout=WAIT_MS)
    assert window.counts_label.text() == "1 active · 0 queued · 1 paused · 0 done · 1 cancelled"


def test_bug6_a_file_already_there_says_so_and_can_be_downloaded_again(
    qtbot: QtBot,
    window: MainWindow,
    server: TestServer,
    downloads: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "data").mkdir()  # the trash goes here, as into ~/.local/share/Trash
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    data = payload(3000, 6)
    url = server.add("/again.bin", data)
    messages: list[tuple[str, str]] = []
    window.notifier.notified.connect(lambda title, text: messages.append((title, text)))
    (first,) = window.add_urls([url])
    wait_cell(qtbot, window, first.id, Column.STATUS, "Completed")
    qtbot.waitUntil(lambda: bool(messages), timeout=WAIT_MS)
    (second,) = window.add_urls([url])
    wait_cell(qtbot, window, second.id, Column.STATUS, "Already downloaded")
    qtbot.waitUntil(lambda: len(messages) == 2, timeout=WAIT_MS)
    assert messages == [("Download complete", "again.bin"), ("Already downloaded", "again.bin")]
    menu = open_context_menu(qtbot, window, second.id)
    again = menu_action(menu, "action_download_again")
    assert isinstance(again, QAction)
    assert again.isEnabled()
    requests_before = len(server.requests_for("/again.bin"))
    again.trigger()
    menu.close()
    trashed = list((tmp_path / "data" / "Trash" / "files").iterdir())
    assert [p.name for p in trashed] == ["again.bin"]  # kept in the trash, not deleted
    qtbot.waitUntil((downloads / "again.bin").exists, timeout=WAIT_MS)
    (third,) = [j for j in window.queue.list_jobs() if j.id not in (first.id, second.id)]
    wait_cell(qtbot, window, third.id, Column.STATUS, "Completed")
    assert len(server.requests_for("/again.bin")) > requests_before  # fetched afresh
    assert file_sha256(downloads / "again.bin") == sha256(data)


def test_bug7_open_folder_without_a_file_manager_says_so(
    qtbot: QtBot, window: MainWindow, server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = window.add_urls([server.add("/here.bin", b"h" * 100)])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # no file manager
    select(window, job.id)
    click_toolbar(qtbot, window, "action_open_folder")
    box = window.findChild(QMessageBox, "warning_box")
    assert box is not None
    folder = str(Path(job.download_path or "").parent)
    assert box.windowTitle() == "Could not open the folder"
    assert folder in box.text()
    assert QGuiApplication.clipboard().text() == folder


@pytest.fixture
def patient_window(
    qtbot: QtBot, qasync_loop: Any, settings: Settings, downloads: Path
) -> Iterator[MainWindow]:
    """A window whose queue waits 30 s for a silent server, as the app's does."""
    queue = DownloadQueueService(timeouts=Timeouts(connect=2.0, read=30.0))
    main = MainWindow(queue, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(main)
    main.show()
    yield main
    queue.callbacks = JobCallbacks()
    queue.close()


def test_bug9_a_stalled_download_shows_what_arrived_and_says_it_stalled(
    qtbot: QtBot, patient_window: MainWindow, server: TestServer
) -> None:
    window = patient_window
    data = payload(3 * 1000 * 1000, 9)
    url = server.add("/stalls.bin", data, stall_after=1_500_000, stall_seconds=20)
    (job,) = window.add_urls([url])
    qtbot.waitUntil(lambda: cell(window, job.id, Column.PROGRESS) == "50 %", timeout=3000)
    assert job.bytes == 1_500_000
    wait_cell(qtbot, window, job.id, Column.STATUS, "Stalled · no data for 5 s")
    wait_cell(qtbot, window, job.id, Column.STATUS, "Stalled · no data for 6 s")
    assert cell(window, job.id, Column.ETA) == ""
