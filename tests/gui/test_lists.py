"""Import and export of the download list from the File menu (issue 17, item 7)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog
from pytestqt.qtbot import QtBot

from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.dialogs import LIST_FILTERS
from fetchq_gui.model import Column
from fetchq_gui.single_instance import SingleInstance
from fetchq_gui.window import MAX_IMPORT_ENTRIES
from tests.gui.gui_helpers import WAIT_MS, child, wait_cell
from tests.helpers import payload, sha256


def trigger(window: MainWindow, name: str) -> None:
    action = child(window, QAction, name)
    assert action.isEnabled()
    action.trigger()


def test_export_writes_the_chosen_format_without_secrets(
    window: MainWindow, qtbot: QtBot, server: TestServer, tmp_path: Path
) -> None:
    url = server.add("/a.iso", payload(4000))
    (job,) = window.add_urls([url], headers={"X-Api-Key": "secret"}, cookies="s=secret")
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    for format, name in (("aria2", "list.txt"), ("json", "list.json")):
        trigger(window, "action_export")
        dialog = child(window, QFileDialog, "export_dialog")
        dialog.selectNameFilter(LIST_FILTERS[format])
        dialog.selectFile(str(tmp_path / name))
        dialog.accept()
        qtbot.waitUntil((tmp_path / name).exists, timeout=WAIT_MS)
    aria2 = (tmp_path / "list.txt").read_text().splitlines()
    assert aria2 == [url, f"  dir={window.download_dir}", "  out=a.iso"]
    exported = (tmp_path / "list.json").read_text()
    assert "secret" not in exported
    assert json.loads(exported)["downloads"][0]["source"] == url


def test_import_queues_a_list_and_keeps_it_inside_the_download_folder(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path, tmp_path: Path
) -> None:
    one, two, three = payload(3000, 1), payload(3000, 2), payload(3000, 3)
    listing = tmp_path / "from-aria2.txt"
    listing.write_text(
        f"{server.add('/one.bin', one)}\n"
        f"  dir={downloads / 'isos'}\n"
        "  out=first.bin\n"
        f"{server.add('/two.bin', two)}\n"
        f"  dir={tmp_path / 'elsewhere'}\n"
        "  header=Cookie: a=1\n"
        f"{server.add('/three.bin', three)}\n"
        "  dir=relative/sub\n"  # relative to the download folder, not to where fetchq runs
    )
    trigger(window, "action_import")
    dialog = child(window, QFileDialog, "import_dialog")
    dialog.selectFile(str(listing))
    dialog.accept()
    qtbot.waitUntil(lambda: len(window.model.snapshots()) == 3, timeout=WAIT_MS)
    for snapshot in window.model.snapshots():
        wait_cell(qtbot, window, snapshot.id, Column.STATUS, "Completed")
    assert sha256((downloads / "isos" / "first.bin").read_bytes()) == sha256(one)
    assert sha256((downloads / "two.bin").read_bytes()) == sha256(two)  # not "elsewhere"
    assert sha256((downloads / "relative" / "sub" / "three.bin").read_bytes()) == sha256(three)
    assert not (tmp_path / "elsewhere").exists()
    box = child(window, QMessageBox, "warning_box")
    assert box.text().startswith("1 download will go to ")
    assert "header for the link on line 4 was not imported" in box.text()


def test_fetchq_import_hands_the_list_to_the_running_app(qtbot: QtBot, tmp_path: Path) -> None:
    key = f"fetchq-test-import-{tmp_path.name}"
    running = SingleInstance(key, parent=QCoreApplication.instance())  # outlives its events
    assert running.listen()
    try:
        with qtbot.waitSignal(running.imports_received, timeout=WAIT_MS) as received:
            assert SingleInstance(key).hand_over([], imports=[str(tmp_path / "l.json")])
        assert received.args == [[str(tmp_path / "l.json")]]
    finally:
        running.close()


def test_a_list_over_the_import_limit_is_refused_before_anything_is_queued(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    listing = tmp_path / "huge.txt"
    links = (f"http://127.0.0.1:9/{n}.bin\n" for n in range(MAX_IMPORT_ENTRIES + 1))
    listing.write_text("".join(links))
    window.import_list(listing)
    qtbot.waitUntil(lambda: bool(window.findChildren(QMessageBox, "warning_box")), timeout=WAIT_MS)
    box = child(window, QMessageBox, "warning_box")
    assert box.windowTitle() == "The list was not imported"
    assert "holds 10,001 downloads, and fetchq imports at most 10,000 at once" in box.text()
    assert window.queue.list_jobs() == []


def test_a_long_import_never_freezes_the_window_and_can_be_cancelled(
    window: MainWindow, qtbot: QtBot, server: TestServer, tmp_path: Path
) -> None:
    """10,000 links: read off the GUI thread, queued in short slices under a progress dialog;
    Cancel stops it, what was queued stays, and the message says what was not."""
    listing = tmp_path / "long.txt"
    listing.write_text("".join(f"{server.url(f'/missing/{n}.bin')}\n" for n in range(10_000)))
    ticks: list[float] = []
    beat = QTimer(window, interval=5)
    beat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    beat.start()
    imported: list[int] = []
    window.list_imported.connect(imported.append)
    started = time.perf_counter()
    window.import_list(listing)
    assert time.perf_counter() - started < 0.5  # it returns at once: the rest is on the loop
    qtbot.waitUntil(
        lambda: any(p.isVisible() for p in window.findChildren(QProgressDialog, "import_progress")),
        timeout=WAIT_MS,
    )
    progress = child(window, QProgressDialog, "import_progress")
    progress.cancel()
    qtbot.waitUntil(lambda: bool(imported), timeout=WAIT_MS)
    beat.stop()
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert max(gaps) < 0.5  # slices of 30 ms, with room for a slow machine; the old: seconds
    assert 0 < imported[0] < 10_000
    assert len(window.model.snapshots()) == imported[0]
    box = child(window, QMessageBox, "warning_box")
    assert box.windowTitle() == f"Imported {imported[0]} downloads from long.txt"
    assert f"Import cancelled: the last {10_000 - imported[0]} downloads were not queued" in (
        box.text()
    )
