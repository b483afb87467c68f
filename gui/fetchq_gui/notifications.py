"""Desktop notifications: the freedesktop notification service over D-Bus when the desktop has
one, else the tray icon's balloon, else the window's status bar.

Qt's tray balloon never reaches a desktop's notification daemon when the tray is an XEmbed one
(Qt then draws a balloon of its own), and it has no actions. The freedesktop service shows the
notification the way every other app's look, keeps it in the desktop's history, and offers
"Open" and "Show in folder". D-Bus is spoken with jeepney (pure Python) from threads of its
own: a slow daemon never blocks the window.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStatusBar

from fetchq import DownloadJobStatus

from .bridge import JobSnapshot
from .errors import human_error
from .tray import Tray

try:
    import jeepney
except ImportError:  # pragma: no cover - only off Linux
    jeepney = None

logger = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
DESKTOP_ENTRY = "io.github.fetchq.fetchq"
ACTIONS = (("open", "Open"), ("folder", "Show in folder"))
"""Action keys and labels offered on a finished download's notification."""
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    failed: bool = False
    path: Optional[str] = None
    """A finished file the notification offers to open."""


def finished_messages(batch: Sequence[JobSnapshot]) -> list[Message]:
    """What to say of downloads that ended close together: one notification per kind of
    ending (downloaded, already there, failed), naming up to three."""
    done = [s for s in batch if s.status == DownloadJobStatus.COMPLETED]
    failed = [s for s in batch if s.status == DownloadJobStatus.ERROR]
    messages = []
    for group, one, many in (
        ([s for s in done if not s.already_downloaded], "Download complete", "downloads complete"),
        ([s for s in done if s.already_downloaded], "Already downloaded", "already downloaded"),
    ):
        if len(group) == 1:
            messages.append(Message(one, group[0].name, path=group[0].download_path))
        elif group:
            names = ", ".join(s.name for s in group[:3])
            messages.append(Message(f"{len(group)} {many}", names))
    if len(failed) == 1:
        reason = human_error(failed[0].error_type)
        messages.append(Message("Download failed", f"{failed[0].name}: {reason}", failed=True))
    elif failed:
        names = ", ".join(s.name for s in failed[:3])
        messages.append(Message(f"{len(failed)} downloads failed", names, failed=True))
    return messages


class DesktopNotifications:
    """A connection to the freedesktop notification service; raises OSError from the
    constructor when there is no session bus or nobody owns the service on it.

    ``on_action(notification_id, action_key)`` is called from the listening thread.
    """

    def __init__(self, on_action: Callable[[int, str], None], bus: str = "SESSION") -> None:
        if jeepney is None:  # not on Linux, or an install without it
            raise OSError("no D-Bus library (jeepney)")
        from jeepney import DBusAddress, MatchRule, message_bus  # noqa: PLC0415
        from jeepney.io.threading import Proxy, open_dbus_router  # noqa: PLC0415

        self._new_method_call = jeepney.new_method_call
        self._address = DBusAddress(PATH, bus_name=SERVICE, interface=SERVICE)
        try:
            self._router_context = open_dbus_router(bus)
            self._router = self._router_context.__enter__()
        except Exception as exc:  # no bus address, no socket, refused: no service
            raise OSError(f"no D-Bus session bus: {exc}") from exc
        try:
            bus_proxy = Proxy(message_bus, self._router, timeout=TIMEOUT_S)
            (owned,) = bus_proxy.NameHasOwner(SERVICE)
            if not owned:
                raise OSError("no notification service on the session bus")
            rule = MatchRule(type="signal", interface=SERVICE, path=PATH, member="ActionInvoked")
            bus_proxy.AddMatch(rule)
        except Exception:
            self.close()
            raise
        self._signals: queue.Queue[Any] = queue.Queue()
        self._filter = self._router.filter(rule, queue=self._signals, bufsize=64)
        self._on_action = on_action
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetchq-notify")
        self._listener = threading.Thread(
            target=self._listen, name="fetchq-notify-actions", daemon=True
        )
        self._listener.start()

    def notify(
        self, title: str, body: str, *, urgent: bool = False, actions: bool = False
    ) -> Future[int]:
        """Send a notification; the future holds the id the service gave it."""
        flat_actions = [word for pair in ACTIONS for word in pair] if actions else []
        hints = {
            "urgency": ("y", 2 if urgent else 1),
            "desktop-entry": ("s", DESKTOP_ENTRY),
        }
        message = self._new_method_call(
            self._address,
            "Notify",
            "susssasa{sv}i",
            ("fetchq", 0, DESKTOP_ENTRY, title, body, flat_actions, hints, -1),
        )

        def send() -> int:
            reply = self._router.send_and_get_reply(message, timeout=TIMEOUT_S)
            return int(reply.body[0])

        return self._sender.submit(send)

    def _listen(self) -> None:
        while True:
            message = self._signals.get()
            if message is None:
                return
            with contextlib.suppress(Exception):
                notification_id, key = message.body
                self._on_action(int(notification_id), str(key))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._signals.put(None)
        with contextlib.suppress(Exception):
            self._sender.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._filter.close()
        with contextlib.suppress(Exception):
            self._router_context.__exit__(None, None, None)


class Notifier(QObject):
    """Tells the person, without blocking: a desktop notification, a tray balloon, or the
    status bar, in that order of preference. Every notification is also :attr:`notified`."""

    notified = Signal(str, str)  # title, message
    open_requested = Signal(str)  # a path: the notification's Open was clicked
    show_in_folder_requested = Signal(str)  # a path: its Show in folder was clicked
    _action = Signal(int, str)  # from the D-Bus thread to the GUI thread

    MESSAGE_MS = 6000

    def __init__(
        self,
        tray: Tray,
        status_bar: QStatusBar,
        parent: Optional[QObject] = None,
        *,
        use_desktop: bool = sys.platform.startswith("linux"),
    ) -> None:
        super().__init__(parent)
        self._tray = tray
        self._status_bar = status_bar
        self._paths: dict[int, str] = {}
        self._lock = threading.Lock()
        self._action.connect(self._act)
        self.desktop: Optional[DesktopNotifications] = None
        if use_desktop:
            try:
                self.desktop = DesktopNotifications(self._action.emit)
            except OSError as exc:
                logger.debug("fetchq: desktop notifications unavailable: %s", exc)

    @property
    def channel(self) -> str:
        """Where notifications go: ``desktop``, ``tray`` or ``status bar``."""
        if self.desktop is not None:
            return "desktop"
        return "tray" if self._tray.can_show_messages else "status bar"

    def notify(
        self, title: str, message: str, *, failed: bool = False, path: Optional[str] = None
    ) -> None:
        """``path``: a finished file, which the notification offers to open or show."""
        self.notified.emit(title, message)
        if self.desktop is not None:
            future = self.desktop.notify(title, message, urgent=failed, actions=path is not None)
            if path is not None:
                future.add_done_callback(lambda done: self._remember(done, path))
            return
        if self._tray.can_show_messages:
            self._tray.notify(title, message, failed)
        else:
            self._status_bar.showMessage(f"{title}: {message}", self.MESSAGE_MS)

    def _remember(self, done: Future[int], path: str) -> None:
        if done.exception() is None:
            with self._lock:
                self._paths[done.result()] = path

    def _act(self, notification_id: int, key: str) -> None:
        with self._lock:
            path = self._paths.get(notification_id)
        if path is None:
            return
        if key == "open":
            self.open_requested.emit(path)
        elif key == "folder":
            self.show_in_folder_requested.emit(path)

    def close(self) -> None:
        if self.desktop is not None:
            self.desktop.close()
            self.desktop = None
