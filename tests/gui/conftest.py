"""GUI fixtures: an offscreen Qt app with one qasync loop, and a window around a real queue."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never notify the desktop they run on: tests that want a session bus start their own.
os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)

import pytest
import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService, JobCallbacks
from fetchq_gui import MainWindow, Settings
from tests.helpers import FAST_RETRY, FAST_TIMEOUTS

# Runs in its own process, under Xvfb, started by test_tray_xvfb.py.
collect_ignore = [] if os.environ.get("FETCHQ_XVFB_SESSION") else ["xvfb_session.py"]


@pytest.fixture(scope="session")
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """The app's asyncio loop, running whenever Qt processes events (as in the real app)."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.events._set_running_loop(None)


@pytest.fixture
def settings(tmp_path: Path, downloads: Path) -> Settings:
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.download_dir = downloads  # what Settings shows and keeps: never the user's folder
    # Files land where each test looks for them; tests/gui/test_categories.py sorts by type.
    settings.sort_by_category = False
    return settings


@pytest.fixture
def gui_queue() -> Iterator[DownloadQueueService]:
    queue = DownloadQueueService(max_parallel_dl=3, retry=FAST_RETRY, timeouts=FAST_TIMEOUTS)
    yield queue
    queue.callbacks = JobCallbacks()  # no callbacks into widgets that are about to go
    queue.close()


@pytest.fixture
def window(
    qtbot: QtBot,
    qasync_loop: qasync.QEventLoop,
    gui_queue: DownloadQueueService,
    settings: Settings,
    downloads: Path,
) -> Iterator[MainWindow]:
    settings.parallel_downloads = 3
    main = MainWindow(gui_queue, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    gui_queue.callbacks = JobCallbacks()
    gui_queue.cancel_all_jobs()
