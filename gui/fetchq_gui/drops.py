"""Drag and drop: the links in what is dragged over the window, and the banner that says
exactly what a drop will add and what it will not.

The banner and the drop read the same thing the same way (a dropped ``.txt`` list is read while
it is dragged over, not only when dropped), so the count shown is the count added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtWidgets import QLabel, QWidget

from .status import plural
from .urls import QUICK_CHARS, QUICK_LINKS, ParsedUrls, Refusal, extract_urls

MAX_DROPPED_FILE_BYTES = 1 << 20
LIST_SUFFIXES = (".txt", ".list", ".urls")
NAMED_AT_MOST = 3


def links_in(mime: QMimeData) -> ParsedUrls:
    """The links in dragged or dropped data: URLs, text, and local ``.txt`` lists of links."""
    refused: list[Refusal] = []
    texts: list[str] = []
    lists: list[str] = []  # names of the list files dropped
    if mime.hasUrls():
        for url in mime.urls():
            if not url.isLocalFile():
                texts.append(url.toString())
                continue
            path = Path(url.toLocalFile())
            if path.suffix.lower() not in LIST_SUFFIXES:
                refused.append(Refusal(path.name, "only .txt lists of links can be dropped"))
            elif path.is_file() and path.stat().st_size <= MAX_DROPPED_FILE_BYTES:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
                lists.append(path.stem)
            else:
                refused.append(Refusal(path.name, "not a readable list of links under 1 MiB"))
    elif mime.hasText():
        texts.append(mime.text())
    # Read while dragged over, on the GUI thread: one budget of links and characters for all
    # that is dragged (several lists at once too), so a drag never stops the window long.
    links: dict[str, None] = {}
    chars = QUICK_CHARS
    for text in texts:
        parsed = extract_urls(
            text,
            every_line=bool(lists),
            max_links=max(QUICK_LINKS - len(links), 0),
            max_chars=chars,
        )
        chars = max(chars - len(text), 0)
        links.update(dict.fromkeys(parsed.urls))
        refused.extend(parsed.refused)
    list_name = lists[0] if len(lists) == 1 and len(texts) == 1 else None
    return ParsedUrls(tuple(links), tuple(refused), list_name)


def banner(parsed: ParsedUrls, folder: Path) -> tuple[str, bool]:
    """The banner's text for a drag, and whether the drop would add anything."""
    refused = parsed.refused
    named = [f"{_short(r.text)}: {r.reason}" for r in refused[:NAMED_AT_MOST]]
    if len(refused) > NAMED_AT_MOST:
        named.append(f"…and {len(refused) - NAMED_AT_MOST} more")
    if not parsed.urls:
        reason = refused[0].reason if refused else "no links to download in this"
        return f"Cannot download this: {reason}", False
    what = plural(len(parsed.urls), "link")
    if parsed.list_name and len(parsed.urls) > 1:
        what += f" as one package, {parsed.list_name}"
    text = f"Drop to download {what} into\n{folder}"
    if named:
        text += f"\n\nNot added ({len(refused)}):\n" + "\n".join(named)
    return text, True


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DropOverlay(QLabel):
    """A translucent banner over the table saying what a drop would do."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("drop_overlay")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def present(self, text: str, accepted: bool) -> None:
        highlight = "palette(highlight)" if accepted else "#b3261e"
        self.setStyleSheet(
            "QLabel#drop_overlay {"
            f" border: 3px dashed {highlight}; border-radius: 12px;"
            " background: rgba(127, 127, 127, 60); font-size: 16pt; padding: 24px; }"
        )
        self.setText(text)
        self.fit()
        self.show()
        self.raise_()

    def fit(self) -> None:
        parent: Optional[QWidget] = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect().adjusted(12, 12, -12, -12))
