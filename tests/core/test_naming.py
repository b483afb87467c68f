"""File names from Content-Disposition and URLs, and what makes them safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from fetchq import sanitize_filename
from fetchq._naming import (
    MAX_NAME_BYTES,
    choose_filename,
    filename_from_content_disposition,
    filename_from_url,
    numbered_name,
)
from fetchq._segments import ByteRanges, PartState, part_path, save_part_state, sidecar_path


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('attachment; filename="report.pdf"', "report.pdf"),
        ("attachment; filename=report.pdf", "report.pdf"),
        ("attachment;filename=report.pdf;size=3", "report.pdf"),
        ('attachment; filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'),
        ('attachment; filename="semi;colon.txt"', "semi;colon.txt"),
        ("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt", "€ rates.txt"),
        ("attachment; filename*=iso-8859-1'en'%A3%20rates.txt", "£ rates.txt"),
        (
            "attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve.txt",
            "naïve.txt",
        ),
        (
            "attachment; filename*=UTF-8''na%C3%AFve.txt; filename=\"fallback.txt\"",
            "naïve.txt",
        ),
        ("attachment; filename*=bogus; filename=plain.txt", "plain.txt"),
        ("attachment; FILENAME=Upper.TXT", "Upper.TXT"),
        ("inline", None),
        ("", None),
        ('attachment; filename="caf\xc3\xa9.txt"', "café.txt"),
    ],
)
def test_content_disposition(header: str, expected: str | None) -> None:
    assert filename_from_content_disposition(header) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/a/b/file.tar.gz?x=1&y=2#frag", "file.tar.gz"),
        ("https://h/na%C3%AFve%20name.bin", "naïve name.bin"),
        ("https://h/dir/", None),
        ("https://h", None),
    ],
)
def test_url_names(url: str, expected: str | None) -> None:
    assert filename_from_url(url) == expected


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../x", "x"),
        ("..\\x", "x"),
        ("/etc/x", "x"),
        ("C:\\x", "x"),
        ("C:x", "x"),
        ("x/../../y", "y"),
        ("a\x00b", "a_b"),
        ("line\nbreak.txt", "line_break.txt"),
        (".", None),
        ("..", None),
        ("", None),
        ("   ", None),
        ("...", None),
        (".bashrc", "bashrc"),
        ("name. ", "name"),
        ('wh<a>t:is"this|?*.txt', "wh_a_t_is_this___.txt"),
        ("CON", "_CON"),
        ("com1.txt", "_com1.txt"),
        ("\u202etxt.exe", "txt.exe"),  # a direction mark would disguise the extension
    ],
)
def test_sanitize(raw: str, safe: str | None) -> None:
    assert sanitize_filename(raw) == safe


def test_long_names_are_cut_to_bytes_keeping_the_extension() -> None:
    cut = sanitize_filename("é" * 10_000 + ".tar")
    assert cut is not None
    assert cut.endswith(".tar")
    assert len(cut.encode("utf-8")) <= MAX_NAME_BYTES
    assert cut.encode("utf-8").decode("utf-8") == cut


def test_choose_filename_order_and_fallback() -> None:
    assert choose_filename('attachment; filename="cd.bin"', "http://h/url.bin") == "cd.bin"
    assert choose_filename('attachment; filename="../"', "http://h/url.bin") == "url.bin"
    assert choose_filename(None, "http://h/", "application/pdf") == "download.pdf"
    assert choose_filename(None, "http://h/..%2F..%2Fetc%2Fpasswd") == "passwd"


def test_numbered_names() -> None:
    assert numbered_name("report.pdf", 2) == "report (2).pdf"
    assert numbered_name("README", 1) == "README (1)"
    long = numbered_name("x" * 300 + ".bin", 7)
    assert long.endswith(" (7).bin")
    assert len(long.encode()) <= MAX_NAME_BYTES


@pytest.mark.parametrize(
    ("raw", "ending"),
    [
        ("v" * (MAX_NAME_BYTES - 5) + ".part" + "x" * 60, "_part"),  # no short extension
        ("v" * (MAX_NAME_BYTES - 10) + ".part" + "x" * 60 + ".json", "_part.json"),
        ("v" * (MAX_NAME_BYTES - 5) + ".PART" + "x" * 60, "_part"),
        ("é" * (MAX_NAME_BYTES // 2 - 3) + "v.part" + "x" * 60, "v_part"),  # whole characters
    ],
)
def test_a_cut_never_leaves_fetchqs_own_endings(raw: str, ending: str) -> None:
    """The cut makes the end of a name out of its middle: the rename of ``.part`` comes after."""
    safe = sanitize_filename(raw)
    assert safe is not None
    assert safe.endswith(ending)
    assert len(safe.encode("utf-8")) == MAX_NAME_BYTES


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("CON" + " " * 300 + "y" * 20, "_CON"),  # the cut falls in the spaces
        ("v" * (MAX_NAME_BYTES - 1) + ". " + "y" * 20, "v" * (MAX_NAME_BYTES - 1)),
    ],
)
def test_a_cut_name_is_checked_again(raw: str, safe: str) -> None:
    assert sanitize_filename(raw) == safe


def test_numbered_names_never_end_like_fetchqs_own_files() -> None:
    assert numbered_name("x.part", 1) == "x (1)_part"
    assert numbered_name("x.part.json", 2) == "x.part (2).json"
    long = numbered_name("v" * 300 + ".part", 3)
    assert long.endswith(" (3)_part")
    assert len(long.encode()) <= MAX_NAME_BYTES


def test_the_longest_name_leaves_room_for_every_file_fetchq_writes_beside_it(
    tmp_path: Path,
) -> None:
    """Part file, sidecar and the sidecar's temporary: all within the common 255-byte limit."""
    download_path = tmp_path / numbered_name("v" * 1000, 99)
    assert len(download_path.name.encode()) == MAX_NAME_BYTES
    state = PartState("http://h/v", 10, None, None, done=ByteRanges.of([(0, 5)]), part_id=(0, 0))
    part_path(download_path).write_bytes(b"12345")
    save_part_state(download_path, state)  # an OSError (name too long) at 240
    assert sidecar_path(download_path).is_file()
    assert len(f"{sidecar_path(download_path).name}.abcdefgh.tmp".encode()) <= 255
