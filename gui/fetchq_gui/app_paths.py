"""Where the app keeps its list and settings, named the same by the app and the browser host
(which must find the running app's socket from that folder). QtCore only: no window."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QCoreApplication, QStandardPaths

from fetchq import __version__


def set_app_names() -> None:
    """The organisation and application names Qt derives folders and settings from."""
    QCoreApplication.setOrganizationName("fetchq")
    QCoreApplication.setApplicationName("fetchq")
    QCoreApplication.setApplicationVersion(__version__)


def data_folder(profile: Optional[Path]) -> Path:
    """The folder of the download list: ``profile`` when given, else the platform's."""
    if profile is not None:
        return profile
    set_app_names()
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(location or Path.home() / ".local" / "share" / "fetchq")
