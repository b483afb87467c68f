"""Where one download goes: the name in a folder, and what to do with a file already there.

A download into a folder is named from the server's answer (or from the link, when an earlier
run left its part file there); taken names move it on to ``name (1).ext`` and so on. A file
already at the destination is reused when it is identical, replaced with ``overwrite``, and
otherwise an error (for a path the caller named).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from ._categories import category_folder, category_for
from ._exceptions import DestinationExistsError
from ._naming import choose_filename, numbered_name
from ._segments import PART_SUFFIX, load_part_state, part_path, same_source
from ._storage import disk_error, in_use_elsewhere, is_regular_file, same_file_contents
from ._transfer_types import TransferHost, TransferRequest
from ._transport import ResponseHead

MAX_NUMBERED_NAMES = 10_000


class Destination:
    """Names one job's file and judges the files already where it goes; the existing-file
    rule is applied once per download (:meth:`choose` or :meth:`already_there`)."""

    def __init__(self, request: TransferRequest, host: TransferHost) -> None:
        self._request = request
        self._host = host
        self._checked = False

    def left_here(self) -> Optional[Path]:
        """A folder download's part file, left by an earlier run of this link under the name
        its path gives: it is resumed with a Range request from the first request on, so no
        whole body starts (and is thrown away) before the name is known. None: name it from
        the server's answer, as usual."""
        request = self._request
        if request.categories or request.start_over:
            return None
        parts = part_files_in(request.dest, time.monotonic())
        if not parts:
            return None  # most folders hold none: one listing a second, not a look a download
        candidate = request.dest / choose_filename(None, request.source, None)
        if part_path(candidate).name not in parts or os.path.lexists(candidate):
            return None
        saved = load_part_state(candidate)
        if saved is None or not saved.done or not same_source(saved.source, request.source):
            return None
        return candidate if self._host.claim(candidate) else None

    def choose(self, head: ResponseHead, final_url: str, total: Optional[int]) -> tuple[Path, str]:
        """The path for a download into a folder, and its verdict (see :meth:`_verdict`).

        Taken names are never reused: a different existing file, a part file of another source
        or a name another job holds moves us on to ``name (1).ext``, ``name (2).ext``, ...
        A name is claimed before the disk is looked at: another job of the queue may finish
        and release a name at any moment, but never while we hold it.
        """
        name = choose_filename(
            head.header("content-disposition"), final_url, head.header("content-type")
        )
        folder = self._request.dest
        category = category_for(name, head.header("content-type"), self._request.categories)
        if category is not None:
            folder = category_folder(folder, category)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise disk_error(exc, folder) from None
            self._host.categorized(category.name)
        for number in range(MAX_NUMBERED_NAMES):
            candidate = folder / (name if number == 0 else numbered_name(name, number))
            if not self._host.claim(candidate):
                continue
            verdict = self._verdict(candidate, total)
            if verdict is not None:
                self._checked = True
                return candidate, verdict
            self._host.unclaim(candidate)
        raise DestinationExistsError(f"no free name like {name} in {folder}")

    def already_there(self, path: Path, total: Optional[int]) -> bool:
        """For a path known before the answer: True when the file at ``path`` is the download
        already (asked once; see :meth:`_existing_file_matches`)."""
        if self._checked:
            return False
        self._checked = True
        return self._existing_file_matches(path, total)

    def _verdict(self, candidate: Path, total: Optional[int]) -> Optional[str]:
        """``"reuse"`` an identical file, ``"use"`` a free (or replaceable) name, ``"resume"``
        our own part file there, or None: the name is taken. Symbolic links are never followed:
        one at the name or the part file's name takes it."""
        if os.path.lexists(candidate):
            if self._existing_file_matches(candidate, total):
                return "reuse"
            return "use" if self._request.overwrite and is_regular_file(candidate) else None
        part = part_path(candidate)
        if os.path.lexists(part):
            saved = load_part_state(candidate)
            if saved is not None:  # fetchq's, for this download or another
                return "resume" if same_source(saved.source, self._request.source) else None
            # No sidecar (or one not describing it): a part file nobody holds is taken over
            # under the name asked for, by the bare-part rule (see Resume.adopt_bare_part).
            return None if in_use_elsewhere(part) else "resume"
        return "use"

    def _existing_file_matches(self, path: Path, total: Optional[int]) -> bool:
        """Apply the existing-file rule to ``path``: True to reuse it as the finished download.

        An identical file (same size, and same checksum when one was given) is reused. A
        different one is replaced only with ``overwrite``; otherwise this raises (for an explicit
        path) or the caller picks another name (for a folder).
        """
        if not os.path.lexists(path):
            return False
        request = self._request
        if same_file_contents(path, total, request.checksum):
            return True
        if request.overwrite or (request.dest.is_dir() and path.parent == request.dest):
            return False
        raise DestinationExistsError(
            f"{path} exists and differs from the download; pass overwrite=True to replace it"
        )


LISTING_FOR = 1.0
"""Seconds a folder's listing of part files is used for (a batch into one folder lists it
once a second, not once a download)."""
_LISTINGS: dict[Path, tuple[float, frozenset[str]]] = {}


def part_files_in(folder: Path, now: float) -> frozenset[str]:
    """The names of the part files in ``folder``, as listed at most ``LISTING_FOR`` ago (or
    since a download of this process left one there: :func:`part_file_left`). Only a shortcut
    uses it (:meth:`Destination.left_here`): a part file it misses is found the usual way, from
    the server's answer."""
    seen = _LISTINGS.get(folder)
    if seen is not None and now - seen[0] < LISTING_FOR:
        return seen[1]
    try:
        with os.scandir(folder) as entries:
            names = frozenset(e.name for e in entries if e.name.endswith(PART_SUFFIX))
    except OSError:
        names = frozenset()
    if len(_LISTINGS) > 256:  # (a cache, not a record: dropping it costs a listing)
        _LISTINGS.clear()
    _LISTINGS[folder] = (now, names)
    return names


def part_file_left(download_path: Path) -> None:
    """A download stopped short and may have left its part file: list its folder afresh."""
    _LISTINGS.pop(download_path.parent, None)
