"""MainWindow: the job table, its toolbar and menus, drag and drop, the status bar and the tray.

The window holds no download logic: actions call the queue, and the table shows what the
bridge reports. Slow work started here (probing URLs, shutting down) runs in an executor,
awaited by async slots, so the window never freezes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import unquote, urlsplit

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QMimeData,
    QPoint,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QTabBar,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from fetchq import (
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    DownloadList,
    DownloadQueueService,
    FetchqError,
    MultiFileDownloadJob,
    UnknownJobIDException,
    category_folder,
    category_for,
    export_list,
    read_list,
    redact_url,
    sanitize_filename,
    url_origin,
)

from .about import about_text
from .actions import (
    ACTIONS,
    ACTIVE,
    CONTEXT_MENU,
    MENUS,
    TERMINAL,
    TOOLBAR,
    Layout,
    enablement,
    tray_enablement,
)
from .bridge import JobSnapshot, QueueBridge
from .browser_install import Installer, installer
from .clipboard import ClipboardOffer, ClipboardWatch
from .dialogs import (
    LIST_FILTERS,
    AddDownloadsDialog,
    AddRequest,
    ChangeLinkDialog,
    LoginDialog,
    SettingsDialog,
    choose_list_file,
)
from .drops import DropOverlay, banner, links_in
from .errors import error_details, human_exception
from .files_pane import FilesPane
from .icons import app_icon, icon
from .logins import LoginStore, origin_key
from .model import ALL_QUEUES, JOB_ID_ROLE, Filter, JobFilterProxy, JobTableModel
from .native_messaging import BrowserRequest
from .notifications import Notifier, finished_messages
from .qt_helpers import async_slot, move_to_trash
from .scheduling import Scheduler, run_detached, when_done_command
from .settings import Settings
from .status import StatusPresenter, plural
from .tray import Tray
from .units import human_size, human_speed
from .urls import ParsedUrls, extract_urls
from .views import JobTableView, fit_columns

HISTORY_PAGE = 200
"""Older downloads read from the journal at a time (a search, or the end of the list)."""
MAX_LIST_BYTES = 20 << 20
"""An imported list larger than this is refused: a list of links is far smaller."""
MAX_IMPORT_ENTRIES = 10_000
"""The most downloads one import queues; a longer list is refused, nothing of it queued."""
IMPORT_SLICE_S = 0.03
"""How long an import queues on the GUI thread before letting it draw and take input."""


def _read_list_file(path: Path) -> DownloadList:
    """A list file read and parsed (run off the GUI thread: it may take seconds)."""
    if path.stat().st_size > MAX_LIST_BYTES:
        raise ValueError(f"over {MAX_LIST_BYTES // (1 << 20)} MiB: not a download list")
    text = path.read_text(encoding="utf-8", errors="replace")
    return read_list(text, max_entries=MAX_IMPORT_ENTRIES)


def refill(combo: QComboBox, choices: Sequence[tuple[str, object]], first: object) -> None:
    """Put ``(text, data)`` choices in a filter's combo box, keeping the one chosen (``first``
    for a combo still empty), without a change signal for the refill itself."""
    current = combo.currentData() if combo.count() else first
    combo.blockSignals(True)
    combo.clear()
    for text, data in choices:
        combo.addItem(text, data)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


def _format_of(name_filter: str) -> str:
    """The export format a file dialog's name filter stands for."""
    for format, text in LIST_FILTERS.items():
        if text == name_filter:
            return format
    return "json"


# Some platforms map these standard keys to nothing (Quit on Windows, Preferences off macOS).
STANDARD_KEY_FALLBACKS = {
    QKeySequence.StandardKey.Quit: "Ctrl+Q",
    QKeySequence.StandardKey.Preferences: "Ctrl+,",
}


def _site(url: str) -> str:
    """The host a link connects to, as fetchq reads it, for a person to read."""
    origin = url_origin(url)
    return origin[1] if origin is not None else "?"


class MainWindow(QMainWindow):
    """fetchq's window around a DownloadQueueService.

    ``owns_queue`` makes quitting close the queue (pausing running downloads, keeping their
    part files); tests and embedders that manage the queue themselves leave it False.
    """

    closed = Signal()
    list_imported = Signal(int)  # an import_list is done: how many downloads it queued

    def __init__(
        self,
        queue: DownloadQueueService,
        download_dir: Union[str, os.PathLike[str], None] = None,
        *,
        settings: Optional[Settings] = None,
        owns_queue: bool = False,
        refresh_ms: int = 150,
        parent: Optional[QWidget] = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowTitle("fetchq")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.queue = queue
        self.settings = settings if settings is not None else Settings()
        self.download_dir = Path(download_dir) if download_dir else self.settings.download_dir
        self._owns_queue = owns_queue
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetchq-gui")
        self._closing = False
        self._closed = False
        self._told_about_tray = False
        self._pending_removal: set[int] = set()
        self._finished_batch: list[JobSnapshot] = []
        self._dialogs: list[QWidget] = []
        self._actions: dict[str, QAction] = {}
        self._drag_cache: Optional[tuple[object, ParsedUrls]] = None
        self._cleared: set[int] = set()

        self.model = JobTableModel(self, refresh_ms=refresh_ms)
        self.proxy = JobFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        # The files of multi-file jobs: one model for all, shown a package at a time.
        self.files_model = JobTableModel(self, refresh_ms=refresh_ms)
        self.bridge = QueueBridge(self)
        self.bridge.job_changed.connect(self._job_changed)
        self.bridge.job_finished.connect(self._job_finished)
        self.bridge.attach(queue)  # before listing, so no change falls between the two
        jobs = queue.list_jobs()
        packages = queue.list_multifile_jobs()
        for package in packages:
            self.files_model.add(
                JobSnapshot.of(file, package.download_path) for file in package.parts
            )
        rows = [
            *(JobSnapshot.of_package(job) for job in packages),
            *(JobSnapshot.of(job) for job in jobs if job.package_id is None),
        ]
        self.model.add(sorted(rows, key=lambda snapshot: snapshot.id))

        self._build_table()
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self.status = StatusPresenter(self.statusBar(), self)
        self.speed_label, self.counts_label = self.status.speed_label, self.status.counts_label
        self.tray = Tray(app_icon(), self)
        self.tray.toggle_requested.connect(self.toggle_visible)
        self.tray.show_requested.connect(self.bring_to_front)
        self.tray.pause_all_requested.connect(self.pause_all)
        self.tray.resume_all_requested.connect(self.resume_all)
        self.tray.quit_requested.connect(self.quit_app)
        self.notifier = Notifier(self.tray, self.statusBar(), self)
        self.logins = LoginStore(self.settings)
        self.scheduler = Scheduler(self.queue, parent=self)
        self.scheduler.allowed_changed.connect(self._schedule_changed)
        self._was_busy = False
        self._history_rows: set[int] = set()
        self._history_more = True
        self._history_loading = False
        self._login_dialogs: dict[str, LoginDialog] = {}
        self._remembered_tried: set[int] = set()
        self.browser_installer: Callable[[], Installer] = installer
        """Makes the installer the Settings button uses (the app gives it the profile)."""
        self.notifier.open_requested.connect(self._open_path)
        self.notifier.show_in_folder_requested.connect(self._open_folder_of)
        self._notify_timer = QTimer(self, singleShot=True, interval=400)
        self._notify_timer.timeout.connect(self._notify_finished)

        self.model.flushed.connect(self._refresh)
        self.apply_settings()
        self._restore_window_state()
        self._refresh()

    # -- construction -------------------------------------------------------------------------

    def _build_table(self) -> None:
        self.table = JobTableView(self)
        self.table.setObjectName("job_table")
        self.table.setModel(self.proxy)
        self.table.customContextMenuRequested.connect(self.show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.open_file())
        self.table.verticalScrollBar().valueChanged.connect(self._at_the_end)
        self.table.enable_reordering(JOB_ID_ROLE)
        self.table.reorder_requested.connect(self.reorder)
        fit_columns(self.table)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._refresh())

        self.filter_tabs = QTabBar(self)
        self.filter_tabs.setObjectName("filter_tabs")
        self.filter_tabs.setDocumentMode(True)
        self.filter_tabs.setExpanding(False)
        for mode in Filter:
            self.filter_tabs.addTab(mode.value)
        self.filter_tabs.currentChanged.connect(lambda i: self.set_filter(list(Filter)[i]))
        self.category_filter = QComboBox(self)
        self.category_filter.setObjectName("category_filter")
        self.category_filter.setToolTip("Show downloads of one type only")
        self.category_filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_category(self.category_filter.currentData())
        )

        self.files_pane = FilesPane(self.queue, self.files_model, self)
        self.files_pane.acted.connect(self._refresh_rows)
        self.files_pane.open_requested.connect(self._open_path)
        self.files_proxy, self.files_table = self.files_pane.proxy, self.files_pane.table
        self.files_label = self.files_pane.label
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("splitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.files_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)

        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        filter_row = QHBoxLayout()
        filter_row.setContentsMargins(0, 0, 4, 0)
        filter_row.addWidget(self.filter_tabs)
        filter_row.addStretch(1)
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("search_edit")
        self.search_edit.setPlaceholderText("Search name or link")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMinimumWidth(200)
        self.search_edit.setMaximumWidth(280)
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self._search)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        filter_row.addWidget(self.search_edit)
        filter_row.addWidget(self.category_filter)
        self.queue_filter = QComboBox(self)
        self.queue_filter.setObjectName("queue_filter")
        self.queue_filter.setToolTip("Show one queue's downloads only")
        self.queue_filter.currentIndexChanged.connect(
            lambda _i: self.proxy.set_group(self.queue_filter.currentData())
        )
        filter_row.addWidget(self.queue_filter)
        layout.addLayout(filter_row)
        self.clipboard_offer = ClipboardOffer(central)
        self.clipboard_offer.accepted.connect(self.add_urls)
        self.clipboard_watch = ClipboardWatch(self.clipboard_offer)
        layout.addWidget(self.clipboard_offer)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)

    def _build_actions(self) -> None:
        """One QAction per entry of the actions table, calling the window's method."""
        for spec in ACTIONS:
            action = QAction(icon(spec.icon), spec.text, self)
            action.setObjectName(spec.name)
            action.setProperty("icon_name", spec.icon)
            tip = spec.tip
            if spec.shortcut is not None:
                sequence = QKeySequence(spec.shortcut)
                if sequence.isEmpty() and isinstance(spec.shortcut, QKeySequence.StandardKey):
                    sequence = QKeySequence(STANDARD_KEY_FALLBACKS.get(spec.shortcut, ""))
                action.setShortcut(sequence)
                if not sequence.isEmpty():
                    tip += f" ({sequence.toString(QKeySequence.SequenceFormat.NativeText)})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
            slot: Callable[[], Any] = getattr(self, spec.slot)
            action.triggered.connect(lambda _checked=False, run=slot: run())
            self.addAction(action)
            self._actions[spec.name] = action

    def _fill(self, target: Union[QMenu, QToolBar], layout: Layout) -> None:
        for name in layout:
            if name is None:
                target.addSeparator()
            else:
                target.addAction(self.action(name))

    def action(self, name: str) -> QAction:
        return self._actions[name]

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._fill(toolbar, TOOLBAR)
        self.addToolBar(toolbar)
        self.toolbar = toolbar

    def _build_menus(self) -> None:
        bar = self.menuBar()
        for name, (title, layout) in MENUS.items():
            menu = bar.addMenu(title)
            menu.setObjectName(name)
            self._fill(menu, layout)
        view = bar.addMenu("&View")
        view.setObjectName("menu_view")
        for number, mode in enumerate(Filter, start=1):
            show = QAction(f"{mode.value} downloads", self)
            show.setObjectName(f"action_show_{mode.name.lower()}")
            show.setShortcut(QKeySequence(f"Alt+{number}"))
            show.triggered.connect(lambda _checked=False, m=mode: self.set_filter(m))
            view.addAction(show)
        help_menu = bar.addMenu("&Help")
        help_menu.setObjectName("menu_help")
        about = QAction("About fetchq", self)
        about.setObjectName("action_about")
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def show_about(self) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About fetchq",
            about_text(),
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("about_box")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        self._keep(box)
        box.open()
        return box

    # -- selection and state --------------------------------------------------------------

    def selected_ids(self) -> list[int]:
        rows = self.table.selectionModel().selectedRows()
        return [int(index.data(JOB_ID_ROLE)) for index in rows]

    def selected_snapshots(self) -> list[JobSnapshot]:
        found = (self.model.snapshot(job_id) for job_id in self.selected_ids())
        return [s for s in found if s is not None]

    def select_jobs(self, job_ids: Iterable[int]) -> None:
        """Select the rows of these jobs (tests and the single-instance handoff use it)."""
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for job_id in job_ids:
            row = self.model.row_of(job_id)
            if row is not None:
                index = self.proxy.mapFromSource(self.model.index(row, 0))
                if index.isValid():
                    selection.select(index, flags)

    def _jobs(self, snapshots: Iterable[JobSnapshot]) -> list[DownloadJobBase]:
        """The queue's jobs behind rows: downloads, and multi-file jobs (one row each)."""
        jobs: list[DownloadJobBase] = []
        for snapshot in snapshots:
            try:
                if snapshot.is_package:
                    jobs.append(self.queue.id_to_multifile_job(snapshot.id))
                else:
                    jobs.append(self.queue.id_to_job(snapshot.id))
            except UnknownJobIDException:
                continue
        return jobs

    def _refresh_rows(self, jobs: Iterable[DownloadJobBase]) -> None:
        for job in jobs:
            if isinstance(job, MultiFileDownloadJob):
                self.model.update(JobSnapshot.of_package(job))
                for file in job.parts:
                    self.files_model.update(JobSnapshot.of(file, job.download_path))
            elif isinstance(job, DownloadJob):
                if job.package_id is None:
                    self.model.update(JobSnapshot.of(job))
                else:
                    with contextlib.suppress(UnknownJobIDException):
                        self._refresh_rows([self.queue.id_to_multifile_job(job.package_id)])
        self.model.flush()
        self.files_model.flush()

    def _refresh(self) -> None:
        """Enable the actions that can act on the selection; update the status bar and tray."""
        everything = self.model.snapshots()
        for name, enabled in enablement(self.selected_snapshots(), everything).items():
            self.action(name).setEnabled(enabled)
        self.tray.set_enabled(*tray_enablement(everything))
        speed = human_speed(self.model.total_speed())
        text = self.status.show_counts(everything, speed)
        self.tray.set_status(f"{text}{' · ' + speed if speed else ''}")
        self._show_files()
        self._check_all_done(everything)

    def _check_all_done(self, everything: Sequence[JobSnapshot]) -> None:
        """Once every download is done (none waits or runs, and the schedule holds none
        back), do what the user chose: nothing, quit, or run their command."""
        busy = any(s.status in ACTIVE for s in everything)
        was_busy, self._was_busy = self._was_busy, busy
        if not was_busy or busy or not self.scheduler.allowed:
            return
        choice = self.settings.when_done
        if choice == "quit":
            self.notifier.notify("All downloads are done", "fetchq quits, as asked")
            QTimer.singleShot(0, self.quit_app)
        elif choice == "command":
            command = self.settings.when_done_command
            try:
                run_detached(when_done_command(command))
            except (OSError, ValueError) as exc:
                self.notifier.notify(
                    "All downloads are done", f"but “{command}” did not run: {exc}", failed=True
                )
                return
            self.status.message(f"All downloads are done: ran {command}")

    def _job_changed(self, snapshot: JobSnapshot) -> None:
        if snapshot.package_id is not None:
            self.files_model.update(snapshot)
            return
        if snapshot.id in self._cleared:
            return  # cleared, undo pending: a late report must not bring the row back
        before = self.model.snapshot(snapshot.id)
        self.model.update(snapshot)
        if (
            snapshot.status == DownloadJobStatus.ERROR
            and snapshot.auth_challenge
            and (before is None or before.auth_challenge != snapshot.auth_challenge
                 or before.status != snapshot.status)
        ):  # fmt: skip
            self._login_needed(snapshot.id, snapshot.source, snapshot.auth_challenge)
        if snapshot.id in self._pending_removal and snapshot.status in TERMINAL:
            self._pending_removal.discard(snapshot.id)
            self.model.remove([snapshot.id])

    # -- adding ---------------------------------------------------------------------------

    def add_urls(
        self,
        urls: Sequence[str],
        folder: Optional[Path] = None,
        *,
        priority: int = 10,
        file_name: Optional[str] = None,
        connections: Optional[int] = None,
        checksum: Optional[str] = None,
        access_token: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
        cookies: Optional[str] = None,
        group: Optional[str] = None,
    ) -> list[DownloadJob]:
        """Queue URLs into a folder (the default one if not given); returns the new jobs.
        ``headers`` and ``cookies`` go with each, to its own site only."""
        target = folder or self.download_dir
        jobs: list[DownloadJob] = []
        problems: list[str] = []
        try:
            if file_name:
                (url,) = urls
                jobs = [
                    self.queue.download(
                        url,
                        target / file_name,
                        priority=priority,
                        access_token=access_token,
                        checksum=checksum,
                        max_connections=connections,
                        headers=headers,
                        cookies=cookies,
                        group=group,
                    )
                ]
            else:
                jobs = self.queue.download_many(
                    urls,
                    f"{target}{os.sep}",
                    priority=priority,
                    access_token=access_token,
                    checksum=checksum,
                    max_connections=connections,
                    headers=headers,
                    cookies=cookies,
                    by_category=self._by_category(target),
                    group=group,
                )
        except (FetchqError, ValueError) as exc:
            problems.append(str(exc))
        self._show_added(jobs)
        self._keep_link_passwords(jobs)
        if problems:
            self._warn("Some links were not added", "\n".join(problems[:10]))
        return jobs

    def _keep_link_passwords(self, jobs: Sequence[DownloadJob]) -> None:
        """A password written in a link (``ftp://user:pass@host/``) is not kept in the journal:
        it goes to the keychain, where a restarted download that needs it finds it."""
        logins = {
            (origin_key(str(job.source)), job.source.username or "", job.source.password)
            for job in jobs
            if job.source.password
        }
        for origin, user, password in logins:
            self._remember_login(origin, unquote(user), unquote(password))

    def add_browser_downloads(
        self, requests: Sequence[BrowserRequest], *, continue_expired: bool = True
    ) -> list[DownloadJob]:
        """Queue downloads handed over by the browser extension into the default folder, each
        with the cookies, user agent and referrer the browser would have sent (to its origin
        only, in memory only). Says so without taking the focus from the browser."""
        jobs: list[DownloadJob] = []
        problems: list[str] = []
        for request in requests:
            expired = self._expired_twin(request) if continue_expired else None
            if expired is not None:  # a fresh link to a file whose link expired: continue it
                self._relink_from_browser(expired.id, request)
                continue
            name = sanitize_filename(request.file_name)
            folder = self._category_folder(name) if name else self.download_dir
            target = folder / name if name else f"{self.download_dir}{os.sep}"
            try:
                if name:
                    folder.mkdir(parents=True, exist_ok=True)
                jobs.append(
                    self.queue.download(
                        request.url,
                        target,
                        headers=request.headers,
                        cookies=request.cookie_pairs,
                        by_category=self._by_category(self.download_dir),
                    )
                )
            except (FetchqError, ValueError, OSError) as exc:
                problems.append(f"{request.origin[1]}: {exc}")
        self._show_added(jobs)
        if jobs:
            what = requests[0].shown_name if len(jobs) == 1 else plural(len(jobs), "download")
            self.notifier.notify("Download from the browser", f"Added {what}")
        if problems:
            self.notifier.notify(
                "A download from the browser was not added", "\n".join(problems[:5]), failed=True
            )
        return jobs

    def _schedule_changed(self, allowed: bool) -> None:
        hours = self.settings.hours("downloads")
        span = f"{hours.start:%H:%M}-{hours.end:%H:%M}" if hours else ""
        if allowed:
            self.status.message(f"Download hours ({span}): downloads go on")
        else:
            self.status.message(f"Outside the download hours ({span}): downloads wait", 0)

    def reorder(self, dragged: Sequence[int], before: Optional[int]) -> None:
        """Dragged rows run before the row they were dropped on (at the end when dropped
        below the rows): unfinished downloads get priorities 0, 1, 2... in the new order."""
        order = [
            s.id
            for s in sorted(self.model.snapshots(), key=lambda s: (s.priority, s.id))
            if s.status not in TERMINAL and s.package_id is None
        ]
        moving = [job_id for job_id in order if job_id in set(dragged)]
        if not moving or before in moving:
            return
        rest = [job_id for job_id in order if job_id not in set(moving)]
        at = rest.index(before) if before in rest else len(rest)
        new_order = rest[:at] + moving + rest[at:]
        for priority, snapshot in enumerate(self.model.snapshot(i) for i in new_order):
            if snapshot is None or snapshot.priority == priority:
                continue
            jobs = self._jobs([snapshot])
            if jobs:
                self.queue.set_priority(jobs[0], priority)
        self._refresh_rows(self._jobs([s for s in map(self.model.snapshot, new_order) if s]))
        self.status.message(f"Moved {plural(len(moving), 'download')} in the queue")

    # -- history ----------------------------------------------------------------------------

    def _search(self) -> None:
        """Filter the list by the search text, and look for older downloads in the journal."""
        text = self.search_edit.text().strip()
        self.proxy.set_search(text)
        self._drop_history_rows()
        if text:
            self._load_history(text, 0)

    def _at_the_end(self, value: int) -> None:
        """Scrolled to the end: the next page of older downloads, from the journal."""
        if value and value == self.table.verticalScrollBar().maximum() and self._history_more:
            self._load_history(self.search_edit.text().strip(), len(self._history_rows))

    @async_slot(str, int)
    async def _load_history(self, search: str, offset: int) -> None:
        if self._history_loading:
            return
        self._history_loading = True
        try:
            loop = asyncio.get_running_loop()
            page = await loop.run_in_executor(
                self._executor,
                functools.partial(self.queue.history, search, offset, HISTORY_PAGE),
            )
        finally:
            self._history_loading = False
        if search != self.search_edit.text().strip():
            return  # typed on meanwhile: a newer search is on its way
        self._history_more = len(page) == HISTORY_PAGE
        fresh = [JobSnapshot.of(job) for job in page if job.id not in self._history_rows]
        self._history_rows.update(snapshot.id for snapshot in fresh)
        self.model.add(fresh)

    def _drop_history_rows(self) -> None:
        """Rows read from the journal go when the search changes: memory stays small."""
        if self._history_rows:
            self.model.remove(list(self._history_rows))
            self._history_rows.clear()
        self._history_more = True

    def _by_category(self, folder: Path) -> bool:
        """Downloads into the default folder go into their category's folder (a setting)."""
        return self.settings.sort_by_category and Path(folder) == self.download_dir

    def _category_folder(self, name: str) -> Path:
        """The folder for a file whose name is known already (from the browser)."""
        if not self.settings.sort_by_category:
            return self.download_dir
        category = category_for(name, None, self.queue.categories)
        return category_folder(self.download_dir, category) if category else self.download_dir

    def _fill_queue_filter(self) -> None:
        queues = self.settings.queues
        choices = [("All queues", ALL_QUEUES), ("Main queue", None)]
        refill(self.queue_filter, choices + [(q.name, q.name) for q in queues], ALL_QUEUES)
        self.queue_filter.setVisible(bool(queues))
        self.proxy.set_group(self.queue_filter.currentData())

    def _fill_category_filter(self) -> None:
        choices = [("All types", None)] + [(c.name, c.name) for c in self.queue.categories]
        refill(self.category_filter, choices, None)
        self.proxy.set_category(self.category_filter.currentData())

    def _expired_twin(self, request: BrowserRequest) -> Optional[DownloadJob]:
        """The download whose link expired that ``request`` is a new link for: the same file
        name and, when the browser knew it, the same size."""
        name = sanitize_filename(request.shown_name)
        for job in self.queue.list_jobs():
            if (
                job.link_expired
                and job.download_path is not None
                and job.download_path.name == name
                and (request.size is None or job.total_bytes in (0, request.size))
            ):
                return job
        return None

    @async_slot(int, object)
    async def _relink_from_browser(self, job_id: int, request: BrowserRequest) -> None:
        """A link the browser captured for a download whose link expired: the user decides
        whether it continues that download (a page chose the link, not the user)."""
        loop = asyncio.get_running_loop()
        job = self.queue.id_to_job(job_id)
        if not await self._relink_wanted(job, request.url):
            self.add_browser_downloads([request], continue_expired=False)
            return
        change = functools.partial(
            self.queue.change_source,
            job,
            request.url,
            headers=request.headers,
            cookies=request.cookie_pairs,
            prove_whole_file=True,
        )
        try:
            await loop.run_in_executor(self._executor, change)
        except (FetchqError, ValueError) as exc:  # not the same file after all: a new download
            self.notifier.notify(
                "A new link from the browser did not fit", f"{job.name}: {exc}", failed=True
            )
            self.add_browser_downloads([request], continue_expired=False)
            return
        self.model.update(JobSnapshot.of(job))
        self.notifier.notify(
            "Download from the browser",
            f"{job.name}: {job.resume_message}"
            if job.resume_message
            else f"Continuing {job.name} with the new link",
        )

    async def _relink_wanted(self, job: DownloadJob, url: str) -> bool:
        """Ask whether ``url`` from the browser continues ``job``, naming both sites; no
        answer (the box closed) is a download of its own."""
        old_host = _site(job.canonical_url or str(job.source))
        new_host = _site(url)
        text = (
            f"The browser has a new link for {job.name}, whose link expired.\n\n"
            f"Its link was on {old_host}; the new one is on {new_host}.\n\n"
        )
        if old_host != new_host:
            text += (
                "That is another site: fetchq continues from what it has only if the whole "
                "file can be checked (a checksum, or the same version tag as the old link); "
                "otherwise it downloads the file again from the start."
            )
        box = QMessageBox(QMessageBox.Icon.Question, "A new link from the browser", text)
        box.setObjectName("relink_question")
        box.setParent(self, box.windowFlags())
        go_on = box.addButton("Continue the download", QMessageBox.ButtonRole.AcceptRole)
        go_on.setObjectName("relink_continue")
        apart = box.addButton("Download separately", QMessageBox.ButtonRole.RejectRole)
        apart.setObjectName("relink_separately")
        box.setDefaultButton(apart)
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def answered(_result: int) -> None:
            if not answer.done():
                answer.set_result(box.clickedButton() is go_on)

        box.finished.connect(answered)
        self._keep(box)
        box.open()
        return await answer

    def _show_added(self, jobs: Sequence[DownloadJob], probe: bool = True) -> None:
        """New downloads get their rows and a word in the status bar; the server is asked
        for the names and sizes of those that wait (``probe``)."""
        self.model.add(JobSnapshot.of(job) for job in jobs)
        if jobs:
            self.status.added(len(jobs))
            if probe:
                self._probe_waiting([job.id for job in jobs])

    def add_package(
        self,
        urls: Sequence[str],
        name: str,
        folder: Optional[Path] = None,
        *,
        priority: int = 10,
        access_token: Optional[str] = None,
    ) -> Optional[MultiFileDownloadJob]:
        """Queue URLs as one multi-file job, into the folder ``name`` under ``folder``: the
        server names each file."""
        return self.add_multifile(
            [(url, f"{name}/") for url in urls],
            folder,
            priority=priority,
            access_token=access_token,
        )

    def add_multifile(
        self,
        parts: Sequence[tuple[str, str]],
        folder: Optional[Path] = None,
        *,
        priority: int = 10,
        access_token: Optional[str] = None,
    ) -> Optional[MultiFileDownloadJob]:
        """Queue ``(url, relative path)`` pairs as one multi-file job under ``folder``."""
        try:
            package = self.queue.multifile_download(
                parts, folder or self.download_dir, access_token, priority=priority
            )
        except (FetchqError, ValueError) as exc:
            self._warn("The package was not added", str(exc))
            return None
        self.files_model.add(JobSnapshot.of(file, package.download_path) for file in package.parts)
        self.model.add([JobSnapshot.of_package(package)])
        self.status.added(1)
        return package

    def open_add_dialog(self, text: str = "") -> AddDownloadsDialog:
        folder = self.settings.last_add_folder or self.download_dir
        dialog = AddDownloadsDialog(self.settings, folder, self, text=text)
        dialog.requested.connect(self._add_request)
        dialog.probe_wanted.connect(lambda url: self._probe_for_dialog(dialog, url))
        self._keep(dialog)
        dialog.open()
        return dialog

    def paste_links(self) -> None:
        text = QGuiApplication.clipboard().text()
        if extract_urls(text).urls:
            self.open_add_dialog(text)
        else:
            self.status.message("The clipboard holds no links to download")

    def _add_request(self, request: AddRequest) -> None:
        self.settings.last_add_folder = request.folder
        if request.package_name:
            self.add_package(
                request.urls,
                request.package_name,
                request.folder,
                priority=request.priority,
                access_token=request.access_token,
            )
            return
        self.add_urls(
            request.urls,
            request.folder,
            priority=request.priority,
            file_name=request.file_name,
            connections=request.connections,
            checksum=request.checksum,
            access_token=request.access_token,
            headers=dict(request.headers),
            cookies=request.cookies,
            group=request.group,
        )

    @async_slot(object, str)
    async def _probe_for_dialog(self, dialog: AddDownloadsDialog, url: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self.queue.probe, url)
        except Exception as exc:  # the server's answer, whatever it is, is shown, not raised
            dialog.show_probe(url, None, "", human_exception(exc))
            return
        dialog.show_probe(url, result.name, human_size(result.size), None)

    @async_slot(object)
    async def _probe_waiting(self, job_ids: list[int]) -> None:
        """Learn the names and sizes of queued jobs that have not started yet."""
        loop = asyncio.get_running_loop()
        for job_id in job_ids[:50]:
            snapshot = self.model.snapshot(job_id)
            if snapshot is None or snapshot.status != DownloadJobStatus.WAITING:
                continue
            try:
                job = self.queue.id_to_job(job_id)
                # with what the job itself sends: a link behind a login or cookies answers
                # nothing useful (or an error) without them
                ask = functools.partial(
                    self.queue.probe,
                    snapshot.source,
                    job.access_token,
                    headers=job.headers,
                    cookies=job.cookies,
                )
                result = await loop.run_in_executor(self._executor, ask)
            except Exception:
                continue
            self.model.set_probe(job_id, result.name, result.size)

    # -- drag and drop --------------------------------------------------------------------

    def _links(self, mime: QMimeData) -> ParsedUrls:
        """What a drag carries, read once per drag (moves ask again and again)."""
        key = (tuple(url.toString() for url in mime.urls()), mime.text())
        if self._drag_cache is None or self._drag_cache[0] != key:
            self._drag_cache = (key, links_in(mime))
        return self._drag_cache[1]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._drag_cache = None
        parsed = self._links(event.mimeData())
        text, accepted = banner(parsed, self.download_dir)
        self.drop_overlay.present(text, accepted)
        if accepted:
            event.acceptProposedAction()
        else:
            event.ignore()
            QTimer.singleShot(1500, self.drop_overlay.hide)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._links(event.mimeData()).urls:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()
        self._drag_cache = None
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        parsed = self._links(event.mimeData())
        self._drag_cache = None
        if not parsed.urls:
            event.ignore()
            self.status.message("Nothing to download in what was dropped")
            return
        event.acceptProposedAction()
        name = sanitize_filename(parsed.list_name) if parsed.list_name else None
        if name and len(parsed.urls) > 1:
            self.add_package(parsed.urls, name)  # a list file is one thing: one package
        else:
            self.add_urls(parsed.urls)
        if parsed.refused:
            first = parsed.refused[0]
            self.status.message(
                f"Not added: {plural(len(parsed.refused), 'line')} ({first.text}: {first.reason})"
            )

    # -- job control ----------------------------------------------------------------------

    def pause_selected(self) -> None:
        for job in self._jobs(self.selected_snapshots()):
            self.queue.pause_job(job)

    def resume_selected(self) -> None:
        jobs = self._jobs(self.selected_snapshots())
        for job in jobs:
            self.queue.resume_job(job)
        self._refresh_rows(jobs)

    def retry_selected(self) -> None:
        jobs = self._jobs(self.selected_snapshots())
        for job in jobs:
            self.queue.retry_job(job)
        self._refresh_rows(jobs)

    def cancel_selected(self) -> None:
        for job in self._jobs(self.selected_snapshots()):
            self.queue.cancel_job(job)

    def confirm_cancel_all(self) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Cancel all downloads?",
            "Every unfinished download stops, and its partial file is deleted.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self,
        )
        box.setObjectName("confirm_cancel_all")
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Cancel all")
        box.button(QMessageBox.StandardButton.No).setText("Keep downloading")
        box.accepted.connect(self.queue.cancel_all_jobs)
        self._keep(box)
        box.open()
        return box

    def prune(self) -> None:
        """Clear completed downloads from the list (their files stay; failed and cancelled
        ones stay listed, as they still need a decision). Undo brings them back for a few
        seconds; the queue forgets them only then."""
        done = [s for s in self.model.snapshots() if s.status == DownloadJobStatus.COMPLETED]
        if not done:
            return
        ids = {s.id for s in done}
        self._cleared |= ids
        self.model.remove(ids)
        self._show_files()

        def undo() -> None:
            self._cleared -= ids
            self.model.reinsert(done)
            self.status.message(f"Back in the list: {plural(len(done), 'download')}")

        def commit() -> None:
            self._cleared -= ids
            for job in self._jobs(done):
                with contextlib.suppress(UnknownJobIDException):
                    self.queue.remove_job(job)
                if isinstance(job, MultiFileDownloadJob):
                    self.files_model.remove(file.id for file in job.download_parts)

        self.status.offer_undo(
            f"Cleared {plural(len(done), 'completed download')} (the files stay)", undo, commit
        )

    def remove_selected(self) -> None:
        finished = []
        for snapshot in self.selected_snapshots():
            jobs = self._jobs([snapshot])
            if not jobs:  # a finished download from the history in the journal
                self.queue.forget_history([snapshot.id])
                finished.append(snapshot.id)
                continue
            job = jobs[0]
            if isinstance(job, MultiFileDownloadJob):
                self.queue.remove_job(job)  # the files on disk stay
                finished.append(job.id)
                self.files_model.remove(file.id for file in job.download_parts)
                continue
            assert isinstance(job, DownloadJob)
            if not job.in_terminal_state:
                self._pending_removal.add(job.id)
            self.queue.remove_job(job)
            if job.in_terminal_state:
                finished.append(job.id)
        self.model.remove(finished)
        self._show_files()

    # -- the files of a multi-file job ------------------------------------------------------

    def _show_files(self) -> None:
        """Show the files of the one multi-file job selected, if that is what is selected."""
        selected = self.selected_snapshots()
        package = selected[0] if len(selected) == 1 and selected[0].is_package else None
        self.files_pane.show_package(package)

    def _open_path(self, path: Optional[str], what: str = "file") -> bool:
        """Open a file or folder with the desktop's program for it; say so when that fails
        (no file manager, nothing set up for the type), with the path on the clipboard."""
        if not path:
            return False
        if not Path(path).exists():
            self.status.message(f"The {what} is no longer there: {path}", 8000)
            return False
        if QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            return True
        QGuiApplication.clipboard().setText(path)
        self._warn(
            f"Could not open the {what}",
            f"No program on this desktop opens it:\n{path}\n\n"
            "The path is on the clipboard, to paste into a file manager or a terminal.",
        )
        return False

    def _open_folder_of(self, path: str) -> None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        self._open_path(str(folder), "folder")

    def raise_priority(self) -> None:
        self.shift_priority(-1)

    def lower_priority(self) -> None:
        self.shift_priority(+1)

    def shift_priority(self, delta: int) -> None:
        jobs = [j for j in self._jobs(self.selected_snapshots()) if j.status not in TERMINAL]
        for job in jobs:
            self.queue.set_priority(job, max(0, job.priority + delta))
        self._refresh_rows(jobs)

    def set_priority(self, priority: int) -> None:
        jobs = [j for j in self._jobs(self.selected_snapshots()) if j.status not in TERMINAL]
        for job in jobs:
            self.queue.set_priority(job, priority)
        self._refresh_rows(jobs)

    def ask_priority(self) -> QInputDialog:
        selected = self.selected_snapshots()
        dialog = QInputDialog(self)
        dialog.setObjectName("priority_dialog")
        dialog.setWindowTitle("Set priority")
        dialog.setLabelText("Priority (lower numbers start first):")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setIntRange(0, 1000)
        dialog.setIntValue(selected[0].priority if selected else 10)
        dialog.intValueSelected.connect(self.set_priority)
        self._keep(dialog)
        dialog.open()
        return dialog

    def pause_all(self) -> None:
        self.queue.pause_all_jobs()

    def resume_all(self) -> None:
        self.queue.resume_all_jobs()
        self._refresh_rows(self.queue.list_jobs())

    def open_file(self) -> None:
        selected = self.selected_snapshots()
        if len(selected) != 1 or selected[0].status != DownloadJobStatus.COMPLETED:
            return
        self._open_path(selected[0].download_path)

    def open_folder(self) -> None:
        selected = self.selected_snapshots()
        if len(selected) != 1:
            return
        snapshot = selected[0]
        self._open_folder_of(snapshot.download_path or snapshot.dest)

    def copy_urls(self) -> None:
        sources = [s.source for s in self.selected_snapshots()]
        if sources:
            QGuiApplication.clipboard().setText("\n".join(sources))

    def copy_error_details(self) -> None:
        failed = [s for s in self.selected_snapshots() if s.error_type]
        if failed:
            details = [error_details(s.source, s.error_type, s.error) for s in failed]
            QGuiApplication.clipboard().setText("\n\n".join(details))
            self.status.message("Error details copied")

    def change_link(self) -> Optional[ChangeLinkDialog]:
        """Ask for a new link for the selected download (one whose link expired, or failed)."""
        selected = self.selected_snapshots()
        if len(selected) != 1 or selected[0].is_package:
            return None
        snapshot = selected[0]
        dialog = ChangeLinkDialog(snapshot.name, snapshot.source, snapshot.link_expired, self)
        dialog.requested.connect(lambda url: self._change_link(dialog, snapshot.id, url))
        self._keep(dialog)
        dialog.open()
        return dialog

    @async_slot(object, int, str)
    async def _change_link(self, dialog: ChangeLinkDialog, job_id: int, url: str) -> None:
        """Check the new link off the GUI thread; the dialog closes when the download goes on."""
        loop = asyncio.get_running_loop()
        try:
            job = self.queue.id_to_job(job_id)
            await loop.run_in_executor(
                self._executor, functools.partial(self.queue.change_source, job, url)
            )
        except (FetchqError, ValueError) as exc:
            dialog.show_problem(f"This link cannot be used: {exc}.")
            return
        dialog.accept()
        self.model.update(JobSnapshot.of(job))
        self.status.message(f"Continuing {job.name} with the new link")

    # -- logins -----------------------------------------------------------------------------

    @async_slot(int, str, str)
    async def _login_needed(self, job_id: int, source: str, challenge: str) -> None:
        """A server asked for a login: the one remembered for the site, once; else ask."""
        origin = origin_key(source)
        if job_id not in self._remembered_tried:
            self._remembered_tried.add(job_id)
            loop = asyncio.get_running_loop()
            login = await loop.run_in_executor(self._executor, self.logins.remembered, origin)
            if login is not None:
                with contextlib.suppress(UnknownJobIDException, ValueError):
                    self.queue.set_login(self.queue.id_to_job(job_id), *login)
                return
        if origin in self._login_dialogs:
            return  # one dialog per site; it logs in every download that waits there
        waiting = self._waiting_for_login(origin)
        realm = re.search(r'realm="([^"]*)"', challenge)
        dialog = LoginDialog(
            urlsplit(origin).hostname or origin,
            realm.group(1) if realm else None,
            max(1, len(waiting)),
            self.logins.available,
            self,
        )
        self._login_dialogs[origin] = dialog
        dialog.finished.connect(lambda result: self._login_given(dialog, origin, result))
        self._keep(dialog)
        dialog.open()

    def _waiting_for_login(self, origin: str) -> list[DownloadJob]:
        return [
            job
            for job in self.queue.list_jobs()
            if job.auth_challenge
            and job.status == DownloadJobStatus.ERROR
            and origin_key(str(job.source)) == origin
        ]

    def _login_given(self, dialog: LoginDialog, origin: str, result: int) -> None:
        self._login_dialogs.pop(origin, None)
        if result != LoginDialog.DialogCode.Accepted.value:
            return  # the downloads stay "Login required"; Retry asks again
        username, password = dialog.login()
        for job in self._waiting_for_login(origin):
            try:
                self.queue.set_login(job, username, password)
            except ValueError as exc:
                self._warn("Not logged in", str(exc))
                return
        if dialog.remember_check.isChecked():
            self._remember_login(origin, username, password)

    @async_slot(str, str, str)
    async def _remember_login(self, origin: str, username: str, password: str) -> None:
        loop = asyncio.get_running_loop()
        kept = await loop.run_in_executor(
            self._executor, self.logins.remember, origin, username, password
        )
        if not kept:
            self.status.message("The keychain did not keep the password: fetchq will ask again")

    # -- lists ------------------------------------------------------------------------------

    def ask_import(self) -> QFileDialog:
        dialog = choose_list_file(self, save=False, folder=str(self.download_dir))
        dialog.fileSelected.connect(lambda path: self.import_list(Path(path)))
        return dialog

    def ask_export(self) -> QFileDialog:
        dialog = choose_list_file(self, save=True, folder=str(self.download_dir))
        dialog.fileSelected.connect(
            lambda path: self.export_list(Path(path), _format_of(dialog.selectedNameFilter()))
        )
        return dialog

    def export_list(self, path: Path, format: str = "json") -> bool:
        """Write every download of the list to ``path``; secrets never go in."""
        jobs = [job for job in self.queue.list_jobs() if job.package_id is None]
        try:
            path.write_text(export_list(jobs, format), encoding="utf-8")
        except OSError as exc:
            self._warn("The list was not exported", f"{path}: {exc.strerror or exc}")
            return False
        self.status.message(f"Exported {plural(len(jobs), 'download')} to {path}")
        return True

    @async_slot(object)
    async def import_list(self, path: Path) -> None:
        """Queue the downloads of a list file. A folder the list names is used only inside the
        default download folder (a list must not write anywhere else, like ~/.config); the
        others go to the default folder, and every line not used is listed with its reason.

        The file is read off the GUI thread, and a list of more than ``MAX_IMPORT_ENTRIES``
        downloads is refused before anything is queued; the downloads are queued a slice of
        ``IMPORT_SLICE_S`` at a time, under a progress dialog whose Cancel stops the import
        (what was queued stays, and the message says how much was not)."""
        loop = asyncio.get_running_loop()
        try:
            read = await loop.run_in_executor(self._executor, _read_list_file, path)
        except (OSError, ValueError) as exc:
            self._warn("The list was not imported", f"{path}: {exc}")
            return
        problems = list(read.problems)
        root = self.download_dir.resolve()
        moved = 0
        jobs: list[DownloadJob] = []
        progress = QProgressDialog(f"Importing {path.name}…", "Cancel", 0, len(read.entries), self)
        progress.setObjectName("import_progress")
        progress.setMinimumDuration(500)  # a short list shows no dialog
        progress.setAutoClose(False)
        slice_ends = time.monotonic() + IMPORT_SLICE_S
        shown = 0
        for number, entry in enumerate(read.entries):
            if time.monotonic() > slice_ends:
                self.model.add(JobSnapshot.of(job) for job in jobs[shown:])
                shown = len(jobs)
                progress.setValue(number)
                await asyncio.sleep(0)  # the window draws, takes input, and Cancel
                if progress.wasCanceled() or self._closing:
                    left = plural(len(read.entries) - number, "download")
                    problems.insert(0, f"Import cancelled: the last {left} were not queued")
                    break
                slice_ends = time.monotonic() + IMPORT_SLICE_S
            folder = self.download_dir
            if entry.folder:
                wanted = self.download_dir / Path(entry.folder).expanduser()  # relative: in it
                if wanted.resolve().is_relative_to(root):
                    folder = wanted
                else:
                    moved += 1
            name = sanitize_filename(entry.name)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                jobs.append(
                    self.queue.download(
                        entry.url,
                        folder / name if name else f"{folder}{os.sep}",
                        priority=entry.priority,
                        checksum=entry.checksum,
                        by_category=not entry.folder and self._by_category(folder),
                    )
                )
            except (FetchqError, ValueError, OSError) as exc:
                problems.append(f"{redact_url(entry.url)[:100]}: {exc}")
        progress.close()
        progress.deleteLater()
        self.model.add(JobSnapshot.of(job) for job in jobs[shown:])
        if jobs:
            self.status.added(len(jobs))
        if moved:
            problems.insert(
                0,
                f"{plural(moved, 'download')} will go to {self.download_dir}: "
                "the list named folders outside it",
            )
        if problems:
            self._warn(
                f"Imported {plural(len(jobs), 'download')} from {path.name}",
                "\n".join(problems[:20])
                + (f"\n…and {len(problems) - 20} more" if len(problems) > 20 else ""),
            )
        self.list_imported.emit(len(jobs))

    def download_again(self) -> None:
        """Fetch a completed download afresh: its file goes to the trash (never deleted), and
        a new download of the same link takes its place in the list."""
        selected = self.selected_snapshots()
        if len(selected) != 1 or selected[0].is_package:
            return
        snapshot = selected[0]
        path = snapshot.download_path
        if path is None:
            return
        if Path(path).exists() and not move_to_trash(path):
            self._warn(
                "Not downloaded again",
                f"{path} could not be moved to the trash, and fetchq does not delete files. "
                "Move or delete it yourself, then choose Download again.",
            )
            return
        for job in self._jobs([snapshot]):
            with contextlib.suppress(UnknownJobIDException):
                self.queue.remove_job(job)
        self.model.remove([snapshot.id])
        try:
            job = self.queue.download(snapshot.source, path, priority=snapshot.priority)
        except (FetchqError, ValueError) as exc:
            self._warn("Not downloaded again", human_exception(exc))
            return
        self.model.add([JobSnapshot.of(job)])
        self.select_jobs([job.id])
        self.status.message(f"Downloading {snapshot.name} again (the old file is in the trash)")

    def set_filter(self, mode: Filter) -> None:
        self.proxy.set_mode(mode)
        if self.filter_tabs.currentIndex() != list(Filter).index(mode):
            self.filter_tabs.setCurrentIndex(list(Filter).index(mode))
        self._refresh()

    # -- context menu -----------------------------------------------------------------------

    def context_menu(self) -> QMenu:
        """The menu for the current selection (built fresh; shown by right-click)."""
        menu = QMenu(self)
        menu.setObjectName("job_context_menu")
        self._fill(menu, CONTEXT_MENU)
        return menu

    def show_context_menu(self, position: QPoint) -> None:
        self.table.select_under(position)
        self._refresh()
        menu = self.context_menu()
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # -- notifications ----------------------------------------------------------------------

    def _job_finished(self, snapshot: JobSnapshot) -> None:
        if self.settings.notifications:
            self._finished_batch.append(snapshot)
            if not self._notify_timer.isActive():
                self._notify_timer.start()

    def _notify_finished(self) -> None:
        batch, self._finished_batch = self._finished_batch, []
        for message in finished_messages(batch):
            self.notifier.notify(
                message.title, message.body, failed=message.failed, path=message.path
            )

    # -- settings and window state --------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(
            self.settings, self.tray.available, self, browser_installer=self.browser_installer
        )
        dialog.applied.connect(self._settings_changed)
        self._keep(dialog)
        dialog.open()
        return dialog

    def _settings_changed(self) -> None:
        self.download_dir = self.settings.download_dir
        self.apply_settings()

    def apply_settings(self) -> None:
        """Push preferences to the queue; each applies at once or from the next download."""
        settings = self.settings
        self.queue.max_parallel_dl = settings.parallel_downloads
        self.queue.max_connections_per_download = settings.connections_per_file
        self.queue.categories = settings.categories
        self.scheduler.apply(settings.plan())
        self.clipboard_watch.enabled = settings.watch_clipboard
        self.clipboard_watch.extensions = frozenset(
            extension for category in settings.categories for extension in category.extensions
        )
        self._fill_category_filter()
        self._fill_queue_filter()

    def _restore_window_state(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1240, 560)
        header = self.settings.header_state()
        if header is not None:
            self.table.horizontalHeader().restoreState(header)

    def save_state(self) -> None:
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_header_state(self.table.horizontalHeader().saveState())
        self.settings.sync()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ThemeChange):
            for action in self._actions.values():
                action.setIcon(icon(str(action.property("icon_name"))))
        super().changeEvent(event)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.drop_overlay.isVisible():
            self.drop_overlay.fit()

    # -- showing, hiding, quitting ----------------------------------------------------------

    def toggle_visible(self) -> None:
        if self.isVisible() and not self.isMinimized():
            self.hide()
        else:
            self.bring_to_front()

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        if self.settings.minimize_to_tray and self.tray.available and not self._closing:
            self.hide()
            event.ignore()
            if not self._told_about_tray:
                self._told_about_tray = True
                self.notifier.notify(
                    "fetchq keeps running", "Downloads go on; quit from the tray menu."
                )
            return
        event.ignore()
        self.quit_app()

    @async_slot()
    async def quit_app(self) -> None:
        """Save the window, pause running downloads (keeping their part files) and close."""
        if self._closing:
            return
        self._closing = True
        self.status.commit()  # a clearing still undoable becomes final
        self.save_state()
        self.statusBar().showMessage("Pausing downloads…")
        self.setEnabled(False)
        if self._owns_queue:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.queue.close)
        self.tray.hide()
        self.notifier.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._closed = True
        self.close()
        self.closed.emit()

    # -- helpers ----------------------------------------------------------------------------

    def _keep(self, widget: QWidget) -> None:
        """Hold a reference to a dialog opened with open(), until it closes."""
        self._dialogs.append(widget)
        widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        widget.destroyed.connect(
            lambda *_: self._dialogs.remove(widget) if widget in self._dialogs else None
        )

    def _warn(self, title: str, text: str) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        box.setObjectName("warning_box")
        self._keep(box)
        box.open()
        return box
