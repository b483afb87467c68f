"""The add-downloads dialog and the settings dialog.

Both are opened with ``open()`` and report through ``accepted``/``finished``, never ``exec()``:
a nested event loop would stall qasync's tasks.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import time as dt_time
from html import escape
from pathlib import Path
from typing import Optional

import shiboken6
from PySide6.QtCore import Qt, QTime, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from fetchq import (
    EVERY_DAY,
    Category,
    Hours,
    InvalidChecksumError,
    parse_checksum,
    sanitize_filename,
    validate_cookies,
    validate_headers,
)

from .browser_install import Installer
from .qt_helpers import async_slot, named
from .scheduling import WHEN_DONE, NamedQueue
from .settings import Settings
from .urls import (
    MAX_TEXT_CHARS,
    MAX_TEXT_LINKS,
    ParsedUrls,
    extract_urls,
    quick_to_read,
    suggest_package_name,
)

NAME_PLACEHOLDER = "from the server"
MANY_NAMES = "each file is named by its server"
PROBE_AT_MOST = 10
"""Links the dialog asks their servers about (name, size, whether they answer)."""
REFUSALS_SHOWN = 6
SPEED_UNITS = (("KiB/s", 1), ("MiB/s", 1024))
"""The speed limit's units, and KiB in each."""


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


PROBLEM_STYLE = "color: #a50e0e"
"""A dialog's words on what stops it, in the red the popup and the status use too."""


def problem_label(name: str) -> QLabel:
    """A hidden, wrapping red label where a dialog says what keeps it from going on."""
    label = named(QLabel(), name)
    label.setWordWrap(True)
    label.setStyleSheet(PROBLEM_STYLE)
    label.hide()
    return label


def ok_cancel(
    dialog: QDialog, ok_name: str, ok_text: Optional[str], on_ok: Callable[[], object]
) -> tuple[QDialogButtonBox, QPushButton]:
    """A dialog's OK (named, and worded ``ok_text`` if given) and Cancel buttons: OK calls
    ``on_ok``, Cancel rejects."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setObjectName(ok_name)
    if ok_text is not None:
        ok.setText(ok_text)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok


def choose_folder(edit: QLineEdit, title: str, name: str) -> QFileDialog:
    """A folder picker starting at ``edit``'s folder, writing the choice back into it; opened
    with ``open()``, never ``exec()``."""
    dialog = QFileDialog(edit.window(), title, edit.text())
    dialog.setObjectName(name)
    dialog.setFileMode(QFileDialog.FileMode.Directory)
    dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dialog.fileSelected.connect(edit.setText)
    dialog.open()
    return dialog


LIST_FILTERS = {
    "json": "fetchq list (*.json)",
    "urls": "List of links (*.txt)",
    "aria2": "aria2 input file (*.aria2 *.txt)",
}


def choose_list_file(parent: QWidget, save: bool, folder: str) -> QFileDialog:
    """The file picker for importing or exporting a download list (``open()``, never
    ``exec()``); for export, the format follows the chosen filter."""
    title = "Export the download list" if save else "Import a download list"
    dialog = QFileDialog(parent, title, folder)
    dialog.setObjectName("export_dialog" if save else "import_dialog")
    if save:
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(list(LIST_FILTERS.values()))
        dialog.setDefaultSuffix("json")
        dialog.filterSelected.connect(
            lambda chosen: dialog.setDefaultSuffix("json" if "json" in chosen else "txt")
        )
    else:
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Download lists (*.json *.txt *.aria2 *.lst)", "All files (*)"])
    dialog.open()
    return dialog


@dataclass(frozen=True)
class AddRequest:
    """What the add dialog asks the queue for."""

    urls: tuple[str, ...]
    folder: Path
    file_name: Optional[str]
    priority: int
    connections: int
    checksum: Optional[str]
    access_token: Optional[str]
    package_name: Optional[str] = None
    """Add the links as one multi-file job, into a folder of this name."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra request headers, to each link's own site only."""
    cookies: Optional[str] = None
    group: Optional[str] = None
    """The named queue the downloads wait in (None: the main queue)."""


def header_lines(text: str) -> tuple[tuple[str, str], ...]:
    """``Name: value`` lines as pairs (blank lines skipped); a line without a colon raises
    ValueError naming it."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"line {number} is not 'Name: value'")
        pairs.append((name.strip(), value.strip()))
    return tuple(pairs)


WARNINGS_SHOWN = 3
"""Probe warnings listed in the Add dialog; more are counted."""


@functools.cache
def _link_reader() -> ThreadPoolExecutor:
    """The thread that reads long pasted texts (one: a newer text waits for the last)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetchq-links")


class AddDownloadsDialog(QDialog):
    """Paste or type URLs (one a line, or any text that contains them) and choose where to."""

    requested = Signal(object)  # AddRequest, emitted when the person accepts
    probe_wanted = Signal(str)  # a single URL whose name and size the window may look up

    def __init__(
        self, settings: Settings, folder: Path, parent: Optional[QWidget] = None, text: str = ""
    ) -> None:
        super().__init__(parent)
        self.setObjectName("add_dialog")
        self.setWindowTitle("Add downloads")
        self.setModal(True)
        self.resize(560, 420)
        self._settings = settings

        self.urls_edit = named(QPlainTextEdit(), "urls_edit")
        self.urls_edit.setPlaceholderText(
            "https://example.com/file.zip\nOne link a line, or paste any text that contains links."
        )
        self.urls_edit.setPlainText(text)
        self.summary = named(QLabel(), "urls_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)

        self.folder_edit = named(QLineEdit(str(folder)), "folder_edit")
        browse = named(QPushButton("Browse…"), "browse_button")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)

        self.name_edit = named(QLineEdit(), "name_edit")
        self.name_edit.setPlaceholderText(NAME_PLACEHOLDER)
        self.priority_spin = named(QSpinBox(), "priority_spin")
        self.priority_spin.setRange(0, 1000)
        self.priority_spin.setValue(10)
        self.priority_spin.setToolTip("Lower numbers start first")
        self.connections_spin = named(QSpinBox(), "connections_spin")
        self.connections_spin.setRange(1, 32)
        self.connections_spin.setValue(settings.connections_per_file)
        self.checksum_edit = named(QLineEdit(), "checksum_edit")
        self.checksum_edit.setPlaceholderText("optional, e.g. sha256:9f86d0…")
        self.token_edit = named(QLineEdit(), "token_edit")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("optional, sent as a Bearer token to this site only")
        self.headers_edit = named(QPlainTextEdit(), "headers_edit")
        self.headers_edit.setPlaceholderText("optional, one a line: X-Api-Key: 1234")
        self.headers_edit.setTabChangesFocus(True)
        self.headers_edit.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 12)
        self.headers_edit.textChanged.connect(self._reparse)
        self.cookies_edit = named(QLineEdit(), "cookies_edit")
        self.cookies_edit.setPlaceholderText("optional: session=abc; theme=dark")
        self.cookies_edit.textChanged.connect(self._reparse)

        self.package_check = named(QCheckBox("Add as one package"), "package_check")
        self.package_check.setToolTip(
            "One row for all these links, downloaded into one folder: an album, a dataset"
        )
        self.package_edit = named(QLineEdit(), "package_edit")
        self.package_edit.setPlaceholderText("folder name")
        self.package_edit.setEnabled(False)
        self.package_check.toggled.connect(self._package_toggled)
        package_row = QHBoxLayout()
        package_row.addWidget(self.package_check)
        package_row.addWidget(self.package_edit, 1)

        form = QFormLayout()
        form.addRow("Save to:", folder_row)
        form.addRow("", package_row)
        form.addRow("File name:", self.name_edit)
        form.addRow("Priority:", self.priority_spin)
        self.queue_combo = named(QComboBox(), "queue_combo")
        self.queue_combo.addItem("Main queue", None)
        for queue in settings.queues:
            self.queue_combo.addItem(queue.name, queue.name)
        self.queue_combo.setEnabled(self.queue_combo.count() > 1)
        form.addRow("Queue:", self.queue_combo)
        form.addRow("Connections per file:", self.connections_spin)
        form.addRow("Checksum:", self.checksum_edit)
        form.addRow("Access token:", self.token_edit)
        form.addRow("Headers:", self.headers_edit)
        form.addRow("Cookies:", self.cookies_edit)

        self.buttons, self.ok_button = ok_cancel(self, "add_ok", "Download", self._accept)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Links:"))
        layout.addWidget(self.urls_edit, 1)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        self._parsed = ParsedUrls((), ())
        self._parsed_text = ""
        """The text ``_parsed`` was read from: while it differs from the box, a read is due."""
        self._read_timer = QTimer(self, singleShot=True, interval=150)  # typing: read once
        self._read_timer.timeout.connect(self._read_in_background)
        self._probed: dict[str, tuple[Optional[str], str, Optional[str]]] = {}
        """What a probe said of each link: name, size as text, a warning."""
        self._probe_timer = QTimer(self, singleShot=True, interval=400)
        self._probe_timer.timeout.connect(self._ask_probe)
        self.urls_edit.textChanged.connect(self._reparse)
        self.checksum_edit.textChanged.connect(self._reparse)
        self.folder_edit.textChanged.connect(self._reparse)
        self.name_edit.textChanged.connect(self._reparse)
        self.package_edit.textChanged.connect(self._reparse)
        self._reparse()

    def _package_toggled(self, checked: bool) -> None:
        self.package_edit.setEnabled(checked)
        if checked and not self.package_edit.text():
            self.package_edit.setText(suggest_package_name(self._parsed.urls))
        self._reparse()

    @property
    def parsed(self) -> ParsedUrls:
        return self._parsed

    def _reparse(self) -> None:
        text = self.urls_edit.toPlainText()
        if text != self._parsed_text:
            if quick_to_read(text):
                self._parsed, self._parsed_text = extract_urls(text), text
                self._read_timer.stop()
            else:  # a long text, or patterns for many links: read off the GUI thread
                self._read_timer.start()
        self._refresh()

    @async_slot()
    async def _read_in_background(self) -> None:
        text = self.urls_edit.toPlainText()
        loop = asyncio.get_running_loop()
        read = functools.partial(
            extract_urls, text, max_links=MAX_TEXT_LINKS, max_chars=MAX_TEXT_CHARS
        )
        parsed = await loop.run_in_executor(_link_reader(), read)
        if not shiboken6.isValid(self) or text != self.urls_edit.toPlainText():
            return  # closed, or typed on meanwhile: a newer read is on its way
        self._parsed, self._parsed_text = parsed, text
        self._refresh()

    @property
    def reading(self) -> bool:
        """Whether the links are being read (off the GUI thread): Download waits for it."""
        return self._parsed_text != self.urls_edit.toPlainText()

    def _refresh(self) -> None:
        count = len(self._parsed.urls)
        problem = self._problem()
        self._show_summary(problem)
        single = count == 1
        self.package_check.setEnabled(count > 1)
        if count <= 1 and self.package_check.isChecked():
            self.package_check.setChecked(False)
        self.name_edit.setEnabled(single)
        if not single:
            self.name_edit.clear()
            self.name_edit.setPlaceholderText(NAME_PLACEHOLDER if count == 0 else MANY_NAMES)
        elif self._probed.get(self._parsed.urls[0], (None,))[0] is None:
            self.name_edit.setPlaceholderText(NAME_PLACEHOLDER)
        self.ok_button.setEnabled(count > 0 and problem is None and not self.reading)
        if any(url not in self._probed for url in self._parsed.urls[:PROBE_AT_MOST]):
            self._probe_timer.start()

    def _show_summary(self, problem: Optional[str]) -> None:
        """Every link's fate: how many will be added, each refused line with its reason, a
        warning for each link whose server did not answer well (still added if you wish)."""
        parsed = self._parsed
        count = len(parsed.urls)
        lines: list[str] = []
        if count == 1:
            name, size_text, _ = self._probed.get(parsed.urls[0], (None, "", None))
            detail = f": {name}" + (f" ({size_text})" if size_text else "") if name else ""
            lines.append(f"1 link to download{detail}.")
        elif count:
            lines.append(f"{count} links to download.")
        for batch in parsed.batches[:REFUSALS_SHOWN]:
            lines.append(
                f"{_clip(batch.pattern)} stands for {batch.count} links: "
                f"{_clip(batch.first)} … {_clip(batch.last)}"
            )
        warnings = [
            f"Warning, {_clip(url)}: {error}. You can still add it."
            for url in parsed.urls
            if (error := self._probed.get(url, (None, "", None))[2])
        ]
        lines += warnings[:WARNINGS_SHOWN]
        if len(warnings) > WARNINGS_SHOWN:  # the dialog keeps its size: the form stays usable
            lines.append(f"…and {len(warnings) - WARNINGS_SHOWN} more warnings like these.")
        for refusal in parsed.refused[:REFUSALS_SHOWN]:
            lines.append(f"Not added, {_clip(refusal.text)}: {refusal.reason}")
        if len(parsed.refused) > REFUSALS_SHOWN:
            lines.append(f"…and {len(parsed.refused) - REFUSALS_SHOWN} more lines not added.")
        if problem:
            lines.append(problem)
        if self.reading:
            lines = [f"Reading the links in {len(self.urls_edit.toPlainText()):,} characters…"]
        self.summary.setText("\n".join(lines) or "Type or paste links (https, http, ftp) above.")

    def _problem(self) -> Optional[str]:
        checksum = self.checksum_edit.text().strip()
        if checksum:
            try:
                parse_checksum(checksum, None)
            except InvalidChecksumError as exc:
                return f"Checksum: {exc}"
            if len(self._parsed.urls) > 1:
                return "Checksum: a checksum applies to one link only."
        try:
            headers = header_lines(self.headers_edit.toPlainText())
            validate_headers(dict(headers))
            validate_cookies(self.cookies_edit.text().strip() or None)
        except ValueError as exc:
            return f"Headers and cookies: {exc}."
        if (headers or self.cookies_edit.text().strip()) and self.package_check.isChecked():
            return "Headers and cookies: they go with single downloads, not with a package."
        if not self.folder_edit.text().strip():
            return "Choose a folder to save to."
        name = self.name_edit.text().strip()
        if name and sanitize_filename(name) != name:
            return f"File name: {name!r} is not a valid file name."
        if self.package_check.isChecked():
            package = self.package_edit.text().strip()
            if not package:
                return "Package: name the folder the links go into."
            if sanitize_filename(package) != package:
                return f"Package: {package!r} is not a valid folder name."
        return None

    def _ask_probe(self) -> None:
        for url in self._parsed.urls[:PROBE_AT_MOST]:
            if url not in self._probed:
                self._probed[url] = (None, "", None)  # asked: not again
                self.probe_wanted.emit(url)

    def show_probe(
        self, url: str, name: Optional[str], size_text: str, error: Optional[str]
    ) -> None:
        """Show what the server says about a link (called by the window): its name and size,
        or a warning in words."""
        self._probed[url] = (name, size_text, error)
        if url not in self._parsed.urls:
            return
        if len(self._parsed.urls) == 1 and name and not self.name_edit.text():
            self.name_edit.setPlaceholderText(name)
        self._show_summary(self._problem())

    def _browse(self) -> None:
        choose_folder(self.folder_edit, "Save downloads to", "folder_dialog")

    def request(self) -> AddRequest:
        name = self.name_edit.text().strip() or None
        checksum = self.checksum_edit.text().strip() or None
        return AddRequest(
            urls=self._parsed.urls,
            folder=Path(self.folder_edit.text().strip()).expanduser(),
            file_name=name if len(self._parsed.urls) == 1 else None,
            priority=self.priority_spin.value(),
            connections=self.connections_spin.value(),
            checksum=parse_checksum(checksum, None) if checksum else None,
            access_token=self.token_edit.text() or None,
            package_name=self.package_edit.text().strip()
            if self.package_check.isChecked()
            else None,
            headers=header_lines(self.headers_edit.toPlainText()),
            cookies=self.cookies_edit.text().strip() or None,
            group=self.queue_combo.currentData(),
        )

    def _accept(self) -> None:
        self._reparse()
        if not self.ok_button.isEnabled():
            return
        self.requested.emit(self.request())
        self.accept()


class ChangeLinkDialog(QDialog):
    """A new link for one download. fetchq checks that it serves the same file before the
    download continues; when it does not, the dialog stays open and says why."""

    requested = Signal(str)

    def __init__(
        self, name: str, link: str, expired: bool, parent: Optional[QWidget] = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("change_link_dialog")
        self.setWindowTitle("Change link")
        why = (
            "Its link no longer serves the file (it expired, or needs a new login). "
            if expired
            else ""
        )
        intro = QLabel(
            f"<b>{escape(name)}</b><br>{why}Paste a new link to the same file: fetchq checks "
            "that it serves the same bytes, then continues from what it already has."
        )
        intro.setWordWrap(True)
        self.url_edit = named(QLineEdit(link), "change_link_url")
        self.url_edit.selectAll()
        self.problem = problem_label("change_link_problem")
        self.buttons, self.ok_button = ok_cancel(self, "change_link_ok", "Continue", self._submit)
        layout = QVBoxLayout(self)
        for widget in (intro, self.url_edit, self.problem, self.buttons):
            layout.addWidget(widget)
        self.resize(560, self.sizeHint().height())

    def _submit(self) -> None:
        link = self.url_edit.text().strip()
        if not link:
            self.show_problem("Paste the new link first.")
            return
        self.set_busy(True)
        self.requested.emit(link)

    def set_busy(self, busy: bool) -> None:
        """While fetchq checks the link: no second click, and a word on what happens."""
        self.ok_button.setEnabled(not busy)
        self.url_edit.setReadOnly(busy)
        if busy:
            self.problem.setStyleSheet("")
            self.problem.setText("Checking the new link…")
            self.problem.show()

    def show_problem(self, text: str) -> None:
        self.set_busy(False)
        self.problem.setStyleSheet(PROBLEM_STYLE)
        self.problem.setText(text)
        self.problem.show()


class LoginDialog(QDialog):
    """A site asks for a login: a name, a password, and whether to remember them (in the
    system's keychain). Not modal: downloads and the window go on meanwhile."""

    def __init__(
        self,
        site: str,
        realm: Optional[str],
        count: int,
        can_remember: bool,
        parent: Optional[QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("login_dialog")
        self.setWindowTitle(f"Log in to {site}")
        asks = f"{escape(site)} asks for a login"
        if realm:
            asks += f" (“{escape(realm)}”)"
        which = "this download" if count == 1 else f"these {count} downloads"
        intro = QLabel(f"{asks} for {which}. fetchq sends it to {escape(site)} only.")
        intro.setWordWrap(True)
        self.user_edit = named(QLineEdit(), "login_user")
        self.password_edit = named(QLineEdit(), "login_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember_check = named(QCheckBox("Remember for this site"), "login_remember")
        self.remember_check.setEnabled(can_remember)
        if not can_remember:
            self.remember_check.setToolTip(
                "This system has no keychain to keep passwords in (fetchq never writes them "
                "into its own files)"
            )
        form = QFormLayout()
        form.addRow("User name:", self.user_edit)
        form.addRow("Password:", self.password_edit)
        buttons, self.ok_button = ok_cancel(self, "login_ok", "Log in", self.accept)
        self.ok_button.setEnabled(False)
        self.user_edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text)))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.remember_check)
        layout.addWidget(buttons)

    def login(self) -> tuple[str, str]:
        return self.user_edit.text(), self.password_edit.text()


def add_table_row(table: QTableWidget, texts: Sequence[str]) -> None:
    """Append an editable row of ``texts`` to a settings table."""
    row = table.rowCount()
    table.insertRow(row)
    for column, text in enumerate(texts):
        table.setItem(row, column, QTableWidgetItem(text))


def table_row(table: QTableWidget, row: int) -> list[str]:
    """A settings table's row as stripped texts ("" for an empty cell)."""
    cells = [table.item(row, column) for column in range(table.columnCount())]
    return [cell.text().strip() if cell else "" for cell in cells]


def button_row(*buttons: QPushButton) -> QHBoxLayout:
    """Buttons side by side, on the left."""
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    return row


DAY_NAMES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")


class _HoursRow:
    """[x] <what> from [09:00] to [17:00] on [Mo][Tu]…: one schedule's widgets."""

    def __init__(self, key: str, text: str, hours: Optional[Hours], parent: QWidget) -> None:
        self.check = named(QCheckBox(f"{text} from"), f"settings_{key}_hours")
        self.start = named(QTimeEdit(), f"settings_{key}_start")
        self.end = named(QTimeEdit(), f"settings_{key}_end")
        for edit, value in ((self.start, hours.start if hours else dt_time(9)),
                            (self.end, hours.end if hours else dt_time(17))):  # fmt: skip
            edit.setDisplayFormat("HH:mm")
            edit.setTime(QTime(value.hour, value.minute))
        self.days = []
        days = hours.days if hours else EVERY_DAY
        self.layout = QHBoxLayout()
        self.layout.addWidget(self.check)
        self.layout.addWidget(self.start)
        self.layout.addWidget(QLabel("to"))
        self.layout.addWidget(self.end)
        for number, name in enumerate(DAY_NAMES):
            day = named(QCheckBox(name), f"settings_{key}_day{number}")
            day.setChecked(number in days)
            self.days.append(day)
            self.layout.addWidget(day)
        self.layout.addStretch(1)
        self.check.setChecked(hours is not None)

    def hours(self) -> Optional[Hours]:
        """The hours chosen, or None when off (or when no day is ticked)."""
        chosen = frozenset(n for n, day in enumerate(self.days) if day.isChecked())
        if not self.check.isChecked() or not chosen:
            return None
        start, end = self.start.time(), self.end.time()
        return Hours(
            dt_time(start.hour(), start.minute()), dt_time(end.hour(), end.minute()), chosen
        )


BROWSER_HINT = (
    "Lets the fetchq extension of Chromium, Chrome, Brave, Edge, Vivaldi or Firefox hand "
    "downloads to fetchq. Add the extension to the browser too (see the README)."
)


class SettingsDialog(QDialog):
    """Preferences; changes apply when accepted, without a restart."""

    applied = Signal()

    def __init__(
        self,
        settings: Settings,
        tray_available: bool,
        parent: Optional[QWidget] = None,
        browser_installer: Optional[Callable[[], Installer]] = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Settings")
        self._settings = settings
        self._browser_installer = browser_installer

        self.folder_edit = named(QLineEdit(str(settings.download_dir)), "settings_folder")
        self.parallel_spin = named(QSpinBox(), "settings_parallel")
        self.parallel_spin.setRange(1, 32)
        self.parallel_spin.setValue(settings.parallel_downloads)
        self.connections_spin = named(QSpinBox(), "settings_connections")
        self.connections_spin.setRange(1, 32)
        self.connections_spin.setValue(settings.connections_per_file)
        self.limit_check = named(QCheckBox("Limit to"), "settings_limit_check")
        self.limit_value = named(QDoubleSpinBox(), "settings_speed_limit")
        self.limit_unit = named(QComboBox(), "settings_limit_unit")
        self.limit_unit.addItems([unit for unit, _ in SPEED_UNITS])
        limit_kib = settings.speed_limit_kib
        unit_index = 1 if limit_kib == 0 or limit_kib >= 1024 else 0
        self.limit_unit.setCurrentIndex(unit_index)
        self._unit_changed(unit_index)
        self.limit_value.setValue(limit_kib / SPEED_UNITS[unit_index][1] if limit_kib else 2.0)
        self.limit_check.setChecked(limit_kib > 0)
        self.limit_unit.currentIndexChanged.connect(self._unit_changed)
        self.limit_check.toggled.connect(self._limit_toggled)
        self._limit_toggled(limit_kib > 0)
        limit_row = QHBoxLayout()
        limit_row.addWidget(self.limit_check)
        limit_row.addWidget(self.limit_value, 1)
        limit_row.addWidget(self.limit_unit)
        self.folder_browse = named(QPushButton("Browse…"), "settings_browse")
        self.folder_browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_browse)
        self.resume_check = named(
            QCheckBox("Resume unfinished downloads when fetchq starts"), "settings_resume"
        )
        self.resume_check.setChecked(settings.resume_at_start)
        self.tray_check = named(
            QCheckBox("Closing the window keeps fetchq in the tray"), "settings_tray"
        )
        self.tray_check.setChecked(settings.minimize_to_tray and tray_available)
        self.tray_check.setEnabled(tray_available)
        if not tray_available:
            self.tray_check.setToolTip("This desktop has no system tray")
        self.notify_check = named(
            QCheckBox("Tell me when a download finishes or fails"), "settings_notifications"
        )
        self.notify_check.setChecked(settings.notifications)
        self.clipboard_check = named(
            QCheckBox("Offer links I copy, of the file types below"), "settings_clipboard"
        )
        self.clipboard_check.setChecked(settings.watch_clipboard)

        form = QFormLayout()
        form.addRow("Default folder:", folder_row)
        form.addRow("Downloads at once:", self.parallel_spin)
        form.addRow("Connections per file:", self.connections_spin)
        form.addRow("Speed limit:", limit_row)
        general = QVBoxLayout()
        general.addLayout(form)
        for check in (self.resume_check, self.tray_check, self.notify_check, self.clipboard_check):
            general.addWidget(check)
        general.addStretch(1)
        browsers = QVBoxLayout()
        browsers.addLayout(self._browser_row())
        browsers.addStretch(1)
        timing = QVBoxLayout()
        timing.addLayout(self._schedule_box(settings))
        timing.addWidget(QLabel("Queues, each with its own downloads at once and hours:"))
        timing.addLayout(self._queues_box(settings))
        self.tabs = named(QTabWidget(), "settings_tabs")  # fits a 768-pixel screen
        for title, page in (
            ("General", general),
            ("File types", self._categories_box(settings)),
            ("Schedule and queues", timing),
            ("Browsers", browsers),
        ):
            holder = QWidget()
            holder.setLayout(page)
            self.tabs.addTab(holder, title)
        buttons, _ok = ok_cancel(self, "settings_ok", None, self._accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    def _queues_box(self, settings: Settings) -> QVBoxLayout:
        """Named queues: a name, how many of its downloads run at once, and its hours
        (``22:00-06:00``, every day; empty: any time)."""
        self.queues_table = named(QTableWidget(0, 3), "settings_queues")
        self.queues_table.setHorizontalHeaderLabels(["Queue", "At once", "Hours"])
        self.queues_table.horizontalHeader().setStretchLastSection(True)
        self.queues_table.verticalHeader().setVisible(False)
        self.queues_table.setMinimumHeight(90)
        for queue in settings.queues:
            hours = f"{queue.hours.start:%H:%M}-{queue.hours.end:%H:%M}" if queue.hours else ""
            self._add_queue_row(queue.name, str(queue.max_parallel), hours)
        add = named(QPushButton("Add queue"), "settings_queue_add")
        add.clicked.connect(lambda: self._add_queue_row("", "1", ""))
        remove = named(QPushButton("Remove"), "settings_queue_remove")
        remove.clicked.connect(lambda: self.queues_table.removeRow(self.queues_table.currentRow()))
        self.queues_problem = problem_label("settings_queues_problem")
        column = QVBoxLayout()
        column.addWidget(self.queues_table)
        column.addLayout(button_row(add, remove))
        column.addWidget(self.queues_problem)
        return column

    def _add_queue_row(self, name: str, at_once: str, hours: str) -> None:
        add_table_row(self.queues_table, (name, at_once, hours))

    def edited_queues(self) -> tuple[NamedQueue, ...]:
        """The table as named queues; ValueError naming the row that does not read."""
        table = self.queues_table
        found: list[NamedQueue] = []
        for row in range(table.rowCount()):
            name, at_once, hours = table_row(table, row)
            if not name:
                continue
            if name in (q.name for q in found):
                raise ValueError(f"two queues are called {name}")
            if not at_once.isdigit() or int(at_once) < 1:
                raise ValueError(f"{name}: at once is a number, 1 or more")
            span = None
            if hours:
                start, _, end = hours.partition("-")
                span = Hours.parse(start, end)
            found.append(NamedQueue(name, int(at_once), span))
        return tuple(found)

    def _schedule_box(self, settings: Settings) -> QVBoxLayout:
        """Download hours, a speed limit for some hours, and what to do when all is done."""
        self.hours_rows: dict[str, _HoursRow] = {}
        column = QVBoxLayout()
        for key, text in (("downloads", "Download only"), ("limit", "Limit the speed")):
            row = _HoursRow(key, text, settings.hours(key), self)
            self.hours_rows[key] = row
            column.addLayout(row.layout)
        self.scheduled_limit = named(QDoubleSpinBox(), "settings_scheduled_limit")
        self.scheduled_limit.setRange(0.1, 10240)
        self.scheduled_limit.setDecimals(1)
        self.scheduled_limit.setSuffix(" MiB/s")
        self.scheduled_limit.setValue(settings.scheduled_limit_kib / 1024)
        limit_row = QHBoxLayout()
        limit_row.addWidget(QLabel("…to"))
        limit_row.addWidget(self.scheduled_limit)
        limit_row.addStretch(1)
        column.addLayout(limit_row)
        self.when_done = named(QComboBox(), "settings_when_done")
        for value, text in WHEN_DONE.items():
            self.when_done.addItem(text, value)
        self.when_done.setCurrentIndex(max(0, self.when_done.findData(settings.when_done)))
        self.when_done_command = named(QLineEdit(settings.when_done_command), "settings_command")
        self.when_done_command.setPlaceholderText("e.g. systemctl suspend")
        self.when_done.currentIndexChanged.connect(
            lambda _i: self.when_done_command.setEnabled(self.when_done.currentData() == "command")
        )
        self.when_done_command.setEnabled(settings.when_done == "command")
        done_row = QHBoxLayout()
        done_row.addWidget(QLabel("When all downloads are done:"))
        done_row.addWidget(self.when_done)
        done_row.addWidget(self.when_done_command, 1)
        column.addLayout(done_row)
        return column

    def _categories_box(self, settings: Settings) -> QVBoxLayout:
        """Sort by type, and the table of types: a row per category, its folder (under the
        download folder, or absolute) and its extensions and MIME types (``video/``)."""
        self.sort_check = named(
            QCheckBox("Put downloads into folders by type (Video, Music, Documents…)"),
            "settings_sort_by_category",
        )
        self.sort_check.setChecked(settings.sort_by_category)
        self.categories_table = named(QTableWidget(0, 3), "settings_categories")
        self.categories_table.setHorizontalHeaderLabels(
            ["Type", "Folder", "Extensions and MIME types"]
        )
        self.categories_table.horizontalHeader().setStretchLastSection(True)
        self.categories_table.verticalHeader().setVisible(False)
        self.categories_table.setMinimumHeight(150)
        for category in settings.categories:
            words = " ".join(sorted(category.extensions) + list(category.mime_types))
            self._add_category_row(category.name, category.folder, words)
        add = named(QPushButton("Add type"), "settings_category_add")
        add.clicked.connect(lambda: self._add_category_row("", "", ""))
        remove = named(QPushButton("Remove"), "settings_category_remove")
        remove.clicked.connect(
            lambda: self.categories_table.removeRow(self.categories_table.currentRow())
        )
        self.sort_check.toggled.connect(self.categories_table.setEnabled)
        self.categories_table.setEnabled(settings.sort_by_category)
        column = QVBoxLayout()
        column.addWidget(self.sort_check)
        column.addWidget(self.categories_table)
        column.addLayout(button_row(add, remove))
        return column

    def _add_category_row(self, name: str, folder: str, words: str) -> None:
        add_table_row(self.categories_table, (name, folder, words))

    def edited_categories(self) -> tuple[Category, ...]:
        """The table as categories (rows without a type or a folder are left out)."""
        table = self.categories_table
        found = []
        for row in range(table.rowCount()):
            name, folder, words = table_row(table, row)
            if name and folder:
                split = words.replace(",", " ").split()
                found.append(
                    Category.of(
                        name,
                        folder,
                        [w for w in split if "/" not in w],
                        [w for w in split if "/" in w],
                    )
                )
        return tuple(found)

    def _browser_row(self) -> QVBoxLayout:
        """Install or remove the browser integration now (not on OK: it writes outside fetchq's
        own settings), and say what was done."""
        self.browser_install = named(
            QPushButton("Install browser integration"), "settings_browser_install"
        )
        self.browser_remove = named(QPushButton("Remove"), "settings_browser_remove")
        self.browser_result = named(QLabel(BROWSER_HINT), "settings_browser_result")
        self.browser_result.setWordWrap(True)
        self.browser_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.browser_install.clicked.connect(lambda: self._browser_integration(install=True))
        self.browser_remove.clicked.connect(lambda: self._browser_integration(install=False))
        enabled = self._browser_installer is not None
        self.browser_install.setEnabled(enabled)
        self.browser_remove.setEnabled(enabled)
        buttons = QHBoxLayout()
        buttons.addWidget(self.browser_install)
        buttons.addWidget(self.browser_remove)
        buttons.addStretch(1)
        column = QVBoxLayout()
        column.addLayout(buttons)
        column.addWidget(self.browser_result)
        return column

    def _browser_integration(self, install: bool) -> None:
        assert self._browser_installer is not None
        try:
            setup = self._browser_installer()
            outcome = setup.install() if install else setup.uninstall()
        except OSError as exc:
            self.browser_result.setText(f"Could not change the browser integration: {exc}")
            return
        self.browser_result.setText(outcome.text())

    def _unit_changed(self, index: int) -> None:
        """KiB/s step by 64 from 16; MiB/s by a half from 0.1."""
        kib = SPEED_UNITS[index][1] == 1
        self.limit_value.setDecimals(0 if kib else 1)
        if kib:
            self.limit_value.setRange(16, 1024 * 1024)
        else:
            self.limit_value.setRange(0.1, 10240)
        self.limit_value.setSingleStep(64 if kib else 0.5)

    def _limit_toggled(self, on: bool) -> None:
        self.limit_value.setEnabled(on)
        self.limit_unit.setEnabled(on)

    def limit_kib(self) -> int:
        """The limit chosen, in KiB/s; 0 when unlimited."""
        if not self.limit_check.isChecked():
            return 0
        per_unit = SPEED_UNITS[self.limit_unit.currentIndex()][1]
        return max(1, round(self.limit_value.value() * per_unit))

    def _browse(self) -> None:
        choose_folder(self.folder_edit, "Default download folder", "settings_folder_dialog")

    def _accept(self) -> None:
        settings = self._settings
        try:
            queues = self.edited_queues()
        except ValueError as exc:
            self.queues_problem.setText(f"Queues: {exc}")
            self.queues_problem.show()
            self.tabs.setCurrentIndex(2)  # where the problem is
            return
        settings.queues = queues
        folder = self.folder_edit.text().strip()
        if folder:
            settings.download_dir = Path(folder).expanduser()
        settings.parallel_downloads = self.parallel_spin.value()
        settings.connections_per_file = self.connections_spin.value()
        settings.speed_limit_kib = self.limit_kib()
        settings.resume_at_start = self.resume_check.isChecked()
        if self.tray_check.isEnabled():
            settings.minimize_to_tray = self.tray_check.isChecked()
        settings.notifications = self.notify_check.isChecked()
        settings.sort_by_category = self.sort_check.isChecked()
        settings.watch_clipboard = self.clipboard_check.isChecked()
        for key, row in self.hours_rows.items():
            settings.set_hours(key, row.hours())
        settings.scheduled_limit_kib = max(1, round(self.scheduled_limit.value() * 1024))
        settings.when_done = str(self.when_done.currentData())
        settings.when_done_command = self.when_done_command.text().strip()
        settings.categories = self.edited_categories()
        settings.sync()
        self.applied.emit()
        self.accept()
