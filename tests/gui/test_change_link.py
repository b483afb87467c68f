"""An expired link in the app: the row says so, and "Change link…" takes a new link to the
same file, refuses another file with the reason, and the download finishes from its part."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus
from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.dialogs import ChangeLinkDialog
from fetchq_gui.model import Column
from fetchq_gui.native_messaging import parse_request
from tests.gui.gui_helpers import (
    WAIT_MS,
    cell,
    child,
    click,
    menu_action,
    open_context_menu,
    wait_cell,
)
from tests.helpers import file_sha256, payload, sha256

SIZE, HELD = 2_000_000, 600_000


def test_an_expired_link_is_changed_from_the_context_menu(
    window: MainWindow, qtbot: QtBot, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(SIZE)
    url = server.add("/iso/file.iso", data, stall_after=HELD, stall_seconds=30)
    (job,) = window.add_urls([url], connections=1)
    qtbot.waitUntil(lambda: job.bytes >= HELD, timeout=WAIT_MS)
    window.queue.pause_job(job)
    qtbot.waitUntil(lambda: job.status == DownloadJobStatus.PAUSED, timeout=WAIT_MS)
    server.add("/iso/file.iso", b"<html>expired</html>", status=403, content_type="text/html")
    window.queue.resume_job(job)
    wait_cell(qtbot, window, job.id, Column.STATUS, "Link expired: Change link…")

    menu = open_context_menu(qtbot, window, job.id)
    action = menu_action(menu, "action_change_link")
    assert isinstance(action, QAction)
    assert action.isEnabled()
    action.trigger()
    menu.close()
    dialog = child(window, ChangeLinkDialog, "change_link_dialog")
    assert dialog.url_edit.text() == url

    wrong = other_server.add("/other.iso", payload(SIZE, seed=3))
    dialog.url_edit.setText(wrong)
    click(dialog.ok_button)
    qtbot.waitUntil(lambda: "serves other bytes" in dialog.problem.text(), timeout=WAIT_MS)
    assert dialog.isVisible()
    assert dialog.ok_button.isEnabled()
    assert job.link_expired

    mirror = other_server.add("/mirror/file.iso", data)
    dialog.url_edit.setText(mirror)
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT_MS):
        click(dialog.ok_button)
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert file_sha256(downloads / "file.iso") == sha256(data)
    assert all(
        int((r.header("Range") or "bytes=0").removeprefix("bytes=").split("-")[0]) > 0
        for r in other_server.requests_for("/mirror/file.iso")[2:]
    ), "the download started over instead of continuing"


def test_change_link_is_offered_only_for_one_paused_or_failed_download(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    (done,) = window.add_urls([server.add("/small.bin", b"x" * 100)])
    wait_cell(qtbot, window, done.id, Column.STATUS, "Completed")
    menu = open_context_menu(qtbot, window, done.id)
    action = menu_action(menu, "action_change_link")
    assert isinstance(action, QAction)
    assert not action.isEnabled()
    menu.close()
    (failed,) = window.add_urls([server.url("/missing.bin")])
    qtbot.waitUntil(
        lambda: cell(window, failed.id, Column.STATUS).startswith("Failed"), timeout=WAIT_MS
    )
    menu = open_context_menu(qtbot, window, failed.id)
    action = menu_action(menu, "action_change_link")
    assert isinstance(action, QAction)
    assert action.isEnabled()
    menu.close()


def answer_relink(window: MainWindow, qtbot: QtBot, button: str) -> str:
    """Answer the question a new link from the browser for an expired download asks; its
    text."""
    qtbot.waitUntil(
        lambda: window.findChild(QMessageBox, "relink_question") is not None, timeout=WAIT_MS
    )
    box = window.findChild(QMessageBox, "relink_question")
    assert isinstance(box, QMessageBox)
    text = box.text()
    click(child(box, QPushButton, button))
    return text


def expired_download(
    window: MainWindow, qtbot: QtBot, server: TestServer, data: bytes
) -> tuple[int, str]:
    url = server.add("/iso/file.iso", data, stall_after=HELD, stall_seconds=30)
    (job,) = window.add_urls([url], connections=1)
    qtbot.waitUntil(lambda: job.bytes >= HELD, timeout=WAIT_MS)
    window.queue.pause_job(job)
    qtbot.waitUntil(lambda: job.status == DownloadJobStatus.PAUSED, timeout=WAIT_MS)
    server.add("/iso/file.iso", b"gone", status=410)
    window.queue.resume_job(job)
    qtbot.waitUntil(lambda: job.link_expired, timeout=WAIT_MS)
    return job.id, url


def test_the_same_file_captured_from_the_browser_continues_the_expired_download(
    window: MainWindow, qtbot: QtBot, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(SIZE)
    job_id, _ = expired_download(window, qtbot, server, data)
    notes: list[tuple[str, str]] = []
    window.notifier.notified.connect(lambda title, text: notes.append((title, text)))
    fresh = other_server.add("/signed/file.iso?expires=2027", data)
    request = parse_request(
        {"type": "download", "url": fresh, "size": SIZE, "referrer": other_server.url("/page")}
    )
    assert window.add_browser_downloads([request]) == []  # no second download of it
    answer_relink(window, qtbot, "relink_continue")
    wait_cell(qtbot, window, job_id, Column.STATUS, "Completed")
    assert len(window.queue.list_jobs()) == 1
    assert file_sha256(downloads / "file.iso") == sha256(data)
    assert ("Download from the browser", "Continuing file.iso with the new link") in notes


def test_another_file_of_the_same_name_from_the_browser_is_a_new_download(
    window: MainWindow, qtbot: QtBot, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    job_id, _ = expired_download(window, qtbot, server, payload(SIZE))
    other = payload(SIZE, seed=5)
    request = parse_request(
        {
            "type": "download",
            "url": other_server.add("/file.iso", other),
            "size": SIZE,
            "referrer": other_server.url("/page"),
        }
    )
    window.add_browser_downloads([request])
    answer_relink(window, qtbot, "relink_continue")  # then refused: its bytes differ
    qtbot.waitUntil(lambda: len(window.queue.list_jobs()) == 2, timeout=WAIT_MS)
    (new,) = [job for job in window.queue.list_jobs() if job.id != job_id]
    wait_cell(qtbot, window, new.id, Column.STATUS, "Completed")
    assert window.queue.id_to_job(job_id).link_expired  # the expired one waits, untouched
    assert new.download_path is not None
    assert file_sha256(new.download_path) == sha256(other)


def test_a_page_on_another_site_is_asked_about_and_cannot_splice_its_bytes(
    window: MainWindow, qtbot: QtBot, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    """Issue 24: a page served the real file's first bytes and its own after them; the
    expired download went on from its part file without a word. Now the user is asked,
    with both sites named, and from another site the file starts again from zero."""
    data = payload(SIZE)
    job_id, _ = expired_download(window, qtbot, server, data)
    notes: list[tuple[str, str]] = []
    window.notifier.notified.connect(lambda title, text: notes.append((title, text)))
    spliced = data[:HELD] + payload(SIZE, seed=9)[HELD:]
    page_link = other_server.add("/file.iso", spliced).replace("127.0.0.1", "localhost", 1)
    request = parse_request(
        {"type": "download", "url": page_link, "size": SIZE, "referrer": "http://localhost/p"}
    )
    assert window.add_browser_downloads([request]) == []
    text = answer_relink(window, qtbot, "relink_continue")
    assert "127.0.0.1" in text
    assert "localhost" in text
    assert "another site" in text
    wait_cell(qtbot, window, job_id, Column.STATUS, "Completed")
    assert other_server.bytes_sent("/file.iso") >= SIZE  # the whole file, from the new site
    assert file_sha256(downloads / "file.iso") == sha256(spliced)
    (note,) = [text for title, text in notes if title == "Download from the browser"]
    assert "Started again from zero" in note


def test_download_separately_leaves_the_expired_download_alone(
    window: MainWindow, qtbot: QtBot, server: TestServer, other_server: TestServer, downloads: Path
) -> None:
    data = payload(SIZE)
    job_id, _ = expired_download(window, qtbot, server, data)
    fresh = other_server.add("/file.iso", data)
    request = parse_request(
        {"type": "download", "url": fresh, "size": SIZE, "referrer": other_server.url("/")}
    )
    window.add_browser_downloads([request])
    answer_relink(window, qtbot, "relink_separately")
    qtbot.waitUntil(lambda: len(window.queue.list_jobs()) == 2, timeout=WAIT_MS)
    (new,) = [job for job in window.queue.list_jobs() if job.id != job_id]
    wait_cell(qtbot, window, new.id, Column.STATUS, "Completed")
    assert window.queue.id_to_job(job_id).link_expired
    assert new.download_path is not None
    assert file_sha256(new.download_path) == sha256(data)
