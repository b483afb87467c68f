"""Helpers that drive the window as a person would, and read what its table shows."""

from __future__ import annotations

import warnings
from typing import TypeVar

from PySide6.QtCore import QMimeData, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QToolBar, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from fetchq_gui import Column, MainWindow
from tests.helpers import LONG

WAIT_MS = int(LONG * 1000)


def cell(window: MainWindow, job_id: int, column: Column) -> str:
    """The text the table shows for a job in a column."""
    row = window.model.row_of(job_id)
    assert row is not None, f"no row for job {job_id}"
    return str(window.model.index(row, column).data() or "")


def wait_cell(qtbot: QtBot, window: MainWindow, job_id: int, column: Column, text: str) -> None:
    qtbot.waitUntil(lambda: cell(window, job_id, column) == text, timeout=WAIT_MS)


def click(widget: QWidget) -> None:
    """A left click in the middle of a widget."""
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` key by key into a widget."""
    QTest.keyClicks(widget, text)


def click_toolbar(qtbot: QtBot, window: MainWindow, action_name: str) -> None:
    """Click the toolbar button of an action, the way a person would."""
    toolbar = window.findChild(QToolBar, "main_toolbar")
    assert toolbar is not None
    button = toolbar.widgetForAction(window.action(action_name))
    assert isinstance(button, QToolButton), action_name
    assert button.isEnabled(), f"{action_name} is disabled"
    click(button)


def select(window: MainWindow, *job_ids: int) -> None:
    window.select_jobs(job_ids)


def drag_enter_event(point: QPoint, mime: QMimeData) -> QDragEnterEvent:
    """A drag entering at ``point`` (Qt 6.12 deprecates the QPoint form this Qt needs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return QDragEnterEvent(
            point,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )


def drag_and_drop(window: MainWindow, mime: QMimeData) -> tuple[bool, bool]:
    """Drag ``mime`` over the window and drop it; returns (accepted on enter, accepted on drop)."""
    point = QPointF(window.rect().center())
    actions = Qt.DropAction.CopyAction
    enter = drag_enter_event(point.toPoint(), mime)
    QApplication.sendEvent(window, enter)
    accepted_enter = enter.isAccepted()
    drop = QDropEvent(
        point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, drop)
    return accepted_enter, drop.isAccepted()


def open_context_menu(qtbot: QtBot, window: MainWindow, job_id: int) -> QMenu:
    """Right-click a job's row and return the menu that pops up."""
    row = window.model.row_of(job_id)
    assert row is not None
    index = window.proxy.mapFromSource(window.model.index(row, Column.NAME))
    position: QPoint = window.table.visualRect(index).center()
    window.table.customContextMenuRequested.emit(position)
    qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu), timeout=WAIT_MS)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    return menu


def menu_action(menu: QMenu, name: str) -> object:
    for action in menu.actions():
        if action.objectName() == name:
            return action
    raise AssertionError(f"no {name} in the menu: {[a.objectName() for a in menu.actions()]}")


W = TypeVar("W", bound=QObject)


def child(parent: QObject, kind: type[W], name: str) -> W:
    """The child of this type and objectName; fails the test if there is none."""
    found = parent.findChild(kind, name)
    assert found is not None, f"no {kind.__name__} named {name}"
    return found
