"""PartFile's vectored write: every byte lands at its offset even when the system writes short."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from fetchq._storage import PartFile, write_whole


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


@pytest.mark.skipif(sys.platform != "linux", reason="unnamed files (O_TMPFILE) are Linux's")
def test_a_small_body_is_named_whole_or_not_at_all(tmp_path: Path) -> None:

    target = tmp_path / "small.bin"
    assert write_whole(target, memoryview(b"whole"))
    assert target.read_bytes() == b"whole"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.bin"]  # no part file, ever
    assert not write_whole(target, memoryview(b"other"))  # never replaces
    assert target.read_bytes() == b"whole"
    planted = tmp_path / "planted.bin"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"theirs")
    planted.symlink_to(elsewhere)
    assert not write_whole(planted, memoryview(b"mine"))  # a link at the name is not followed
    assert elsewhere.read_bytes() == b"theirs"
    assert not write_whole(tmp_path / "gone" / "x.bin", memoryview(b"x"))  # no folder: caller's
