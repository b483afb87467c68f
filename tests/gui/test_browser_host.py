"""``fetchq --browser-host``: answers to the extension, and hand-over to the app (started when
it is not running), through the real single-instance socket and the real window."""

from __future__ import annotations

import io
import json
import struct
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from fetchq import __version__
from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.browser_host import SocketChannel, answer, app_command, serve
from fetchq_gui.native_messaging import BrowserRequest, Cookie, parse_request
from fetchq_gui.single_instance import SingleInstance
from tests.helpers import LONG, payload, sha256

REQUEST = {
    "type": "download",
    "url": "https://example.org/file.iso",
    "referrer": "https://example.org/downloads",
    "filename": "file.iso",
    "userAgent": "Mozilla/5.0 Chromium/156",
    "cookies": [{"name": "sid", "value": "abc 1"}],
}


class FakeApp:
    def __init__(self, problem: Optional[str] = None, running: bool = True) -> None:
        self.delivered: list[BrowserRequest] = []
        self.problem = problem
        self.is_running = running

    def deliver(self, request: BrowserRequest) -> Optional[str]:
        self.delivered.append(request)
        return self.problem

    def running(self) -> bool:
        return self.is_running


def framed(*messages: object) -> io.BytesIO:
    stream = io.BytesIO()
    for message in messages:
        body = json.dumps(message).encode()
        stream.write(struct.pack("=I", len(body)) + body)
    stream.seek(0)
    return stream


def replies(stream: io.BytesIO) -> list[object]:
    data, found = stream.getvalue(), []
    while data:
        (length,) = struct.unpack("=I", data[:4])
        found.append(json.loads(data[4 : 4 + length]))
        data = data[4 + length :]
    return found


def test_ping_download_and_a_bad_request_are_each_answered_in_order() -> None:
    app, out = FakeApp(running=False), io.BytesIO()
    stdin = framed({"type": "ping"}, REQUEST, {"type": "download", "url": "file:///etc/passwd"})
    assert serve(stdin, out, app) == 0
    assert replies(out) == [
        {"ok": True, "version": __version__, "running": False},
        {"ok": True},
        {"ok": False, "error": "url is not an http, https, ftp or ftps link: file:///etc/passwd"},
    ]
    (request,) = app.delivered
    assert request.cookies == (Cookie("sid", "abc 1"),)
    assert request.cookie_pairs == [("sid", "abc 1")]
    assert request.headers == {
        "User-Agent": "Mozilla/5.0 Chromium/156",
        "Referer": "https://example.org/downloads",
    }


def test_the_apps_refusal_reaches_the_extension() -> None:
    reply = answer(REQUEST, FakeApp(problem="fetchq was started but did not answer within 30 s"))
    assert reply == {"ok": False, "error": "fetchq was started but did not answer within 30 s"}


def test_a_broken_frame_ends_the_host_with_a_reason() -> None:
    out = io.BytesIO()
    stdin = io.BytesIO(struct.pack("=I", 50) + b'{"type": "pi')  # the pipe closes mid-message
    assert serve(stdin, out, FakeApp()) == 1
    (reply,) = replies(out)
    assert reply["ok"] is False  # type: ignore[index]
    assert "closed after 12 of a message's 50 bytes" in reply["error"]  # type: ignore[index]


def test_a_request_round_trips_through_the_hand_over_message() -> None:
    request = parse_request(REQUEST)
    assert parse_request(request.to_message()) == request
    assert "abc 1" not in repr(request)


def test_the_host_starts_the_app_when_none_listens_and_hands_the_download_over(
    qtbot: QtBot,
) -> None:
    key = f"fetchq-test-{uuid.uuid4().hex[:12]}"
    app = SingleInstance(key, parent=QCoreApplication.instance())  # outlives queued events
    started: list[Sequence[str]] = []

    def start(command: Sequence[str]) -> None:  # the app "starts": it listens from now on
        started.append(command)
        assert app.listen()

    channel = SocketChannel(key, ["fetchq", "--profile", "/p"], start=start)
    raised: list[bool] = []
    app.raise_requested.connect(lambda: raised.append(True))
    try:
        assert channel.running() is False
        with qtbot.waitSignal(app.downloads_received, timeout=5000) as received:
            assert channel.deliver(parse_request(REQUEST)) is None
        assert started == [["fetchq", "--profile", "/p"]]
        (request,) = received.args[0]
        assert request.url == REQUEST["url"]
        assert request.cookie_pairs == [("sid", "abc 1")]
        with qtbot.waitSignal(app.pinged, timeout=5000):
            assert channel.running() is True  # a ping: the window is not pulled forward
        assert raised == []
    finally:
        app.close()


def test_an_app_that_cannot_start_is_reported() -> None:
    def start(command: Sequence[str]) -> None:
        raise FileNotFoundError(2, "No such file or directory", command[0])

    channel = SocketChannel(f"fetchq-test-{uuid.uuid4().hex[:12]}", ["/gone/fetchq"], start=start)
    problem = channel.deliver(parse_request(REQUEST))
    assert problem is not None
    assert problem.startswith("fetchq could not be started")
    assert "/gone/fetchq" in problem


def test_the_app_command_keeps_the_profile(tmp_path: Path) -> None:
    command = app_command(tmp_path)
    assert command[-2:] == ["--profile", str(tmp_path)]
    assert command[1:3] == ["-m", "fetchq_gui"]


def test_a_download_from_the_browser_is_queued_with_its_cookies_and_shown(
    window: MainWindow, qtbot: QtBot, downloads: Path
) -> None:
    data = payload(50_000)
    with TestServer() as server:
        url = server.add("/iso/file.bin", data)
        request = parse_request(
            {**REQUEST, "url": url, "referrer": server.url("/page"), "filename": "chosen.bin"}
        )
        notes: list[tuple[str, str]] = []
        window.notifier.notified.connect(lambda title, text: notes.append((title, text)))
        (job,) = window.add_browser_downloads([request])
        assert window.queue.wait_for_job(job, LONG).complete, job.error
        qtbot.waitUntil(lambda: window.model.snapshot(job.id) is not None)
        assert sha256((downloads / "chosen.bin").read_bytes()) == sha256(data)
        for sent in server.requests_for("/iso/file.bin"):
            assert sent.header("Cookie") == "sid=abc 1"
            assert sent.header("User-Agent") == "Mozilla/5.0 Chromium/156"
            assert sent.header("Referer") == server.url("/page")
    assert notes[0] == ("Download from the browser", "Added chosen.bin")
    snapshot = window.model.snapshot(job.id)
    assert snapshot is not None
    assert snapshot.name == "chosen.bin"


def test_a_browser_download_fetchq_refuses_is_told_without_a_dialog(
    window: MainWindow, qtbot: QtBot
) -> None:
    request = BrowserRequest(url="https://example.org/x", cookies=(Cookie("a", "1;b=2"),))
    notes: list[tuple[str, str]] = []
    window.notifier.notified.connect(lambda title, text: notes.append((title, text)))
    assert window.add_browser_downloads([request]) == []
    assert notes == [
        (
            "A download from the browser was not added",
            "example.org: the value of cookie a holds characters a cookie cannot carry",
        )
    ]
    assert window.findChild(QMessageBox, "warning_box") is None
