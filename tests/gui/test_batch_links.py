"""Batch links (issue 17, item 6): ranges and lists expand, with a preview and a limit."""

from __future__ import annotations

import time

import pytest
from pytestqt.qtbot import QtBot

from fetchq.testing import TestServer
from fetchq_gui import Column, MainWindow
from fetchq_gui.batch import BatchError, expand, has_batch
from fetchq_gui.urls import MAX_TEXT_LINKS, extract_urls
from tests.gui.gui_helpers import WAIT_MS, click, wait_cell


def test_ranges_lists_steps_and_padding() -> None:
    assert expand("https://h.org/img[001-003].jpg") == [
        "https://h.org/img001.jpg",
        "https://h.org/img002.jpg",
        "https://h.org/img003.jpg",
    ]
    assert expand("https://h.org/{a,b}/p[1-2].bin") == [
        "https://h.org/a/p1.bin",
        "https://h.org/a/p2.bin",
        "https://h.org/b/p1.bin",
        "https://h.org/b/p2.bin",
    ]
    assert expand("https://h.org/f[0-20:10]") == [f"https://h.org/f{n}" for n in (0, 10, 20)]
    assert expand("https://h.org/vol-[a-c].zip")[-1] == "https://h.org/vol-c.zip"
    assert expand("https://h.org/plain.iso") == ["https://h.org/plain.iso"]


def test_a_pattern_in_prose_keeps_its_brackets() -> None:
    parsed = extract_urls("See https://h.org/p[1-2].png, and https://h.org/{x,y}.")
    assert parsed.urls == (
        "https://h.org/p1.png",
        "https://h.org/p2.png",
        "https://h.org/x",
        "https://h.org/y",
    )
    assert [b.count for b in parsed.batches] == [2, 2]
    assert parsed.refused == ()


def test_an_ipv6_host_is_not_a_pattern() -> None:
    assert not has_batch("http://[::1]:8080/file.bin")
    assert expand("http://[::1]:8080/f[1-2]") == ["http://[::1]:8080/f1", "http://[::1]:8080/f2"]


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("https://h.org/[1-1000000].jpg", "stands for 1,000,000 links; at most 1,000"),
        ("https://h.org/[9-1].jpg", "runs backwards"),
        ("https://h.org/[a-Z].jpg", "numbers or letters of one case"),
        ("https://h.org/[1-9:0].jpg", "step must be 1 or more"),
    ],
)
def test_a_pattern_that_cannot_be_expanded_says_why(pattern: str, words: str) -> None:
    with pytest.raises(BatchError, match=words):
        expand(pattern)
    (refusal,) = extract_urls(pattern).refused
    assert (
        words.split(";", maxsplit=1)[0].split(" 1,0", maxsplit=1)[0] in refusal.reason
        or words in refusal.reason
    )


def test_the_add_dialog_previews_a_batch_and_adds_every_link(
    qtbot: QtBot, window: MainWindow, server: TestServer
) -> None:
    urls = [server.add(f"/shots/img{n:03d}.jpg", bytes([n]) * 100) for n in range(1, 4)]
    pattern = urls[0].replace("img001", "img[001-003]")
    dialog = window.open_add_dialog(pattern)
    text = dialog.summary.text()
    assert text.startswith("3 links to download.")
    assert f"stands for 3 links: {urls[0]} … {urls[2]}" in text
    click(dialog.ok_button)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    for job in window.queue.list_jobs():
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")


def test_many_warnings_are_counted_so_the_dialog_keeps_its_form(
    window: MainWindow, qtbot: QtBot
) -> None:
    dialog = window.open_add_dialog("http://127.0.0.1:9/page[01-12].jpg")  # nothing answers
    qtbot.waitUntil(lambda: "more warnings like these" in dialog.summary.text(), timeout=WAIT_MS)
    assert dialog.summary.text().count("Warning, ") == 3


def test_a_pattern_for_millions_pasted_into_the_add_dialog_says_why_it_is_not_added(
    window: MainWindow,
) -> None:
    dialog = window.open_add_dialog("http://h.example/f[1-99999999].zip")
    text = dialog.summary.text()
    assert "Not added, http://h.example/f[1-99999999].zip: stands for 99,999,999 links" in text
    assert not dialog.ok_button.isEnabled()


def test_a_long_paste_is_read_off_the_gui_thread_and_capped_per_text(
    qtbot: QtBot, window: MainWindow
) -> None:
    """120 patterns of 999 links: the dialog reads them in the background (the window stays
    responsive), adds the first 10,000 and says why the rest are not."""
    text = "\n".join(f"http://h{n}.example/f[1-999].zip" for n in range(120))
    start = time.perf_counter()
    dialog = window.open_add_dialog(text)
    assert time.perf_counter() - start < 1.0  # the old dialog read it here: over 20 s
    assert dialog.summary.text().startswith("Reading the links in ")
    assert not dialog.ok_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.reading, timeout=WAIT_MS)
    summary = dialog.summary.text()
    assert summary.startswith(f"{MAX_TEXT_LINKS - 10} links to download.")
    assert "one paste, drop or copy holds at most 10,000 links" in summary
    assert "File > Import list" in summary
    assert dialog.ok_button.isEnabled()
