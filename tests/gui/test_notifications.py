"""Notifications reach the desktop's notification service over D-Bus, with actions that work:
a private ``dbus-daemon`` and a stand-in notification service, spoken to over a real bus."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, HeaderFields, MessageType, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from fetchq import DownloadQueueService, JobCallbacks
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow, Settings
from tests.gui.gui_helpers import WAIT_MS, wait_cell
from tests.helpers import FAST_RETRY

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@pytest.fixture
def session_bus() -> Iterator[str]:
    """A private session bus: its address."""
    if shutil.which("dbus-daemon") is None:
        message = "dbus-daemon not installed (apt-get install dbus)"
        if os.environ.get("FETCHQ_REQUIRE_XVFB"):
            pytest.fail(message)
        pytest.skip(message)
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    try:
        yield address
    finally:
        daemon.terminate()
        daemon.wait(10)
        daemon.stdout.close()


class FakeNotificationService:
    """Owns org.freedesktop.Notifications on the bus; records each Notify call, answers with
    an id, and sends ActionInvoked when told to (from its own thread, as a daemon would)."""

    def __init__(self, address: str) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.received = threading.Event()
        self._outbox: queue.Queue[tuple[int, str]] = queue.Queue()
        self._stop = threading.Event()
        self._connection = open_dbus_connection(bus=address)
        reply = self._connection.send_and_get_reply(message_bus.RequestName(SERVICE))
        assert reply.body == (1,)  # primary owner
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            while not self._outbox.empty():
                notification_id, key = self._outbox.get()
                signal = new_signal(
                    DBusAddress(PATH, interface=SERVICE),
                    "ActionInvoked",
                    "us",
                    (notification_id, key),
                )
                self._connection.send(signal)
            try:
                message = self._connection.receive(timeout=0.05)
            except TimeoutError:
                continue
            header = message.header
            member = header.fields.get(HeaderFields.member)
            if header.message_type == MessageType.method_call and member == "Notify":
                self.calls.append(message.body)
                self._connection.send(new_method_return(message, "u", (len(self.calls),)))
                self.received.set()

    def invoke(self, notification_id: int, key: str) -> None:
        self._outbox.put((notification_id, key))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._connection.close()


@pytest.fixture
def notification_service(session_bus: str) -> Iterator[FakeNotificationService]:
    service = FakeNotificationService(session_bus)
    yield service
    service.close()


@pytest.fixture
def desktop_window(
    qtbot: QtBot,
    qasync_loop: Any,
    settings: Settings,
    downloads: Path,
    session_bus: str,
    notification_service: FakeNotificationService,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[MainWindow]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    queue_ = DownloadQueueService(retry=FAST_RETRY)
    window = MainWindow(queue_, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(window)
    window.show()
    yield window
    queue_.callbacks = JobCallbacks()
    queue_.close()
    window.notifier.close()


def test_bug8_notifications_go_to_the_desktop_service_with_actions(
    qtbot: QtBot,
    desktop_window: MainWindow,
    notification_service: FakeNotificationService,
    server: TestServer,
    downloads: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = desktop_window
    assert window.notifier.channel == "desktop"
    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(QUrl(url).toLocalFile())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    ok, _missing = window.add_urls([server.add("/song.ogg", b"o" * 4000), server.url("/gone")])
    wait_cell(qtbot, window, ok.id, Column.STATUS, "Completed")
    qtbot.waitUntil(lambda: len(notification_service.calls) == 2, timeout=WAIT_MS)
    by_title = {call[3]: call for call in notification_service.calls}
    app, replaces, _icon, _title, body, actions, hints, _timeout = by_title["Download complete"]
    assert (app, replaces, body) == ("fetchq", 0, "song.ogg")
    assert actions == ["open", "Open", "folder", "Show in folder"]
    assert hints["desktop-entry"] == ("s", "io.github.fetchq.fetchq")
    failed = by_title["Download failed"]
    assert failed[4] == "gone: Not found on the server"
    assert failed[5] == []  # nothing to open
    assert failed[6]["urgency"] == ("y", 2)
    assert "Download" not in window.statusBar().currentMessage()  # the desktop took them

    notification_id = notification_service.calls.index(by_title["Download complete"]) + 1
    notification_service.invoke(notification_id, "folder")
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT_MS)
    assert opened == [str(downloads)]
    notification_service.invoke(notification_id, "open")
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=WAIT_MS)
    assert opened[1] == str(downloads / "song.ogg")


def test_without_a_notification_service_the_status_bar_tells(
    qtbot: QtBot,
    qasync_loop: Any,
    settings: Settings,
    downloads: Path,
    session_bus: str,
    server: TestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)  # a bus, but no daemon on it
    queue_ = DownloadQueueService(retry=FAST_RETRY)
    window = MainWindow(queue_, downloads, settings=settings, refresh_ms=40)
    qtbot.addWidget(window)
    try:
        assert window.notifier.channel == "status bar"
        (job,) = window.add_urls([server.add("/plain.bin", b"p" * 10)])
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
        qtbot.waitUntil(
            lambda: window.statusBar().currentMessage() == "Download complete: plain.bin",
            timeout=WAIT_MS,
        )
    finally:
        queue_.callbacks = JobCallbacks()
        queue_.close()
