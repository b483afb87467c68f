"""The system tray icon: status in its tooltip, a menu, and balloon messages.

Used only where ``QSystemTrayIcon.isSystemTrayAvailable()``; elsewhere closing the window quits.
Notifications prefer the desktop's notification service (:mod:`.notifications`); the balloon is
their fallback.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .icons import icon


class Tray(QObject):
    """Owns the tray icon when there is a tray."""

    show_requested = Signal()
    toggle_requested = Signal()
    pause_all_requested = Signal()
    resume_all_requested = Signal()
    quit_requested = Signal()

    MESSAGE_MS = 6000

    def __init__(self, app_icon: QIcon, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.icon: Optional[QSystemTrayIcon] = None
        self.menu: Optional[QMenu] = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.menu = QMenu()
        self.menu.setObjectName("tray_menu")
        entries = (
            ("tray_show", "Show / hide window", "show", self.toggle_requested),
            ("tray_pause_all", "Pause all", "pause", self.pause_all_requested),
            ("tray_resume_all", "Resume all", "resume", self.resume_all_requested),
            ("tray_quit", "Quit", "quit", self.quit_requested),
        )
        for name, text, icon_name, signal in entries:
            action = QAction(icon(icon_name), text, self.menu)
            action.setObjectName(name)
            action.triggered.connect(signal.emit)
            if name == "tray_quit":
                self.menu.addSeparator()
            self.menu.addAction(action)
        self.icon = QSystemTrayIcon(app_icon, self)
        self.icon.setObjectName("tray_icon")
        self.icon.setContextMenu(self.menu)
        self.icon.setToolTip("fetchq")
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self.show_requested.emit)
        self.icon.show()

    @property
    def available(self) -> bool:
        return self.icon is not None

    def set_status(self, text: str) -> None:
        if self.icon is not None:
            self.icon.setToolTip(f"fetchq: {text}")

    @property
    def can_show_messages(self) -> bool:
        return self.icon is not None and QSystemTrayIcon.supportsMessages()

    def set_enabled(self, pause_all: bool, resume_all: bool) -> None:
        """Enable Pause all and Resume all only when they have something to act on."""
        if self.menu is None:
            return
        for action in self.menu.actions():
            if action.objectName() == "tray_pause_all":
                action.setEnabled(pause_all)
            elif action.objectName() == "tray_resume_all":
                action.setEnabled(resume_all)

    def notify(self, title: str, message: str, failed: bool = False) -> None:
        """A balloon from the tray icon (deferred, so a burst of finishing downloads never
        stalls the tick that reports them)."""
        if not self.can_show_messages:
            return
        kind = (
            QSystemTrayIcon.MessageIcon.Warning
            if failed
            else QSystemTrayIcon.MessageIcon.Information
        )
        QTimer.singleShot(0, lambda: self._show(title, message, kind))

    def _show(self, title: str, message: str, kind: QSystemTrayIcon.MessageIcon) -> None:
        if self.icon is not None:
            self.icon.showMessage(title, message, kind, self.MESSAGE_MS)

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.toggle_requested.emit()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()
