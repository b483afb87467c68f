"""The table model's coalescing, and the pure text helpers the window uses."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from fetchq import DownloadJobStatus
from fetchq_gui import Column, JobSnapshot, JobTableModel
from fetchq_gui.model import _merge
from fetchq_gui.units import SpeedMeter, eta_seconds, human_duration, human_size, human_speed
from fetchq_gui.urls import extract_urls


def snap(job_id: int, **changes: object) -> JobSnapshot:
    base = JobSnapshot(
        id=job_id,
        source=f"https://example.org/{job_id}.bin",
        name=f"{job_id}.bin",
        status=DownloadJobStatus.WAITING,
        bytes=0,
        total=1000,
        priority=10,
        added="2026-01-01T10:00:00+00:00",
        dest="/tmp",
        download_path=None,
        error_type=None,
        attempts=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_many_updates_become_one_datachanged_per_run_of_rows(qtbot: QtBot) -> None:
    model = JobTableModel(refresh_ms=60_000)  # flushed by hand below
    model.add(snap(i) for i in range(1000))
    emitted: list[tuple[int, int, int, int]] = []

    def record(top: QModelIndex, bottom: QModelIndex) -> None:
        emitted.append((top.row(), bottom.row(), top.column(), bottom.column()))

    model.dataChanged.connect(record)
    for step in range(1, 11):  # ten progress reports for each of rows 100..149
        for i in range(100, 150):
            model.update(snap(i, status=DownloadJobStatus.RUNNING, bytes=step * 50))
    model.update(snap(700, priority=3))
    model.flush()
    assert emitted == [(100, 149, Column.PROGRESS, Column.STATUS), (700, 700, 6, 6)]
    assert model.index(120, Column.PROGRESS).data() == "50 %"
    assert model.index(700, Column.PRIORITY).data() == "3"
    emitted.clear()
    model.flush()  # nothing new: only running rows whose speed changed repaint
    assert all(first >= Column.PROGRESS for _, _, first, _ in emitted)


def test_status_texts_and_errors(qtbot: QtBot) -> None:
    model = JobTableModel(refresh_ms=60_000)
    model.add([snap(1)])
    model.update(snap(1, status=DownloadJobStatus.ERROR, error_type="HTTPError(Not Found)"))
    model.flush()
    assert model.index(0, Column.STATUS).data() == "Failed: Not found on the server"
    assert model.index(0, Column.SIZE).data() == "1000 B"


def test_merge_runs() -> None:
    assert _merge({1: (2, 3), 2: (0, 1), 5: (4, 4)}) == [(1, 2, 0, 3), (5, 5, 4, 4)]


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, ""),
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (5 * 1024**3, "5.0 GiB"),
        (150 * 1024**2, "150 MiB"),
    ],
)
def test_human_size(size: int | None, text: str) -> None:
    assert human_size(size) == text


def test_speed_duration_and_eta() -> None:
    assert human_speed(0) == ""
    assert human_speed(2.5 * 1024 * 1024) == "2.5 MiB/s"
    assert human_duration(42) == "42 s"
    assert human_duration(125) == "2 min 5 s"
    assert human_duration(3725) == "1 h 2 min"
    assert human_duration(-1) == ""
    assert eta_seconds(500, 1000, 100) == 5
    assert eta_seconds(0, 0, 100) is None


def test_speed_meter_smooths_and_decays() -> None:
    meter = SpeedMeter(half_life=1.0)
    meter.sample(0.0, 0)
    for second in range(1, 11):
        meter.sample(float(second), second * 1000)
    assert 990 < meter.speed <= 1000
    for second in range(11, 21):
        meter.sample(float(second), 10_000)
    assert meter.speed < 5


def test_extract_urls_from_prose_and_lists() -> None:
    text = (
        "Here: https://example.org/a.iso, and (https://example.org/b.zip).\n"
        "http://example.org/a.iso\n"  # a different URL: the scheme differs
        "https://example.org/a.iso\n"  # a duplicate
        "gopher://example.org/c\n"
        "example.org/d.tar\n"
        "just words\n"
    )
    parsed = extract_urls(text)
    assert parsed.urls == (
        "https://example.org/a.iso",
        "https://example.org/b.zip",
        "http://example.org/a.iso",
    )
    reasons = {r.text: r.reason for r in parsed.refused}
    assert "not an http, https, ftp or ftps URL" in reasons["gopher://example.org/c"]
    assert reasons["example.org/d.tar"] == "no https://, http:// or ftp:// at the start"
