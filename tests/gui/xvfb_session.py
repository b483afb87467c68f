"""Tray tests that need a real X server with a system tray; run by test_tray_xvfb.py under
Xvfb and trayer, in their own process (Qt's platform is chosen once per process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QMenu, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService, JobCallbacks
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow, Settings
from tests.gui.gui_helpers import WAIT_MS, wait_cell
from tests.helpers import FAST_RETRY


@pytest.fixture
def tray_window(
    qtbot: QtBot, qasync_loop: qasync.QEventLoop, settings: Settings, downloads: Path
) -> Iterator[MainWindow]:
    deadline = time.monotonic() + 15
    while not QSystemTrayIcon.isSystemTrayAvailable():  # trayer may still be starting
        assert time.monotonic() < deadline, "no system tray on this display"
        qtbot.wait(100)
    queue = DownloadQueueService(retry=FAST_RETRY)
    window = MainWindow(queue, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    queue.callbacks = JobCallbacks()
    queue.close()


def test_tray_shows_status_and_notifies(
    qtbot: QtBot, tray_window: MainWindow, server: TestServer
) -> None:
    tray = tray_window.tray
    assert tray.available
    assert tray.icon is not None
    qtbot.waitUntil(tray.icon.isVisible, timeout=WAIT_MS)
    shown: list[tuple[str, str]] = []
    real_show = tray.icon.showMessage

    def spy(title: str, message: str, kind: QSystemTrayIcon.MessageIcon, milliseconds: int) -> None:
        shown.append((title, message))
        real_show(title, message, kind, milliseconds)

    tray.icon.showMessage = spy  # type: ignore[method-assign, assignment]
    ok, _missing = tray_window.add_urls([server.add("/tray.bin", b"t" * 5000), server.url("/gone")])
    wait_cell(qtbot, tray_window, ok.id, Column.STATUS, "Completed")
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=WAIT_MS)
    assert ("Download complete", "tray.bin") in shown
    assert ("Download failed", "gone: Not found on the server") in shown
    icon = tray.icon
    qtbot.waitUntil(lambda: "1 done" in icon.toolTip(), timeout=WAIT_MS)
    assert tray.icon.toolTip().startswith("fetchq: 0 active · 0 queued · 1 done · 1 failed")
    assert "Download" not in tray_window.statusBar().currentMessage()  # the tray took it

    tray_window.hide()
    tray.icon.messageClicked.emit()  # clicking the notification shows the window
    qtbot.waitUntil(tray_window.isVisible, timeout=WAIT_MS)


def test_tray_menu_and_minimise_to_tray(qtbot: QtBot, tray_window: MainWindow) -> None:
    tray = tray_window.tray
    assert tray.icon is not None
    menu = tray.icon.contextMenu()
    assert isinstance(menu, QMenu)
    names = [a.objectName() for a in menu.actions() if a.objectName()]
    assert names == ["tray_show", "tray_pause_all", "tray_resume_all", "tray_quit"]
    enabled = {a.objectName(): a.isEnabled() for a in menu.actions() if a.objectName()}
    assert not enabled["tray_pause_all"]  # nothing to pause or resume in an empty list
    assert not enabled["tray_resume_all"]
    tray_window.settings.minimize_to_tray = True
    tray_window.close()
    assert not tray_window.isVisible()
    assert not tray_window._closing  # still running, in the tray
    next(a for a in menu.actions() if a.objectName() == "tray_show").trigger()
    qtbot.waitUntil(tray_window.isVisible, timeout=WAIT_MS)
    with qtbot.waitSignal(tray_window.closed, timeout=WAIT_MS):
        next(a for a in menu.actions() if a.objectName() == "tray_quit").trigger()
