"""The app as a whole: quitting keeps downloads, the journal brings them back, the entry
points start, and a second launch hands its links to the first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus, DownloadQueueService
from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow, Settings
from fetchq_gui.single_instance import SingleInstance, instance_address
from tests.gui.gui_helpers import WAIT_MS, cell, click_toolbar, wait_cell
from tests.helpers import FAST_RETRY, file_sha256, payload, sha256

GUI_ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def run_python(
    *args: str, env: Mapping[str, str] = GUI_ENV, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` (this interpreter) to its end, its output captured as text."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_quit_pauses_downloads_and_the_next_start_resumes_them(
    qtbot: QtBot, qasync_loop: object, server: TestServer, settings: Settings, tmp_path: Path
) -> None:
    data = payload(3_000_000)
    url = server.add("/long.iso", data, rate=1_000_000)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    journal = tmp_path / "journal.sqlite3"

    first = DownloadQueueService(journal=journal, retry=FAST_RETRY)
    window = MainWindow(first, downloads, settings=settings, owns_queue=True, refresh_ms=40)
    qtbot.addWidget(window)
    window.show()
    (job,) = window.add_urls([url])
    qtbot.waitUntil(lambda: job.bytes > 300_000, timeout=WAIT_MS)
    with qtbot.waitSignal(window.closed, timeout=WAIT_MS):
        click_toolbar(qtbot, window, "action_quit")
    assert job.status == DownloadJobStatus.PAUSED
    assert (downloads / "long.iso.part").stat().st_size > 0
    kept = (downloads / "long.iso.part").stat().st_size

    second = DownloadQueueService(journal=journal, retry=FAST_RETRY)
    again = MainWindow(second, downloads, settings=settings, owns_queue=True, refresh_ms=40)
    qtbot.addWidget(again)
    again.show()
    assert again.model.rowCount() == 1
    (restored,) = second.list_jobs()
    assert restored.id == job.id
    wait_cell(qtbot, again, job.id, Column.STATUS, "Completed")
    assert file_sha256(downloads / "long.iso") == sha256(data)
    resumed = server.requests_for("/long.iso")[-1]
    assert resumed.header("Range") == f"bytes={kept}-" or resumed.bytes_sent <= len(data) - kept
    with qtbot.waitSignal(again.closed, timeout=WAIT_MS):
        again.action("action_quit").trigger()


def test_entry_points_start(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "fetchq"
    assert script.exists()
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert version.stdout.startswith("fetchq ")
    shot = tmp_path / "demo.png"
    result = run_python("-m", "fetchq_gui", "--demo", "--screenshot", str(shot), timeout=90)
    assert result.returncode == 0, result.stderr
    assert shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_display_the_app_says_so_instead_of_aborting() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = run_python("-m", "fetchq_gui", "--demo", env=env)
    assert result.returncode == 2, result.stderr
    assert "fetchq needs a display, and none was found" in result.stderr
    assert "make demo-cli" in result.stderr


def test_a_second_launch_hands_its_links_to_the_first(server: TestServer, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    downloads = tmp_path / "Downloads"
    profile.mkdir()
    downloads.mkdir()
    (profile / "settings.ini").write_text(f"[downloads]\nfolder={downloads}\n", encoding="utf-8")
    url = server.add("/handed.bin", payload(4000))
    log = tmp_path / "first.log"
    with open(log, "w", encoding="utf-8") as output:
        first = subprocess.Popen(
            [sys.executable, "-m", "fetchq_gui", "--profile", str(profile)],
            env=GUI_ENV,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        probe = SingleInstance(instance_address(profile))
        deadline = time.monotonic() + 30
        while not probe.hand_over([], timeout_ms=200):
            assert first.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the first instance never listened"
            time.sleep(0.1)
        second = run_python("-m", "fetchq_gui", "--profile", str(profile), url)
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        deadline = time.monotonic() + 30
        while not (downloads / "handed.bin").exists():
            assert time.monotonic() < deadline, "the handed-over link was not downloaded"
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0, log.read_text(encoding="utf-8")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert (downloads / "handed.bin").read_bytes() == payload(4000)
    with DownloadQueueService(journal=profile / "downloads.sqlite3") as reopened:
        (job,) = reopened.list_jobs()
        assert job.status == DownloadJobStatus.COMPLETED


def test_a_journal_that_cannot_be_read_is_explained(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "downloads.sqlite3").write_bytes(b"this is not sqlite" * 100)
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QMessageBox\n"
        "shown = []\n"
        "QMessageBox.exec = lambda self: shown.append(self.text()) or 0\n"
        "from fetchq_gui.app import main\n"
        f"code = main(['--profile', {str(profile)!r}])\n"
        "print(code, shown)\n"
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 [")
    assert "not a readable fetchq journal" in result.stdout
    assert (profile / "downloads.sqlite3").read_bytes() == b"this is not sqlite" * 100


def test_a_socket_that_cannot_listen_is_explained(tmp_path: Path) -> None:
    """Before, the app ran on without its socket: the browser's downloads went nowhere."""
    profile = tmp_path / "profile"
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QMessageBox\n"
        "shown = []\n"
        "QMessageBox.exec = lambda self: shown.append(self.text()) or 0\n"
        "import fetchq_gui.app as app\n"
        f"app.instance_address = lambda folder: {str(tmp_path / 'gone' / 'app.sock')!r}\n"
        f"code = app.main(['--profile', {str(profile)!r}])\n"
        "print(code, shown)\n"
    )
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 [")
    assert "cannot listen" in result.stdout
    assert str(tmp_path / "gone" / "app.sock") in result.stdout
    assert (profile.stat().st_mode & 0o777) == 0o700  # the list's folder is the user's alone


@pytest.mark.parametrize("reason", ["in-process handoff"])
def test_single_instance_in_process(qtbot: QtBot, reason: str, tmp_path: Path) -> None:
    key = instance_address(tmp_path)
    running = SingleInstance(key)
    assert running.listen()
    received: list[list[str]] = []
    running.urls_received.connect(received.append)
    other = SingleInstance(key)
    assert other.hand_over(["https://example.org/a", "https://example.org/b"])
    qtbot.waitUntil(lambda: bool(received), timeout=WAIT_MS)
    assert received == [["https://example.org/a", "https://example.org/b"]]
    running.close()
    assert not SingleInstance(key).hand_over(["x"], timeout_ms=200)


def test_cell_helper_reads_the_table(qtbot: QtBot, window: MainWindow, server: TestServer) -> None:
    (job,) = window.add_urls([server.add("/c.bin", b"c")])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert cell(window, job.id, Column.NAME) == "c.bin"
