"""Text a web page can choose (copied, dragged, pasted) costs the GUI thread little, whatever it
holds: batch patterns are counted before they are built, one text holds a bounded number of
links, repeats are found in constant time, and no regular expression backtracks (issue 24,
item 3). The bounds are generous for a slow, shared CI machine; the old code took seconds to
minutes, or all the memory there is."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pytest

from fetchq_gui.batch import BatchError, expand
from fetchq_gui.urls import extract_urls

P = ParamSpec("P")
T = TypeVar("T")
QUICK = 1.0
"""Seconds: what a call on the GUI thread must take here (about 50 ms on a desktop)."""
LINKS_PER_TEXT = 2_000
"""The links one text may give on the GUI thread (urls.QUICK_LINKS)."""


def timed(call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[T, float]:
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - start


def test_a_short_pattern_for_a_hundred_million_links_is_refused_at_once() -> None:
    pattern = "http://h/f[1-99999999].zip"
    assert len(pattern) < 30
    tracemalloc.start()
    try:
        start = time.perf_counter()
        with pytest.raises(BatchError, match="stands for 99,999,999 links; at most 1,000"):
            expand(pattern)
        refused = extract_urls(pattern).refused
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < QUICK
    assert peak < 1 << 20  # counted, not built: no list of a hundred million strings
    assert [r.reason for r in refused] == ["stands for 99,999,999 links; at most 1,000 at once"]


def test_a_refused_pattern_builds_nothing_even_when_it_is_small_enough_to_try() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(BatchError):
            expand("http://h/f[1-3000000].zip")  # the old code built 3 million links first
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_text_of_120_patterns_is_read_fast_and_capped() -> None:
    text = "\n".join(f"http://h{n}.example/f[1-999].zip" for n in range(120))
    assert len(text) < 4000
    parsed, elapsed = timed(extract_urls, text)
    assert elapsed < QUICK  # the old code: over 20 s, for 119,880 links
    assert len(parsed.urls) <= LINKS_PER_TEXT
    assert parsed.urls[0] == "http://h0.example/f1.zip"
    last = parsed.refused[-1]
    assert f"at most {LINKS_PER_TEXT:,} links" in last.reason
    assert "File > Import list" in last.reason


def test_the_cap_is_per_text_not_per_pattern() -> None:
    """Each pattern is under the 1,000 of one pattern; together they are over the text's cap,
    and the pattern that would pass it is refused, named, with the reason."""
    text = " ".join(f"http://h.example/{n}/[1-900].zip" for n in range(5))
    parsed = extract_urls(text)
    assert len(parsed.urls) == 1800
    assert [b.count for b in parsed.batches] == [900, 900]
    assert parsed.refused[0].text == "http://h.example/2/[1-900].zip"
    assert "stands for 900 links: one paste, drop or copy holds at most 2,000" in (
        parsed.refused[0].reason
    )


def test_repeats_are_dropped_in_linear_time_keeping_the_first_order() -> None:
    links = [f"https://h.example/files/{n}.bin" for n in range(30_000)]
    lines = []
    for n, link in enumerate(links):
        lines += [link, links[n // 2]]  # each link once new, then again later
    parsed, elapsed = timed(extract_urls, "\n".join(lines))
    assert elapsed < QUICK  # the old code compared each link with every one before it
    assert parsed.urls == tuple(links[: len(parsed.urls)])
    assert len(parsed.urls) == LINKS_PER_TEXT


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a." * 30_000, id="a scheme-like run"),
        pytest.param("http://h/{" + ",a" * 25_000, id="a brace list never closed"),
        pytest.param("\n" * 4_000_000, id="four million empty lines"),
        pytest.param("x\n" * 2_000_000, id="two million lines without links"),
    ],
)
def test_no_text_makes_the_reader_backtrack_or_crawl(text: str) -> None:
    _, elapsed = timed(extract_urls, text)
    assert elapsed < QUICK
