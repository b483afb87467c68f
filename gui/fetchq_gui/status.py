"""The status bar's presenter: the total speed, how many downloads are in each state, what was
just added, and an Undo for what was just removed from the list."""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import Optional

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

from fetchq import DownloadJobStatus

from .bridge import JobSnapshot
from .qt_helpers import named

_ORDER = (
    (DownloadJobStatus.RUNNING, "active", True),
    (DownloadJobStatus.WAITING, "queued", True),
    (DownloadJobStatus.PAUSED, "paused", False),
    (DownloadJobStatus.COMPLETED, "done", True),
    (DownloadJobStatus.ERROR, "failed", False),
    (DownloadJobStatus.CANCELLED, "cancelled", False),
)


def counts_text(snapshots: Sequence[JobSnapshot]) -> str:
    """``2 active · 1 queued · 1 paused · 3 done``: every state a row is in is counted; the
    first three that matter most always show, the others when there are any."""
    counts = collections.Counter(s.status for s in snapshots)
    parts = [
        f"{counts[status]} {word}" for status, word, always in _ORDER if always or counts[status]
    ]
    return " · ".join(parts)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class StatusPresenter(QObject):
    """Owns the status bar's permanent widgets and its transient messages."""

    MESSAGE_MS = 4000
    UNDO_MS = 8000
    ADDED_WINDOW_MS = 1500

    def __init__(self, bar: QStatusBar, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.bar = bar
        self.speed_label = named(QLabel(), "status_speed")
        self.counts_label = named(QLabel(), "status_counts")
        self.undo_button = named(QPushButton("Undo"), "status_undo")
        self.undo_button.setFlat(True)
        self.undo_button.hide()
        self.undo_button.clicked.connect(self._undo)
        bar.addPermanentWidget(self.undo_button)
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.counts_label)
        self._undo_action: Optional[Callable[[], None]] = None
        self._commit_action: Optional[Callable[[], None]] = None
        self._undo_timer = QTimer(self, singleShot=True, interval=self.UNDO_MS)
        self._undo_timer.timeout.connect(self.commit)
        self._added = 0
        self._added_timer = QTimer(self, singleShot=True, interval=self.ADDED_WINDOW_MS)
        self._added_timer.timeout.connect(self._added_done)

    def show_counts(self, snapshots: Sequence[JobSnapshot], speed: str) -> str:
        """Show the totals; returns the line (the tray shows it too)."""
        self.speed_label.setText(f"↓ {speed}" if speed else "")
        text = counts_text(snapshots)
        self.counts_label.setText(text)
        return text

    def message(self, text: str, ms: int = MESSAGE_MS) -> None:
        self.bar.showMessage(text, ms)

    def added(self, count: int) -> None:
        """Downloads were added; additions close together are told as one ("Added 7")."""
        self._added += count
        self.bar.showMessage(f"Added {plural(self._added, 'download')}", self.MESSAGE_MS)
        self._added_timer.start()

    def _added_done(self) -> None:
        self._added = 0

    def offer_undo(self, text: str, undo: Callable[[], None], commit: Callable[[], None]) -> None:
        """Say what was done, with an Undo button for a few seconds; ``commit`` runs when the
        time is up, when another change is offered, or at :meth:`commit`."""
        self.commit()
        self._undo_action, self._commit_action = undo, commit
        self.bar.showMessage(text, self.UNDO_MS)
        self.undo_button.show()
        self._undo_timer.start()

    def commit(self) -> None:
        """Make the pending change final now (the time ran out, or the app quits)."""
        commit = self._commit_action
        self._undo_action = self._commit_action = None
        self._undo_timer.stop()
        self.undo_button.hide()
        if commit is not None:
            commit()

    def _undo(self) -> None:
        undo = self._undo_action
        self._undo_action = self._commit_action = None
        self._undo_timer.stop()
        self.undo_button.hide()
        self.bar.clearMessage()
        if undo is not None:
            undo()
