"""Help → About says what fetchq is, its licence, and what it runs on."""

from __future__ import annotations

import pycurl
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from fetchq import __version__
from fetchq_gui import MainWindow


def test_about_names_the_version_licence_and_libraries(qtbot: QtBot, window: MainWindow) -> None:
    about = window.findChild(QAction, "action_about")
    assert about is not None
    about.trigger()
    box = window.findChild(QMessageBox, "about_box")
    assert box is not None
    text = box.text()
    assert text.startswith(f"fetchq {__version__}\n")
    assert "Licence: MIT." in text
    assert f"Qt {qVersion()}" in text
    assert f"libcurl {pycurl.version_info()[1]}" in text
    box.accept()
