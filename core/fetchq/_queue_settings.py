"""The queue's settings: what a caller may change while it runs.

How many downloads run at once, connections per download and per host, the speed limit, named
queues (groups) with their own rules, and holding the queue; and the callbacks, bus and journal
it was made with. :class:`QueueRules` holds the rules that decide which waiting job may start
(read by admission, :mod:`._runner`, under the queue's lock). :class:`QueueSettings` is the base
class of :class:`DownloadQueueService` that gives these settings as its properties and
``set_group``; it has no state of its own: each setting lives in the component it governs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from ._dispatch import EventDispatcher, JobCallbacks
from ._job import DownloadJob
from ._journal_writer import JournalWriter
from ._limits import HostSlots, RateLimiter
from ._runner import Runner, RunningJob


def at_least_one(name: str, value: int) -> int:
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return value


class QueueRules:
    """Which waiting jobs may start: held or not, how many at once, the named queues' rules;
    and the connections a job gets when it starts. Read and changed under the queue's lock."""

    def __init__(
        self, running: Mapping[int, RunningJob], max_parallel: int, max_connections: int
    ) -> None:
        self._running = running  # the queue's running jobs, by id
        self.max_parallel = at_least_one("max_parallel_dl", max_parallel)
        self.max_connections = at_least_one("max_connections_per_download", max_connections)
        self.held = False
        self.groups: dict[str, tuple[Optional[int], bool]] = {}
        """A named queue's ``(max_parallel, held)``; a name without rules is absent."""

    def set_group(self, name: str, max_parallel: Optional[int], held: bool) -> None:
        if max_parallel is None and not held:
            self.groups.pop(name, None)
        else:
            self.groups[name] = (max_parallel, held)

    def blocked(self, job: DownloadJob) -> bool:
        """Whether the job's named queue keeps it from starting now."""
        rules = self.groups.get(job.group) if job.group is not None else None
        if rules is None:
            return False
        limit, held = rules
        if held:
            return True
        if limit is None:
            return False
        running = sum(1 for r in self._running.values() if r.job.group == job.group)
        return running >= limit


class QueueSettings:
    """The settings of :class:`DownloadQueueService`, as properties (InvokeAI's
    ``max_parallel_dl`` among them) over the components they govern."""

    _lock: threading.Lock
    _rules: QueueRules
    _runner: Runner
    _limiter: RateLimiter
    _host_slots: HostSlots
    _dispatch: EventDispatcher
    _writer: JournalWriter

    def set_group(self, name: str, max_parallel: Optional[int] = None, held: bool = False) -> None:
        """Rules for a named queue (jobs whose ``group`` is ``name``): at most ``max_parallel``
        of them run at once (None: no limit of its own), and none starts while ``held``."""
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("a queue runs at least one download at once")
        with self._lock:
            self._rules.set_group(name, max_parallel, held)
            self._runner.kick()

    @property
    def held(self) -> bool:
        """While held, no waiting download starts; running ones go on (pause them to stop
        them). For schedules: the hours when downloads may run."""
        return self._rules.held

    @held.setter
    def held(self, value: bool) -> None:
        with self._lock:
            self._rules.held = bool(value)
            self._runner.kick()

    @property
    def max_parallel_dl(self) -> int:
        return self._rules.max_parallel

    @max_parallel_dl.setter
    def max_parallel_dl(self, value: int) -> None:
        at_least_one("max_parallel_dl", value)
        with self._lock:
            self._rules.max_parallel = value
            self._runner.kick()

    @property
    def max_connections_per_download(self) -> int:
        """Connections for one file, from the next job that starts."""
        return self._rules.max_connections

    @max_connections_per_download.setter
    def max_connections_per_download(self, value: int) -> None:
        self._rules.max_connections = at_least_one("max_connections_per_download", value)

    @property
    def max_connections_per_host(self) -> Optional[int]:
        return self._host_slots.limit

    @max_connections_per_host.setter
    def max_connections_per_host(self, value: Optional[int]) -> None:
        if value is not None and value < 1:
            raise ValueError("max_connections_per_host must be at least 1, or None")
        self._host_slots.limit = value

    @property
    def speed_limit(self) -> Optional[float]:
        """Bytes per second for all downloads together; None for no limit. Applies at once."""
        return self._limiter.rate

    @speed_limit.setter
    def speed_limit(self, value: Optional[float]) -> None:
        self._limiter.rate = value

    @property
    def callbacks(self) -> JobCallbacks:
        """Service-wide callbacks for jobs that have none of their own; may be replaced."""
        return self._dispatch.callbacks

    @callbacks.setter
    def callbacks(self, value: JobCallbacks) -> None:
        self._dispatch.set_callbacks(value)

    @property
    def event_bus(self) -> Optional[object]:
        return self._dispatch.event_bus

    @property
    def journal_path(self) -> Optional[Path]:
        journal = self._writer.journal
        return journal.path if journal is not None else None
