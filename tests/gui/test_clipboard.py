"""Clipboard watch (issue 17, item 5): off by default; when on, a copied link of a file type
the user downloads is offered in a bar in the window, which takes no focus."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.clipboard import links_to_offer
from fetchq_gui.model import Column
from tests.gui.gui_helpers import WAIT_MS, click, wait_cell


def copy(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def test_only_new_links_of_wanted_types_are_offered() -> None:
    seen: set[str] = set()
    text = "see https://a.example/x.iso and https://a.example/page.html or https://a.example/y.ZIP"
    assert links_to_offer(text, {"iso", "zip"}, seen) == [
        "https://a.example/x.iso",
        "https://a.example/y.ZIP",
    ]
    assert links_to_offer(text, {"iso", "zip"}, seen) == []  # offered once


def test_off_by_default_nothing_is_offered(window: MainWindow, qtbot: QtBot) -> None:
    assert not window.settings.watch_clipboard
    with qtbot.waitSignal(QGuiApplication.clipboard().dataChanged, timeout=WAIT_MS):
        copy("https://example.org/file.iso")  # the watch has seen it once this is emitted
    assert not window.clipboard_offer.isVisible()


def test_a_copied_link_is_offered_without_taking_the_focus_and_downloaded_on_request(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    window.settings.watch_clipboard = True
    window.apply_settings()
    focused = QApplication.focusWidget()
    url = server.add("/releases/tool.zip", b"z" * 4000)
    copy(f"Download it here: {url} (mirror below)")
    qtbot.waitUntil(window.clipboard_offer.isVisible, timeout=WAIT_MS)
    assert window.clipboard_offer.label.text() == "Copied: tool.zip. Download with fetchq?"
    assert QApplication.focusWidget() is focused
    with qtbot.waitSignal(QGuiApplication.clipboard().dataChanged, timeout=WAIT_MS):
        copy("https://example.org/page.html")  # not a file type of the categories
    assert window.clipboard_offer.links == [url]
    click(window.clipboard_offer.download_button)
    assert not window.clipboard_offer.isVisible()
    (snapshot,) = window.model.snapshots()
    wait_cell(qtbot, window, snapshot.id, Column.STATUS, "Completed")
    assert (downloads / "tool.zip").read_bytes() == b"z" * 4000


def test_dismissing_forgets_the_offer(window: MainWindow, qtbot: QtBot) -> None:
    window.settings.watch_clipboard = True
    window.apply_settings()
    copy("https://example.org/movie.mkv")
    qtbot.waitUntil(window.clipboard_offer.isVisible, timeout=WAIT_MS)
    click(window.clipboard_offer.dismiss_button)
    assert not window.clipboard_offer.isVisible()
    assert window.model.snapshots() == []
