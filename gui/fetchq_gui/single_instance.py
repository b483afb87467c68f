"""One fetchq per user and profile: a second launch hands its URLs to the first and exits."""

from __future__ import annotations

import getpass
import hashlib
import json
from collections.abc import Sequence
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from .native_messaging import BrowserRequest, parse_request

MAX_MESSAGE_BYTES = 1 << 20


def instance_key(profile: str) -> str:
    """A local-socket name unique to this user and profile folder."""
    digest = hashlib.sha256(f"{getpass.getuser()}\0{profile}".encode()).hexdigest()[:16]
    return f"fetchq-{digest}"


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
        instance; False when none is running. The socket is the user's own (owner-only on
        Unix).

        Runs before the event loop starts, so its short blocking waits freeze nothing.
        """
        socket = QLocalSocket()
        socket.connectToServer(self.key)
        if not socket.waitForConnected(timeout_ms):
            return False
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
        """Become the running instance. A stale socket left by a crash is removed first."""
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.key):
            QLocalServer.removeServer(self.key)
            if not server.listen(self.key):
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
