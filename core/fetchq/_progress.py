"""TqdmProgress: console progress bars, one per job, as an ``on_progress`` subscriber."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._job import DownloadJob

if TYPE_CHECKING:
    from tqdm import tqdm


class TqdmProgress:
    """Use ``on_progress=TqdmProgress().update``; a bar opens on a job's first bytes and closes
    when the job ends or pauses (the queue sends a final progress call at that moment)."""

    def __init__(self, **tqdm_options: Any) -> None:
        self._options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, **tqdm_options}
        self._bars: dict[int, tqdm[Any]] = {}
        self._lock = threading.Lock()

    def update(self, job: DownloadJob) -> None:
        finished = job.in_terminal_state or job.paused
        with self._lock:
            bar = self._bars.get(job.id)
            if bar is None:
                if finished and job.bytes == 0:
                    return
                from tqdm import tqdm  # on the first bar: a console app's import, not everyone's

                bar = tqdm(desc=job.name, total=job.total_bytes or None, **self._options)
                self._bars[job.id] = bar
            if job.total_bytes and bar.total != job.total_bytes:
                bar.total = job.total_bytes
                bar.refresh()
            bar.update(job.bytes - bar.n)
            if finished:
                bar.close()
                del self._bars[job.id]

    def close(self) -> None:
        """Close every bar still open."""
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
