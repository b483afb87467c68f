"""The files pane: under the job table, the files of the multi-file job selected in it, each
with its own progress, and a menu that acts on one file (cancelling is the whole job's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from PySide6.QtCore import QPoint, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMenu, QVBoxLayout, QWidget

from fetchq import DownloadJob, DownloadJobStatus, DownloadQueueService, UnknownJobIDException

from .bridge import JobSnapshot
from .model import JOB_ID_ROLE, FilesProxy, JobTableModel
from .qt_helpers import named
from .views import JobTableView, fit_columns

ACTIVE = {DownloadJobStatus.WAITING, DownloadJobStatus.RUNNING}


class FilesPane(QWidget):
    """Shows one package's files from a model of every package's files."""

    acted = Signal(list)  # the DownloadJobs a menu entry acted on: their rows need refreshing
    open_requested = Signal(str)  # a finished file to open

    def __init__(
        self, queue: DownloadQueueService, model: JobTableModel, parent: Optional[QWidget] = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("files_pane")
        self.queue = queue
        self.model = model
        self.proxy = FilesProxy(self)
        self.proxy.setSourceModel(model)
        self.label = named(QLabel(self), "files_label")
        self.label.setContentsMargins(6, 4, 6, 2)
        self.table = named(JobTableView(self, hint="", row_padding=10), "files_table")
        self.table.setModel(self.proxy)
        fit_columns(self.table)
        self.table.customContextMenuRequested.connect(self.show_context_menu)
        self.table.doubleClicked.connect(lambda _index: self._open(self.selected_file_path()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.label)
        layout.addWidget(self.table, 1)
        self.hide()

    def show_package(self, package: Optional[JobSnapshot]) -> None:
        """Show this package's files, or hide when it is None."""
        self.proxy.set_package(package.id if package is not None else None)
        if package is None:
            self.hide()
            return
        self.label.setText(f"Files of {package.name}: {package.files_done} of {package.files} done")
        self.show()

    def selected_files(self) -> list[JobSnapshot]:
        rows = self.table.selectionModel().selectedRows()
        found = (self.model.snapshot(int(index.data(JOB_ID_ROLE))) for index in rows)
        return [s for s in found if s is not None]

    def selected_file_path(self) -> Optional[str]:
        files = self.selected_files()
        if len(files) == 1 and files[0].status == DownloadJobStatus.COMPLETED:
            return files[0].download_path
        return None

    def _open(self, path: Optional[str]) -> None:
        if path:
            self.open_requested.emit(path)

    def _jobs(self, files: list[JobSnapshot]) -> list[DownloadJob]:
        jobs = []
        for snapshot in files:
            try:
                jobs.append(self.queue.id_to_job(snapshot.id))
            except UnknownJobIDException:
                continue
        return jobs

    def context_menu(self) -> QMenu:
        """What one file of a multi-file job can do."""
        files = self.selected_files()
        statuses = {f.status for f in files}
        menu = QMenu(self)
        menu.setObjectName("files_context_menu")
        jobs = self._jobs(files)

        def add(name: str, text: str, enabled: bool, slot: Callable[[], Any]) -> None:
            action = menu.addAction(text)
            action.setObjectName(name)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _checked=False: slot())

        def each(control: Callable[[DownloadJob], None]) -> Callable[[], None]:
            def run() -> None:
                for job in jobs:
                    control(job)
                self.acted.emit(jobs)

            return run

        queue = self.queue
        add("file_pause", "Pause this file", bool(statuses & ACTIVE), each(queue.pause_job))
        add(
            "file_resume",
            "Resume this file",
            DownloadJobStatus.PAUSED in statuses,
            each(queue.resume_job),
        )
        add(
            "file_retry",
            "Retry this file",
            bool(statuses & {DownloadJobStatus.ERROR, DownloadJobStatus.CANCELLED}),
            each(queue.retry_job),
        )
        add(
            "file_first",
            "Download this file first",
            DownloadJobStatus.WAITING in statuses,
            each(lambda job: queue.set_priority(job, max(0, job.priority - 1))),
        )
        menu.addSeparator()
        path = self.selected_file_path()
        add("file_open", "Open file", path is not None, lambda: self._open(path))
        add(
            "file_copy_url",
            "Copy link",
            bool(files),
            lambda: QGuiApplication.clipboard().setText("\n".join(f.source for f in files)),
        )
        return menu

    def show_context_menu(self, position: QPoint) -> None:
        self.table.select_under(position)
        menu = self.context_menu()
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.table.viewport().mapToGlobal(position))
