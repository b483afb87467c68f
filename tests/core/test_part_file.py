"""PartFile's vectored write: every byte lands at its offset even when the system writes short."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from fetchq._storage import PartFile


@pytest.mark.skipif(not hasattr(os, "pwritev"), reason="no pwritev on this system")
def test_short_vectored_writes_are_continued_where_they_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.pwritev
    calls: list[int] = []

    def three_bytes_at_a_time(fd: int, views: Any, offset: int) -> int:
        calls.append(len(views))
        first = bytes(views[0][:3])
        return real(fd, [first], offset)

    monkeypatch.setattr(os, "pwritev", three_bytes_at_a_time)
    part = PartFile(tmp_path / "x.part")
    try:
        part.write_at(memoryview(b"0123"), 0)
        part.write_chunks_at([b"abcdefg", b"", b"hi", b"jklmnop"], 4)
    finally:
        part.close()
    assert (tmp_path / "x.part").read_bytes() == b"0123abcdefghijklmnop"
    assert len(calls) == 7  # 3+3+1, 2, 3+3+1: each call resumes mid-chunk or at the next one


def test_an_empty_batch_writes_nothing(tmp_path: Path) -> None:
    part = PartFile(tmp_path / "y.part")
    try:
        part.write_chunks_at([], 0)
    finally:
        part.close()
    assert (tmp_path / "y.part").read_bytes() == b""
