"""The pure rules of multi-file jobs: where a file goes, and what the files' states add up to."""

from __future__ import annotations

from pathlib import Path, PurePath

import pytest

from fetchq import DownloadJobStatus
from fetchq._package import package_download_path, package_status, part_destination, part_spec

W, R, P, C, X, E = (
    DownloadJobStatus.WAITING,
    DownloadJobStatus.RUNNING,
    DownloadJobStatus.PAUSED,
    DownloadJobStatus.COMPLETED,
    DownloadJobStatus.CANCELLED,
    DownloadJobStatus.ERROR,
)


@pytest.mark.parametrize(
    ("statuses", "failed", "cancelled", "active", "expected"),
    [
        ([W, W], False, False, False, W),
        ([R, W], False, False, True, R),
        ([C, W], False, False, True, R),  # between one file's end and the next one's start
        ([C, C], False, False, True, C),
        ([C, P], False, False, False, P),  # every unfinished file paused
        ([P, W], False, False, False, W),  # one file paused, the rest go on
        ([C, X], False, True, True, X),
        ([E, X], True, False, True, E),  # a failure stays a failure as the rest are cancelled
        ([C, X], True, True, False, E),
    ],
)
def test_package_status(
    statuses: list[DownloadJobStatus],
    failed: bool,
    cancelled: bool,
    active: bool,
    expected: DownloadJobStatus,
) -> None:
    assert package_status(statuses, failed=failed, cancelled=cancelled, active=active) == expected


def test_files_go_under_the_root_and_name_the_job_by_their_first_component(
    tmp_path: Path,
) -> None:
    root = tmp_path.resolve()
    target = part_destination(root, PurePath("sdxl/unet/config.json"))
    assert target == root / "sdxl" / "unet" / "config.json"
    assert package_download_path(root, target) == root / "sdxl"
    assert part_destination(root, PurePath("a\\b.bin")) == root / "a" / "b.bin"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../x", "a/..", "C:\\x", "C:x", ""])
def test_paths_that_leave_the_root_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="only relative download paths accepted"):
        part_destination(tmp_path.resolve(), PurePath(bad))


def test_parts_are_read_from_objects_mappings_and_pairs() -> None:
    class RemoteModelFile:
        url = "https://e.org/m.bin"
        path = PurePath("m/m.bin")
        size = 10
        sha256 = "A" * 64

    spec = part_spec(RemoteModelFile())
    assert (spec.url, spec.path, spec.size, spec.sha256, spec.folder) == (
        "https://e.org/m.bin",
        PurePath("m/m.bin"),
        10,
        "A" * 64,
        False,
    )
    assert part_spec({"url": "https://e.org/a", "path": "album/"}).folder
    assert part_spec(("https://e.org/a", "x.bin")).size is None
    assert part_spec({"url": "u", "path": "p", "sha256": "not hex", "size": -1}).sha256 is None
    with pytest.raises(ValueError, match="needs a url and a path"):
        part_spec({"url": "https://e.org/a"})
