"""Destination claims: no two jobs of one queue write the same file, part file or sidecar."""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path

from ._segments import PART_SUFFIX, SIDECAR_SUFFIX


@functools.lru_cache(maxsize=256)
def _resolved_folder(folder: str) -> str:
    """A folder's canonical path (symlinks resolved), so two spellings claim the same names."""
    return os.path.normcase(os.path.realpath(folder))


def _claim_keys(path: Path) -> tuple[str, ...]:
    """The names a download at ``path`` writes: the file, its part file and its sidecar."""
    folder, name = os.path.split(os.fspath(path))
    folder = _resolved_folder(folder)
    name = os.path.normcase(name)
    return (
        os.path.join(folder, name),
        os.path.join(folder, name + PART_SUFFIX),
        os.path.join(folder, name + SIDECAR_SUFFIX),
    )


class Claims:
    """Which job writes which names, guarded by the queue's lock."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._owners: dict[str, int] = {}
        self._by_job: dict[int, set[str]] = {}

    def claim(self, job_id: int, path: Path) -> bool:
        """Take the names of a download at ``path`` for the job; False if another job has one."""
        keys = _claim_keys(path)
        with self._lock:
            for key in keys:
                owner = self._owners.get(key)
                if owner is not None and owner != job_id:
                    return False
            for key in keys:
                self._owners[key] = job_id
            self._by_job.setdefault(job_id, set()).update(keys)
        return True

    def unclaim(self, job_id: int, path: Path) -> None:
        keys = _claim_keys(path)
        with self._lock:
            held = self._by_job.get(job_id, set())
            for key in keys:
                if self._owners.get(key) == job_id:
                    del self._owners[key]
                held.discard(key)

    def release(self, job_id: int) -> None:
        """Give up every name the job holds (lock held)."""
        for key in self._by_job.pop(job_id, ()):
            if self._owners.get(key) == job_id:
                del self._owners[key]
