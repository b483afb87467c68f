"""MainWindow: the job table, its toolbar and menus, drag and drop, the status bar and the tray.

The window holds no download logic: actions call the queue, and the table shows what the
bridge reports. Slow work started here (probing URLs, shutting down) runs in an executor,
awaited by async slots, so the window never freezes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Union

from PySide6.QtCore import QEvent, QItemSelectionModel, QMimeData, QPoint, Qt, QTimer, QUrl, Signal
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
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QTabBar,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from fetchq import (
    DownloadJob,
    DownloadJobBase,
    DownloadJobStatus,
    DownloadQueueService,
    FetchqError,
    MultiFileDownloadJob,
    UnknownJobIDException,
    __version__,
    sanitize_filename,
)

from .bridge import JobSnapshot, QueueBridge
from .delegates import ElidingDelegate, ProgressDelegate
from .dialogs import AddDownloadsDialog, AddRequest, SettingsDialog
from .icons import app_icon, icon
from .model import JOB_ID_ROLE, Column, FilesProxy, Filter, JobFilterProxy, JobTableModel
from .qt_helpers import async_slot, named
from .settings import Settings
from .tray import Tray
from .units import human_size, human_speed
from .urls import ParsedUrls, Refusal, extract_urls

TERMINAL = {DownloadJobStatus.COMPLETED, DownloadJobStatus.CANCELLED, DownloadJobStatus.ERROR}
MAX_DROPPED_FILE_BYTES = 1 << 20
# Some platforms map these standard keys to nothing (Quit on Windows, Preferences off macOS).
STANDARD_KEY_FALLBACKS = {
    QKeySequence.StandardKey.Quit: "Ctrl+Q",
    QKeySequence.StandardKey.Preferences: "Ctrl+,",
}
COLUMN_WIDTHS = {
    Column.NAME: 290,
    Column.SIZE: 75,
    Column.PROGRESS: 140,
    Column.SPEED: 85,
    Column.ETA: 75,
    Column.STATUS: 150,
    Column.PRIORITY: 55,
    Column.ADDED: 120,
    Column.DESTINATION: 220,
}


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
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect().adjusted(12, 12, -12, -12))
        self.show()
        self.raise_()


class MainWindow(QMainWindow):
    """fetchq's window around a DownloadQueueService.

    ``owns_queue`` makes quitting close the queue (pausing running downloads, keeping their
    part files); tests and embedders that manage the queue themselves leave it False.
    """

    closed = Signal()

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

        self.model = JobTableModel(self, refresh_ms=refresh_ms)
        self.proxy = JobFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        # The files of multi-file jobs: one model for all, shown a package at a time.
        self.files_model = JobTableModel(self, refresh_ms=refresh_ms)
        self.files_proxy = FilesProxy(self)
        self.files_proxy.setSourceModel(self.files_model)
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
        self._build_status_bar()
        self.tray = Tray(app_icon(), self.statusBar(), self)
        self.tray.toggle_requested.connect(self.toggle_visible)
        self.tray.show_requested.connect(self.bring_to_front)
        self.tray.pause_all_requested.connect(self.pause_all)
        self.tray.resume_all_requested.connect(self.resume_all)
        self.tray.quit_requested.connect(self.quit_app)
        self._notify_timer = QTimer(self, singleShot=True, interval=400)
        self._notify_timer.timeout.connect(self._notify_finished)

        self.model.flushed.connect(self._refresh)
        self.apply_settings()
        self._restore_window_state()
        self._refresh()

    # -- construction -------------------------------------------------------------------------

    def _build_table(self) -> None:
        self.table = QTableView(self)
        self.table.setObjectName("job_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self.show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self.open_file())
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        self.table.setItemDelegateForColumn(Column.NAME, ElidingDelegate(self.table))
        self.table.setItemDelegateForColumn(Column.DESTINATION, ElidingDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        self.filter_tabs = QTabBar(self)
        self.filter_tabs.setObjectName("filter_tabs")
        self.filter_tabs.setDocumentMode(True)
        self.filter_tabs.setExpanding(False)
        for mode in Filter:
            self.filter_tabs.addTab(mode.value)
        self.filter_tabs.currentChanged.connect(lambda i: self.set_filter(list(Filter)[i]))

        self._build_files_pane()
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
        layout.addWidget(self.filter_tabs)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)

    def _build_files_pane(self) -> None:
        """Under the table: the files of the multi-file job selected in it, each with its
        own progress, and a menu that acts on one file."""
        self.files_pane = named(QWidget(self), "files_pane")
        self.files_label = named(QLabel(self.files_pane), "files_label")
        self.files_label.setContentsMargins(6, 4, 6, 2)
        self.files_table = named(QTableView(self.files_pane), "files_table")
        table = self.files_table
        table.setModel(self.files_proxy)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        table.setAlternatingRowColors(True)
        table.setShowGrid(False)
        table.setWordWrap(False)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(table))
        table.setItemDelegateForColumn(Column.NAME, ElidingDelegate(table))
        table.setItemDelegateForColumn(Column.DESTINATION, ElidingDelegate(table))
        table.horizontalHeader().setStretchLastSection(True)
        for column, width in COLUMN_WIDTHS.items():
            table.setColumnWidth(column, width)
        for column in (Column.PRIORITY, Column.ADDED):
            table.setColumnHidden(column, True)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self.show_files_context_menu)
        table.doubleClicked.connect(lambda _index: self._open_path(self._selected_file_path()))
        layout = QVBoxLayout(self.files_pane)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.files_label)
        layout.addWidget(table, 1)
        self.files_pane.hide()

    def _action(
        self,
        name: str,
        text: str,
        icon_name: str,
        shortcut: Union[QKeySequence.StandardKey, str, None],
        tip: str,
        slot: Callable[[], Any],
    ) -> QAction:
        action = QAction(icon(icon_name), text, self)
        action.setObjectName(name)
        action.setProperty("icon_name", icon_name)
        if shortcut is not None:
            sequence = QKeySequence(shortcut)
            if sequence.isEmpty() and isinstance(shortcut, QKeySequence.StandardKey):
                sequence = QKeySequence(STANDARD_KEY_FALLBACKS.get(shortcut, ""))
            action.setShortcut(sequence)
            if not sequence.isEmpty():
                tip += f" ({sequence.toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        self._actions[name] = action
        return action

    def _build_actions(self) -> None:
        a = self._action
        a(
            "action_add",
            "Add…",
            "add",
            QKeySequence.StandardKey.New,
            "Add downloads",
            self.open_add_dialog,
        )
        a(
            "action_paste",
            "Paste links",
            "add",
            QKeySequence.StandardKey.Paste,
            "Download the links on the clipboard",
            self.paste_links,
        )
        a(
            "action_pause",
            "Pause",
            "pause",
            "Ctrl+P",
            "Pause the selected downloads",
            self.pause_selected,
        )
        a(
            "action_resume",
            "Resume",
            "resume",
            "Ctrl+R",
            "Resume the selected downloads",
            self.resume_selected,
        )
        a(
            "action_cancel",
            "Cancel",
            "cancel",
            "Shift+Del",
            "Cancel the selected downloads and delete their partial files",
            self.cancel_selected,
        )
        a(
            "action_cancel_all",
            "Cancel all",
            "cancel-all",
            "Ctrl+Shift+Del",
            "Cancel every unfinished download",
            self.confirm_cancel_all,
        )
        a(
            "action_prune",
            "Clear finished",
            "prune",
            "Ctrl+Shift+L",
            "Remove finished, failed and cancelled downloads from the list (files stay)",
            self.prune,
        )
        a(
            "action_remove",
            "Remove from list",
            "remove",
            QKeySequence.StandardKey.Delete,
            "Remove the selected downloads from the list",
            self.remove_selected,
        )
        a(
            "action_retry",
            "Retry",
            "retry",
            "Ctrl+Shift+R",
            "Download the selected failed or cancelled downloads again",
            self.retry_selected,
        )
        a(
            "action_open_file",
            "Open",
            "open-file",
            "Ctrl+O",
            "Open the downloaded file",
            self.open_file,
        )
        a(
            "action_open_folder",
            "Open folder",
            "open-folder",
            "Ctrl+Shift+O",
            "Open the folder that contains the download",
            self.open_folder,
        )
        a(
            "action_copy_url",
            "Copy link",
            "copy",
            QKeySequence.StandardKey.Copy,
            "Copy the selected downloads' links",
            self.copy_urls,
        )
        a(
            "action_priority_up",
            "Raise priority",
            "priority-up",
            "Ctrl+Up",
            "Start sooner",
            lambda: self.shift_priority(-1),
        )
        a(
            "action_priority_down",
            "Lower priority",
            "priority-down",
            "Ctrl+Down",
            "Start later",
            lambda: self.shift_priority(+1),
        )
        a(
            "action_priority_set",
            "Set priority…",
            "priority-up",
            None,
            "Choose the priority (lower starts first)",
            self.ask_priority,
        )
        a(
            "action_settings",
            "Settings",
            "settings",
            QKeySequence.StandardKey.Preferences,
            "Settings",
            self.open_settings,
        )
        a(
            "action_quit",
            "Quit",
            "quit",
            QKeySequence.StandardKey.Quit,
            "Pause downloads and quit",
            self.quit_app,
        )

    def action(self, name: str) -> QAction:
        return self._actions[name]

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for name in ("action_add", None, "action_pause", "action_resume", "action_cancel",
                     "action_cancel_all", None, "action_prune", "action_open_file",
                     "action_open_folder", None, "action_settings", "action_quit"):  # fmt: skip
            if name is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(self.action(name))
        self.addToolBar(toolbar)

    def _build_menus(self) -> None:
        menus = {
            "menu_downloads": ("&Downloads", ("action_add", "action_paste", None,
                               "action_pause", "action_resume", "action_cancel",
                               "action_retry", "action_remove", None, "action_cancel_all",
                               "action_prune", None, "action_quit")),
            "menu_file": ("&File", ("action_open_file", "action_open_folder",
                          "action_copy_url", None, "action_priority_up",
                          "action_priority_down", "action_priority_set")),
            "menu_settings": ("&Settings", ("action_settings",)),
        }  # fmt: skip
        bar = self.menuBar()
        for name, (title, actions) in menus.items():
            menu = bar.addMenu(title)
            menu.setObjectName(name)
            for action_name in actions:
                if action_name is None:
                    menu.addSeparator()
                else:
                    menu.addAction(self.action(action_name))
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
            f"fetchq {__version__}\n\nA download manager: drop links on the window; downloads "
            "resume after a restart and use several connections for large files.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("about_box")
        box.setIconPixmap(app_icon().pixmap(64, 64))
        self._keep(box)
        box.open()
        return box

    def _build_status_bar(self) -> None:
        self.speed_label = named(QLabel(), "status_speed")
        self.counts_label = named(QLabel(), "status_counts")
        self.statusBar().addPermanentWidget(self.speed_label)
        self.statusBar().addPermanentWidget(self.counts_label)

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
        selected = self.selected_snapshots()
        statuses = {s.status for s in selected}
        counts = collections.Counter(s.status for s in self.model.snapshots())
        single = selected[0] if len(selected) == 1 else None
        can = {
            "action_pause": bool(statuses & {DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING}),
            "action_resume": DownloadJobStatus.PAUSED in statuses,
            "action_cancel": bool(statuses - TERMINAL),
            "action_retry": bool(statuses & {DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED}),
            "action_remove": bool(selected),
            "action_copy_url": bool(selected),
            "action_open_file": single is not None
            and single.status == DownloadJobStatus.COMPLETED
            and single.download_path is not None
            and Path(single.download_path).is_file(),
            "action_open_folder": single is not None,
            "action_priority_up": bool(statuses - TERMINAL - {DownloadJobStatus.RUNNING}),
            "action_cancel_all": any(counts[s] for s in DownloadJobStatus if s not in TERMINAL),
            "action_prune": any(counts[s] for s in TERMINAL),
        }
        can["action_priority_down"] = can["action_priority_set"] = can["action_priority_up"]
        for name, enabled in can.items():
            self.action(name).setEnabled(enabled)
        active = counts[DownloadJobStatus.RUNNING]
        queued = counts[DownloadJobStatus.WAITING]
        done = counts[DownloadJobStatus.COMPLETED]
        speed = human_speed(self.model.total_speed())
        self.speed_label.setText(f"↓ {speed}" if speed else "")
        text = f"{active} active · {queued} queued · {done} done"
        if counts[DownloadJobStatus.ERROR]:
            text += f" · {counts[DownloadJobStatus.ERROR]} failed"
        self.counts_label.setText(text)
        self.tray.set_status(f"{text}{' · ' + speed if speed else ''}")
        self._show_files()

    def _job_changed(self, snapshot: JobSnapshot) -> None:
        if snapshot.package_id is not None:
            self.files_model.update(snapshot)
            return
        self.model.update(snapshot)
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
    ) -> list[DownloadJob]:
        """Queue URLs into a folder (the default one if not given); returns the new jobs."""
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
                )
        except (FetchqError, ValueError) as exc:
            problems.append(str(exc))
        self.model.add(JobSnapshot.of(job) for job in jobs)
        if jobs:
            count = len(jobs)
            self.statusBar().showMessage(f"Added {count} download{'s' if count != 1 else ''}", 4000)
            self._probe_waiting([job.id for job in jobs])
        if problems:
            self._warn("Some links were not added", "\n".join(problems[:10]))
        return jobs

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
        count = len(package.download_parts)
        self.statusBar().showMessage(f"Added {package.name}: {count} files as one package", 4000)
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
            self.statusBar().showMessage("The clipboard holds no links to download", 4000)

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
        )

    @async_slot(object, str)
    async def _probe_for_dialog(self, dialog: AddDownloadsDialog, url: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self.queue.probe, url)
        except Exception as exc:  # the server's answer, whatever it is, is shown, not raised
            dialog.show_probe(url, None, "", str(exc) or type(exc).__name__)
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
                result = await loop.run_in_executor(
                    self._executor, self.queue.probe, snapshot.source
                )
            except Exception:
                continue
            self.model.set_probe(job_id, result.name, result.size)

    # -- drag and drop --------------------------------------------------------------------

    def _mime_urls(self, mime: QMimeData, read_files: bool) -> ParsedUrls:
        urls: list[str] = []
        refused: list[Refusal] = []
        texts: list[str] = []
        lists: list[str] = []  # names of the list files dropped
        if mime.hasUrls():
            for url in mime.urls():
                if url.isLocalFile():
                    path = Path(url.toLocalFile())
                    if path.suffix.lower() not in (".txt", ".list", ".urls"):
                        refused.append(
                            Refusal(path.name, "only .txt lists of links can be dropped")
                        )
                    elif not read_files:
                        texts.append(f"https://placeholder.invalid/{path.name}")
                    elif path.is_file() and path.stat().st_size <= MAX_DROPPED_FILE_BYTES:
                        texts.append(path.read_text(encoding="utf-8", errors="replace"))
                        lists.append(path.stem)
                    else:
                        refused.append(
                            Refusal(path.name, "not a readable list of links under 1 MiB")
                        )
                else:
                    texts.append(url.toString())
        elif mime.hasText():
            texts.append(mime.text())
        for text in texts:
            parsed = extract_urls(text)
            urls.extend(u for u in parsed.urls if u not in urls)
            refused.extend(parsed.refused)
        list_name = lists[0] if len(lists) == 1 and len(texts) == 1 else None
        return ParsedUrls(tuple(urls), tuple(refused), list_name)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        parsed = self._mime_urls(event.mimeData(), read_files=False)
        if parsed.urls:
            links = f"{len(parsed.urls)} link{'s' if len(parsed.urls) != 1 else ''}"
            self.drop_overlay.present(f"Drop to download {links} into\n{self.download_dir}", True)
            event.acceptProposedAction()
        else:
            reason = parsed.refused[0].reason if parsed.refused else "no links to download in this"
            self.drop_overlay.present(f"Cannot download this: {reason}", False)
            event.ignore()
            QTimer.singleShot(1200, self.drop_overlay.hide)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._mime_urls(event.mimeData(), read_files=False).urls:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_overlay.hide()
        parsed = self._mime_urls(event.mimeData(), read_files=True)
        if not parsed.urls:
            event.ignore()
            self.statusBar().showMessage("Nothing to download in what was dropped", 4000)
            return
        event.acceptProposedAction()
        name = sanitize_filename(parsed.list_name) if parsed.list_name else None
        if name and len(parsed.urls) > 1:
            self.add_package(parsed.urls, name)  # a list file is one thing: one package
        else:
            self.add_urls(parsed.urls)

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
        self.queue.prune_jobs()
        self._drop_rows_gone_from_queue()

    def _drop_rows_gone_from_queue(self) -> None:
        remaining = {job.id for job in self.queue.list_jobs()}
        remaining.update(job.id for job in self.queue.list_multifile_jobs())
        self.model.remove(s.id for s in self.model.snapshots() if s.id not in remaining)
        self.files_model.remove(s.id for s in self.files_model.snapshots() if s.id not in remaining)
        self._show_files()

    def remove_selected(self) -> None:
        finished = []
        for snapshot in self.selected_snapshots():
            jobs = self._jobs([snapshot])
            if not jobs:
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

    def _selection_changed(self) -> None:
        self._refresh()

    def _show_files(self) -> None:
        """Show the files of the one multi-file job selected, if that is what is selected."""
        selected = self.selected_snapshots()
        package = selected[0] if len(selected) == 1 and selected[0].is_package else None
        self.files_proxy.set_package(package.id if package is not None else None)
        if package is None:
            self.files_pane.hide()
            return
        self.files_label.setText(
            f"Files of {package.name}: {package.files_done} of {package.files} done"
        )
        self.files_pane.show()

    def selected_files(self) -> list[JobSnapshot]:
        """The files selected in the files pane."""
        rows = self.files_table.selectionModel().selectedRows()
        found = (self.files_model.snapshot(int(index.data(JOB_ID_ROLE))) for index in rows)
        return [s for s in found if s is not None]

    def _selected_file_path(self) -> Optional[str]:
        files = self.selected_files()
        if len(files) == 1 and files[0].status == DownloadJobStatus.COMPLETED:
            return files[0].download_path
        return None

    def _open_path(self, path: Optional[str]) -> None:
        if path and Path(path).exists():
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def files_context_menu(self) -> QMenu:
        """What one file of a multi-file job can do; cancelling is the whole job's."""
        files = self.selected_files()
        statuses = {f.status for f in files}
        menu = QMenu(self)
        menu.setObjectName("files_context_menu")
        jobs = [j for j in self._jobs(files) if isinstance(j, DownloadJob)]

        def add(name: str, text: str, enabled: bool, slot: Callable[[], Any]) -> None:
            action = menu.addAction(text)
            action.setObjectName(name)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _checked=False: slot())

        def each(control: Callable[[DownloadJob], None]) -> Callable[[], None]:
            def run() -> None:
                for job in jobs:
                    control(job)
                self._refresh_rows(jobs)

            return run

        active = {DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING}
        add("file_pause", "Pause this file", bool(statuses & active), each(self.queue.pause_job))
        add(
            "file_resume",
            "Resume this file",
            DownloadJobStatus.PAUSED in statuses,
            each(self.queue.resume_job),
        )
        add(
            "file_retry",
            "Retry this file",
            bool(statuses & {DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED}),
            each(self.queue.retry_job),
        )
        add(
            "file_first",
            "Download this file first",
            bool(statuses & {DownloadJobStatus.WAITING}),
            each(lambda job: self.queue.set_priority(job, max(0, job.priority - 1))),
        )
        menu.addSeparator()
        path = self._selected_file_path()
        add("file_open", "Open file", path is not None, lambda: self._open_path(path))
        add(
            "file_copy_url",
            "Copy link",
            bool(files),
            lambda: QGuiApplication.clipboard().setText("\n".join(f.source for f in files)),
        )
        return menu

    def show_files_context_menu(self, position: QPoint) -> None:
        index = self.files_table.indexAt(position)
        if index.isValid() and not self.files_table.selectionModel().isRowSelected(
            index.row(), index.parent()
        ):
            self.files_table.selectRow(index.row())
        menu = self.files_context_menu()
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.files_table.viewport().mapToGlobal(position))

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
        path = selected[0].download_path
        if path and Path(path).is_file():
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def open_folder(self) -> None:
        selected = self.selected_snapshots()
        if len(selected) != 1:
            return
        snapshot = selected[0]
        path = Path(snapshot.download_path) if snapshot.download_path else Path(snapshot.dest)
        folder = path if path.is_dir() else path.parent
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def copy_urls(self) -> None:
        sources = [s.source for s in self.selected_snapshots()]
        if sources:
            QGuiApplication.clipboard().setText("\n".join(sources))

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
        names = ("action_pause", "action_resume", "action_cancel", "action_retry", None,
                 "action_open_file", "action_open_folder", "action_copy_url", None,
                 "action_priority_up", "action_priority_down", "action_priority_set", None,
                 "action_remove")  # fmt: skip
        for name in names:
            if name is None:
                menu.addSeparator()
            else:
                menu.addAction(self.action(name))
        return menu

    def show_context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if index.isValid() and not self.table.selectionModel().isRowSelected(
            index.row(), index.parent()
        ):
            self.table.selectRow(index.row())
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
        failed = [s for s in batch if s.status == DownloadJobStatus.ERROR]
        done = [s for s in batch if s.status == DownloadJobStatus.COMPLETED]
        if len(done) == 1:
            self.tray.notify("Download complete", done[0].name)
        elif done:
            self.tray.notify(f"{len(done)} downloads complete", ", ".join(s.name for s in done[:3]))
        if len(failed) == 1:
            reason = failed[0].error_type or "unknown error"
            self.tray.notify("Download failed", f"{failed[0].name}: {reason}", failed=True)
        elif failed:
            self.tray.notify(
                f"{len(failed)} downloads failed",
                ", ".join(s.name for s in failed[:3]),
                failed=True,
            )

    # -- settings and window state --------------------------------------------------------

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings, self.tray.available, self)
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
        limit = settings.speed_limit_kib
        self.queue.speed_limit = limit * 1024 if limit else None

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
            parent = self.drop_overlay.parentWidget()
            if parent is not None:
                self.drop_overlay.setGeometry(parent.rect().adjusted(12, 12, -12, -12))

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
                self.tray.notify(
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
        self.save_state()
        self.statusBar().showMessage("Pausing downloads…")
        self.setEnabled(False)
        if self._owns_queue:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self.queue.close)
        self.tray.hide()
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
