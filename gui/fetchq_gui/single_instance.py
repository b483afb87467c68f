"""One fetchq per user and profile: a second launch hands its URLs to the first and exits.

The socket lives where only this user can create files (``$XDG_RUNTIME_DIR``, else a 0700
folder of the profile), and each end asks the other's user id: another account on the machine
can neither listen in the app's place nor hand it links. On Windows the pipe carries the
user's ACL and its name holds a secret from the user's profile folder, so no one else can
take the name first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from .native_messaging import BrowserRequest, parse_request
from .owner_only import NotPrivateError, private_folder, same_user

MAX_MESSAGE_BYTES = 1 << 20
SOCKET_PATH_MAX = 100
"""Unix socket paths must fit ``sun_path`` (108 bytes on Linux, 104 on macOS)."""
_SECRET_NAME = "instance-secret"

log = logging.getLogger(__name__)


class ForeignListenerError(NotPrivateError):
    """The app's socket is held by a process of another user: nothing is handed to it."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _socket_folders(profile: Path) -> list[Path]:
    """Where the socket may live, best first: the session's runtime folder, the profile's."""
    folders = []
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        folders.append(Path(runtime) / "fetchq")
    folders.append(profile / "run")
    folders.append(Path(tempfile.gettempdir()) / f"fetchq-{os.getuid()}")
    return folders


def _windows_secret(profile: Path) -> str:
    """A random word kept in the profile folder (the user's alone), made on first use."""
    path = private_folder(profile) / _SECRET_NAME
    try:
        with open(path, "x", encoding="ascii") as new:
            new.write(secrets.token_hex(16))
    except FileExistsError:
        pass
    return path.read_text(encoding="ascii").strip()


def instance_address(profile: Path) -> str:
    """The socket of the app for the profile folder ``profile``: a path on Unix, in a folder
    that is this user's alone (made if needed); a pipe name on Windows.

    Raises :class:`NotPrivateError` (an ``OSError``) when no such folder can be had.
    """
    profile = profile.resolve()
    if sys.platform == "win32":
        return f"fetchq-{_digest(str(profile), _windows_secret(profile))}"
    name = f"{_digest(str(profile))}.sock"
    problems = []
    for folder in _socket_folders(profile):
        address = folder / name
        if len(os.fsencode(address)) > SOCKET_PATH_MAX:
            continue
        try:
            private_folder(folder)
        except OSError as exc:
            problems.append(str(exc))
            continue
        return str(address)
    raise NotPrivateError("no private folder for fetchq's socket: " + "; ".join(problems))


class SingleInstance(QObject):
    """The running instance listens; a new one calls :meth:`hand_over` before building a window."""

    urls_received = Signal(list)  # list[str], from a later launch
    downloads_received = Signal(list)  # list[BrowserRequest], from the browser host
    imports_received = Signal(list)  # list[str]: list files to import (fetchq --import)
    pinged = Signal()  # the browser helper asked whether the app runs
    raise_requested = Signal()
    add_dialog_requested = Signal()

    def __init__(self, key: str, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.key = key
        self.listen_error = ""
        """Why :meth:`listen` failed, in words for the user."""
        self._server: Optional[QLocalServer] = None
        self._buffers: dict[QLocalSocket, bytes] = {}

    def hand_over(
        self,
        urls: Sequence[str],
        timeout_ms: int = 1500,
        open_add_dialog: bool = False,
        downloads: Sequence[BrowserRequest] = (),
        imports: Sequence[str] = (),
        ping: bool = False,
    ) -> bool:
        """Send ``urls`` (and ``downloads`` from the browser, with their cookies) to a running
        instance; False when none is running. Raises :class:`ForeignListenerError`, sending
        nothing, when the listener runs as another user.

        Runs before the event loop starts, so its short blocking waits freeze nothing.
        """
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(timeout_ms):
            return False
        if not same_user(int(socket.socketDescriptor())):
            socket.abort()
            raise ForeignListenerError(
                f"another user's program is listening at {self.key}; fetchq handed it nothing"
            )
        message = {
            "urls": list(urls),
            "add": open_add_dialog,
            "downloads": [request.to_message() for request in downloads],
            "import": list(imports),
            "ping": ping,
        }
        socket.write(json.dumps(message).encode("utf-8") + b"\n")
        socket.flush()
        socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            socket.waitForDisconnected(timeout_ms)
        return True

    def listen(self) -> bool:
        """Become the running instance; False with :attr:`listen_error` set when that fails.
        A stale socket left by a crash is removed first (it is in the user's own folder)."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            QLocalServer.removeServer(self.key)
            if not server.listen(self.key):
                self.listen_error = f"{self.key}: {server.errorString()}"
                server.deleteLater()
                return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _accept(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if not same_user(int(socket.socketDescriptor())):
                log.warning("refused a connection from another user's process")
                socket.abort()
                socket.deleteLater()
                continue
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._finish(s))

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_MESSAGE_BYTES:
            socket.abort()
            data = b""
        self._buffers[socket] = data
        if data.endswith(b"\n"):
            self._finish(socket)

    def _finish(self, socket: QLocalSocket) -> None:
        data = self._buffers.pop(socket, b"")
        socket.deleteLater()
        if not data.strip():
            return
        try:
            message = json.loads(data)
            urls = [str(u) for u in message.get("urls", [])]
            open_add_dialog = bool(message.get("add", False))
            # checked again here: whatever reaches the app is validated by the app
            downloads = [parse_request(item) for item in message.get("downloads", [])]
            imports = [str(path) for path in message.get("import", [])]
        except (ValueError, AttributeError, TypeError):  # ProtocolError is a ValueError
            return
        if message.get("ping"):
            self.pinged.emit()
            return  # the browser helper asks whether the app runs: nothing to show
        if downloads:
            self.downloads_received.emit(downloads)
        if imports:
            self.imports_received.emit(imports)
        if (downloads or imports) and not urls and not open_add_dialog:
            return  # a download from the browser does not pull the window forward
        self.raise_requested.emit()
        if urls:
            self.urls_received.emit(urls)
        if open_add_dialog:
            self.add_dialog_requested.emit()
