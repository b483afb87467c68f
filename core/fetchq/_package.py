"""Multi-file jobs as pure rules: where a file of the job goes, and what the files' states make.

The queue keeps a multi-file job's files as ordinary jobs; these functions say what they add up
to, so the queue only applies them (and tests can check them without a server).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Optional

from ._job import DownloadJobStatus

RELATIVE_ONLY = "only relative download paths accepted"
"""The ValueError a file path that would leave the destination gets (InvokeAI's wording)."""
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class PartSpec:
    """One file of a multi-file job, as given: its URL, its path under the destination, and
    what is known of it in advance."""

    url: str
    path: PurePath
    size: Optional[int] = None
    sha256: Optional[str] = None
    folder: bool = False
    """The path names a folder (given with a trailing separator): the server names the file."""


def part_spec(part: object) -> PartSpec:
    """Read a file of a multi-file job: InvokeAI's ``RemoteModelFile`` or any object with
    ``url`` and ``path`` (``size`` and ``sha256`` if known), a mapping with those keys, or a
    ``(url, path)`` pair. A path given as text ending in a separator (``"album/"``) is a
    folder to download into under the server's name for the file."""
    if isinstance(part, tuple) and len(part) == 2:
        url, path = part
        size = sha256 = None
    elif isinstance(part, dict):
        url, path = part.get("url"), part.get("path")
        size, sha256 = part.get("size"), part.get("sha256")
    else:
        url, path = getattr(part, "url", None), getattr(part, "path", None)
        size, sha256 = getattr(part, "size", None), getattr(part, "sha256", None)
    if url is None or path is None:
        raise ValueError(f"a file of a multi-file job needs a url and a path, not {part!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"the path of {url} must be a path, not {type(path).__name__}")
    text = os.fspath(path)
    return PartSpec(
        str(url),
        PurePath(text),
        size if isinstance(size, int) and size > 0 else None,
        sha256 if isinstance(sha256, str) and _HEX_SHA256.fullmatch(sha256) else None,
        folder=isinstance(text, str) and text.endswith(("/", "\\")),
    )


def part_destination(root: Path, relative: PurePath) -> Path:
    """Where a file with ``relative`` path goes under the (resolved) ``root``.

    Absolute paths, drive letters, ``..`` and links that lead out of ``root`` are refused with
    ``ValueError``: the paths come from a server's file list, and must never leave ``root``.
    """
    text = str(relative)
    posix, windows = PurePosixPath(text.replace("\\", "/")), PureWindowsPath(text)
    if (
        not text
        or posix.is_absolute()
        or windows.is_absolute()
        or windows.drive
        or ".." in posix.parts
        or posix.parts in ((), (".",))
    ):
        raise ValueError(RELATIVE_ONLY)
    target = (root / Path(*posix.parts)).resolve()
    if target == root or not target.is_relative_to(root):
        raise ValueError(RELATIVE_ONLY)  # a link under root pointed out of it
    return target


def package_download_path(root: Path, first: Path) -> Path:
    """What the job makes: ``root`` joined with the first component of its first file's path
    under ``root`` (a model's folder, or the single file), as InvokeAI reports it."""
    return root / first.relative_to(root).parts[0]


def package_status(
    statuses: Sequence[DownloadJobStatus], *, failed: bool, cancelled: bool, active: bool
) -> DownloadJobStatus:
    """A multi-file job's status from its files' and what happened to it as a whole.

    ``failed``: a file ended in error (the rest were cancelled); ``cancelled``: the job (or one
    of its files) was cancelled; ``active``: a file has started since the job was last queued.
    Between one file's end and the next one's start the job stays running.
    """
    if failed:
        return DownloadJobStatus.ERROR
    if cancelled:
        return DownloadJobStatus.CANCELLED
    unfinished = [status for status in statuses if status != DownloadJobStatus.COMPLETED]
    if not unfinished:
        return DownloadJobStatus.COMPLETED
    if all(status == DownloadJobStatus.PAUSED for status in unfinished):
        return DownloadJobStatus.PAUSED
    if active or DownloadJobStatus.RUNNING in unfinished:
        return DownloadJobStatus.RUNNING
    return DownloadJobStatus.WAITING


def totals(parts: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """``(bytes, total_bytes)`` of a job from its files' ``(bytes, total_bytes)``."""
    done = total = 0
    for part_bytes, part_total in parts:
        done += part_bytes
        total += part_total
    return done, total
