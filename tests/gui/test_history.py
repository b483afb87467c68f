"""History that does not weigh (issue 17, item 8), in the app: the list holds the recent
finished downloads, the search box and the end of the list read older ones from the journal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService, JobCallbacks
from fetchq_gui import MainWindow, Settings
from fetchq_gui.model import Column
from tests.core.test_history import finished_history
from tests.gui.gui_helpers import WAIT_MS, type_text


@pytest.fixture
def history_window(
    qtbot: QtBot, qasync_loop: qasync.QEventLoop, settings: Settings, downloads: Path,
    tmp_path: Path,
) -> Iterator[MainWindow]:  # fmt: skip
    journal = tmp_path / "journal.sqlite3"
    finished_history(journal, downloads, 1000)
    queue = DownloadQueueService(journal=journal, history_in_memory=100)
    main = MainWindow(queue, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    yield main
    queue.callbacks = JobCallbacks()
    queue.close()


def names(window: MainWindow) -> list[str]:
    proxy = window.proxy
    return [proxy.index(row, Column.NAME).data() for row in range(proxy.rowCount())]


def test_the_list_starts_with_the_recent_and_the_search_finds_the_old(
    history_window: MainWindow, qtbot: QtBot
) -> None:
    window = history_window
    assert window.model.rowCount() == 100  # 900 more stay in the journal
    type_text(window.search_edit, "file-12.bin")
    qtbot.waitUntil(lambda: names(window) == ["file-12.bin"], timeout=WAIT_MS)
    window.search_edit.clear()
    qtbot.waitUntil(lambda: window.model.rowCount() == 100, timeout=WAIT_MS)  # let go again


def test_scrolling_to_the_end_reads_older_downloads_page_by_page(
    history_window: MainWindow, qtbot: QtBot
) -> None:
    window = history_window
    bar = window.table.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=WAIT_MS)
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: window.model.rowCount() == 300, timeout=WAIT_MS)
    assert window.model.snapshot(900) is not None  # the newest of the journal's first
    assert window.model.snapshot(701) is not None


def test_removing_an_old_download_removes_it_from_the_journal(
    history_window: MainWindow, qtbot: QtBot
) -> None:
    window = history_window
    type_text(window.search_edit, "file-7.bin")
    qtbot.waitUntil(lambda: names(window) == ["file-7.bin"], timeout=WAIT_MS)
    window.select_jobs([7])
    window.remove_selected()
    assert names(window) == []
    assert window.queue.history("file-7.bin") == []
