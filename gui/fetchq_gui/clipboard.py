"""Clipboard watch: a link copied anywhere, of a file type the user downloads, is offered in a
bar inside the window (never a dialog, never the focus taken). Off unless the user turns it on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from fetchq import filename_from_url

from .qt_helpers import named
from .urls import extract_urls

OFFER_MS = 20_000
"""How long an offer stays before it goes by itself."""
MAX_CLIPBOARD = 100_000
"""Characters of copied text looked at (a copied book is not a link); at most ``QUICK_LINKS``
links in it, so a copy, which a web page can make, never stops the window long."""


def links_to_offer(text: str, extensions: Iterable[str], seen: set[str]) -> list[str]:
    """The links in copied ``text`` whose file name ends in one of ``extensions`` and that
    were not offered before; ``seen`` learns them."""
    wanted = {e.lower().lstrip(".") for e in extensions}
    found = []
    for url in extract_urls(text[:MAX_CLIPBOARD], every_line=False).urls:
        name = (filename_from_url(url) or "").lower()
        _, dot, extension = name.rpartition(".")
        if dot and extension in wanted and url not in seen:
            seen.add(url)
            found.append(url)
    return found


class ClipboardOffer(QFrame):
    """The bar that offers copied links: Download, or Dismiss."""

    accepted = Signal(list)  # list[str]

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("clipboard_offer")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#clipboard_offer { background: #eef3fb; }")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.label = named(QLabel(), "clipboard_offer_text")
        self.download_button = named(QPushButton("Download"), "clipboard_offer_download")
        self.dismiss_button = named(QPushButton("Dismiss"), "clipboard_offer_dismiss")
        for button in (self.download_button, self.dismiss_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a copy elsewhere takes no focus
        self.download_button.clicked.connect(self._accept)
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.download_button)
        layout.addWidget(self.dismiss_button)
        self._links: list[str] = []
        self._timer = QTimer(self, singleShot=True, interval=OFFER_MS)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    @property
    def links(self) -> list[str]:
        return list(self._links)

    def offer(self, links: list[str]) -> None:
        self._links = links
        first = filename_from_url(links[0]) or links[0]
        more = f" and {len(links) - 1} more" if len(links) > 1 else ""
        self.label.setText(f"Copied: {first}{more}. Download with fetchq?")
        self.label.setToolTip("\n".join(links[:20]))
        self.show()
        self._timer.start()

    def dismiss(self) -> None:
        self._timer.stop()
        self._links = []
        self.hide()

    def _accept(self) -> None:
        links = self._links
        self.dismiss()
        if links:
            self.accepted.emit(links)


class ClipboardWatch(QObject):
    """Reads the clipboard when it changes, while on; offers what ``links_to_offer`` finds.
    A child of the bar, so the app's clipboard stops calling it when the window goes."""

    def __init__(self, offer: ClipboardOffer) -> None:
        super().__init__(offer)
        self.offer = offer
        self.enabled = False
        self.extensions: frozenset[str] = frozenset()
        self.seen: set[str] = set()
        QGuiApplication.clipboard().dataChanged.connect(self._changed)

    def _changed(self) -> None:
        if not self.enabled:
            return
        links = links_to_offer(QGuiApplication.clipboard().text(), self.extensions, self.seen)
        if links:
            self.offer.offer(links)
