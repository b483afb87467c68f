"""Schedules in the app (issue 17, item 3): download hours, a speed limit for some hours,
and what happens when every download is done. The clock is the test's."""

from __future__ import annotations

import shlex
import sys
from datetime import datetime, time
from pathlib import Path

from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus, Hours
from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.model import Column
from fetchq_gui.scheduling import Plan, decide
from tests.gui.gui_helpers import WAIT_MS, child, click, wait_cell
from tests.helpers import payload

WORK = Hours(time(9), time(17), frozenset({0, 1, 2, 3, 4}))
MONDAY_MORNING = datetime(2026, 11, 30, 10, 0)
MONDAY_NIGHT = datetime(2026, 11, 30, 23, 0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_the_plan_decides_hours_and_speed() -> None:
    plan = Plan(download_hours=WORK, limit_hours=WORK, scheduled_limit=1 << 20, base_limit=None)
    assert decide(plan, MONDAY_MORNING) == (True, 1 << 20)
    assert decide(plan, MONDAY_NIGHT) == (False, None)
    assert decide(Plan(base_limit=5000), MONDAY_NIGHT) == (True, 5000)


def test_outside_the_hours_downloads_wait_and_running_ones_pause_then_go_on(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    clock = Clock(MONDAY_MORNING)
    window.scheduler.clock = clock
    window.settings.set_hours("downloads", WORK)
    window.apply_settings()
    slow = server.add("/slow.bin", payload(400_000), rate=100_000)
    (running,) = window.add_urls([slow])
    qtbot.waitUntil(lambda: running.bytes > 0, timeout=WAIT_MS)

    clock.now = MONDAY_NIGHT  # the hours end
    window.scheduler.tick()
    wait_cell(qtbot, window, running.id, Column.STATUS, "Paused")
    assert "Outside the download hours (09:00-17:00)" in window.statusBar().currentMessage()
    (waiting,) = window.add_urls([server.add("/later.bin", b"l" * 3000)])
    assert window.queue.held
    assert waiting.status == DownloadJobStatus.WAITING

    clock.now = datetime(2026, 12, 1, 9, 0)  # Tuesday's hours begin
    window.scheduler.tick()
    wait_cell(qtbot, window, waiting.id, Column.STATUS, "Completed")
    wait_cell(qtbot, window, running.id, Column.STATUS, "Completed")
    assert (downloads / "later.bin").read_bytes() == b"l" * 3000


def test_a_speed_limit_holds_in_its_hours_only(window: MainWindow) -> None:
    clock = Clock(MONDAY_MORNING)
    window.scheduler.clock = clock
    window.settings.set_hours("limit", WORK)
    window.settings.scheduled_limit_kib = 512
    window.settings.speed_limit_kib = 0
    window.apply_settings()
    assert window.queue.speed_limit == 512 * 1024
    clock.now = MONDAY_NIGHT
    window.scheduler.tick()
    assert window.queue.speed_limit is None


def test_when_all_is_done_the_users_command_runs(
    window: MainWindow, qtbot: QtBot, server: TestServer, tmp_path: Path
) -> None:
    marker = tmp_path / "all done.txt"
    window.settings.when_done = "command"
    window.settings.when_done_command = shlex.join(
        [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('done')"]
    )
    jobs = window.add_urls([server.add(f"/f{n}.bin", b"x" * 1000) for n in range(3)])
    for job in jobs:
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    qtbot.waitUntil(marker.exists, timeout=WAIT_MS)  # another process writes it
    assert marker.read_text() == "done"


def test_the_schedule_is_set_in_settings(window: MainWindow) -> None:
    dialog = window.open_settings()
    row = dialog.hours_rows["downloads"]
    row.check.setChecked(True)
    row.start.setTime(row.start.time().fromString("22:00", "HH:mm"))
    row.end.setTime(row.end.time().fromString("06:00", "HH:mm"))
    for number, day in enumerate(row.days):
        day.setChecked(number >= 5)  # the weekend nights
    dialog.when_done.setCurrentIndex(dialog.when_done.findData("quit"))
    from PySide6.QtWidgets import QPushButton

    click(child(dialog, QPushButton, "settings_ok"))
    assert window.settings.hours("downloads") == Hours(time(22), time(6), frozenset({5, 6}))
    assert window.settings.when_done == "quit"
