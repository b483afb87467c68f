"""Preferences, kept in QSettings: typed accessors with defaults."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional
from urllib.parse import quote

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from fetchq import DEFAULT_CATEGORIES, Category, Hours

from .scheduling import WHEN_DONE, NamedQueue, Plan


def default_download_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return Path(location) if location else Path.home() / "Downloads"


DEFAULT_CONNECTIONS = 8


class Settings:
    """The app's preferences. Pass a QSettings of your own to keep a profile or a test apart."""

    def __init__(self, store: Optional[QSettings] = None) -> None:
        self.store = store if store is not None else QSettings()

    def _int(self, key: str, default: int, minimum: int) -> int:
        value: object = self.store.value(key, default)
        try:
            return max(minimum, int(str(value)))
        except ValueError:
            return default

    def _bool(self, key: str, default: bool) -> bool:
        value = self.store.value(key, default)
        if isinstance(value, str):  # INI files give strings back
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    @property
    def download_dir(self) -> Path:
        value = self.store.value("downloads/folder", "")
        return Path(str(value)) if value else default_download_dir()

    @download_dir.setter
    def download_dir(self, folder: Path) -> None:
        self.store.setValue("downloads/folder", str(folder))

    @property
    def last_add_folder(self) -> Optional[Path]:
        """The folder last chosen in the add dialog, offered there next time."""
        value = self.store.value("downloads/last_add_folder", "")
        return Path(str(value)) if value else None

    @last_add_folder.setter
    def last_add_folder(self, folder: Path) -> None:
        self.store.setValue("downloads/last_add_folder", str(folder))

    @property
    def sort_by_category(self) -> bool:
        """Downloads into the default folder go into their category's folder under it."""
        return self._bool("downloads/by_category", True)

    @sort_by_category.setter
    def sort_by_category(self, on: bool) -> None:
        self.store.setValue("downloads/by_category", bool(on))

    def hours(self, key: str) -> Optional[Hours]:
        """The hours kept under ``schedule/<key>``, or None when off (or unreadable)."""
        if not self._bool(f"schedule/{key}_on", False):
            return None
        try:
            days = frozenset(
                int(d) for d in str(self.store.value(f"schedule/{key}_days", "0,1,2,3,4,5,6"))
                .split(",") if d.strip()
            )  # fmt: skip
            return Hours.parse(
                str(self.store.value(f"schedule/{key}_start", "00:00")),
                str(self.store.value(f"schedule/{key}_end", "00:00")),
                days,
            )
        except ValueError:
            return None

    def set_hours(self, key: str, hours: Optional[Hours]) -> None:
        self.store.setValue(f"schedule/{key}_on", hours is not None)
        if hours is not None:
            self.store.setValue(f"schedule/{key}_start", hours.start.strftime("%H:%M"))
            self.store.setValue(f"schedule/{key}_end", hours.end.strftime("%H:%M"))
            self.store.setValue(f"schedule/{key}_days", ",".join(map(str, sorted(hours.days))))

    @property
    def scheduled_limit_kib(self) -> int:
        return self._int("schedule/limit_kib", 1024, 1)

    @scheduled_limit_kib.setter
    def scheduled_limit_kib(self, value: int) -> None:
        self.store.setValue("schedule/limit_kib", int(value))

    @property
    def when_done(self) -> str:
        """``nothing``, ``quit`` or ``command``: what to do once every download is done."""
        value = str(self.store.value("schedule/when_done", "nothing"))
        return value if value in WHEN_DONE else "nothing"

    @when_done.setter
    def when_done(self, value: str) -> None:
        self.store.setValue("schedule/when_done", value)

    @property
    def when_done_command(self) -> str:
        return str(self.store.value("schedule/when_done_command", ""))

    @when_done_command.setter
    def when_done_command(self, value: str) -> None:
        self.store.setValue("schedule/when_done_command", value)

    def plan(self) -> Plan:
        """The schedule as the scheduler applies it."""
        base = self.speed_limit_kib
        return Plan(
            download_hours=self.hours("downloads"),
            limit_hours=self.hours("limit"),
            scheduled_limit=self.scheduled_limit_kib * 1024,
            base_limit=base * 1024 if base else None,
            queues=self.queues,
        )

    @property
    def queues(self) -> tuple[NamedQueue, ...]:
        """The named queues, in the order the user put them."""
        try:
            items = json.loads(str(self.store.value("queues/list", "[]")))
            return tuple(
                NamedQueue(
                    str(item["name"]),
                    max(1, int(item.get("max_parallel", 1))),
                    Hours.parse(item["start"], item["end"]) if item.get("start") else None,
                )
                for item in items
            )
        except (ValueError, KeyError, TypeError):
            return ()

    @queues.setter
    def queues(self, queues: Sequence[NamedQueue]) -> None:
        items = [
            {
                "name": q.name,
                "max_parallel": q.max_parallel,
                "start": q.hours.start.strftime("%H:%M") if q.hours else None,
                "end": q.hours.end.strftime("%H:%M") if q.hours else None,
            }
            for q in queues
        ]
        self.store.setValue("queues/list", json.dumps(items))

    @property
    def watch_clipboard(self) -> bool:
        """Offer links copied anywhere (of the file types of the categories); off at first."""
        return self._bool("clipboard/watch", False)

    @watch_clipboard.setter
    def watch_clipboard(self, on: bool) -> None:
        self.store.setValue("clipboard/watch", bool(on))

    @property
    def categories(self) -> tuple[Category, ...]:
        """The categories, as the user edited them (fetchq's defaults until then)."""
        raw = self.store.value("downloads/categories", "")
        if not raw:
            return DEFAULT_CATEGORIES
        try:
            items = json.loads(str(raw))
            return tuple(
                Category.of(i["name"], i["folder"], i["extensions"], i.get("mime_types", []))
                for i in items
            )
        except (ValueError, KeyError, TypeError):
            return DEFAULT_CATEGORIES

    @categories.setter
    def categories(self, categories: Sequence[Category]) -> None:
        items = [
            {
                "name": c.name,
                "folder": c.folder,
                "extensions": sorted(c.extensions),
                "mime_types": list(c.mime_types),
            }
            for c in categories
        ]
        self.store.setValue("downloads/categories", json.dumps(items))

    def login_user(self, origin: str) -> Optional[str]:
        """The user name remembered for a site (its password is in the keychain)."""
        value = self.store.value(f"logins/{quote(origin, safe='')}", "")
        return str(value) if value else None

    def set_login_user(self, origin: str, username: Optional[str]) -> None:
        key = f"logins/{quote(origin, safe='')}"
        if username:
            self.store.setValue(key, username)
        else:
            self.store.remove(key)

    @property
    def parallel_downloads(self) -> int:
        return self._int("downloads/parallel", 3, 1)

    @parallel_downloads.setter
    def parallel_downloads(self, value: int) -> None:
        self.store.setValue("downloads/parallel", int(value))

    @property
    def connections_per_file(self) -> int:
        """At most this many connections per file; the engine opens more than one only where
        a second one made the download faster. 8 is polite to servers on the Internet."""
        return self._int("downloads/connections", DEFAULT_CONNECTIONS, 1)

    @connections_per_file.setter
    def connections_per_file(self, value: int) -> None:
        self.store.setValue("downloads/connections", int(value))

    @property
    def speed_limit_kib(self) -> int:
        """KiB/s for all downloads together; 0 means no limit."""
        return self._int("downloads/speed_limit_kib", 0, 0)

    @speed_limit_kib.setter
    def speed_limit_kib(self, value: int) -> None:
        self.store.setValue("downloads/speed_limit_kib", int(value))

    @property
    def resume_at_start(self) -> bool:
        return self._bool("downloads/resume_at_start", True)

    @resume_at_start.setter
    def resume_at_start(self, value: bool) -> None:
        self.store.setValue("downloads/resume_at_start", bool(value))

    @property
    def minimize_to_tray(self) -> bool:
        return self._bool("window/minimize_to_tray", False)

    @minimize_to_tray.setter
    def minimize_to_tray(self, value: bool) -> None:
        self.store.setValue("window/minimize_to_tray", bool(value))

    @property
    def notifications(self) -> bool:
        return self._bool("window/notifications", True)

    @notifications.setter
    def notifications(self, value: bool) -> None:
        self.store.setValue("window/notifications", bool(value))

    def header_state(self) -> Optional[QByteArray]:
        value = self.store.value("window/header")
        return value if isinstance(value, QByteArray) else None

    def set_header_state(self, state: QByteArray) -> None:
        self.store.setValue("window/header", state)

    def geometry(self) -> Optional[QByteArray]:
        value = self.store.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, state: QByteArray) -> None:
        self.store.setValue("window/geometry", state)

    def sync(self) -> None:
        self.store.sync()
