"""The schedule the user sets: the hours when downloads run, a speed limit for some hours,
and what to do when every download is done. Decisions are pure functions of the clock
(:func:`decide`); :class:`Scheduler` applies them to the queue when the hours change."""

from __future__ import annotations

import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal

from fetchq import DownloadJobStatus, DownloadQueueService, Hours

CHECK_AT_LEAST_EVERY = timedelta(minutes=1)
"""The clock may jump (a laptop wakes): the schedule is looked at again at least this often."""
WHEN_DONE = {"nothing": "Do nothing", "quit": "Quit fetchq", "command": "Run a command"}
"""What may happen once every download is done, and its words in Settings."""


@dataclass(frozen=True)
class NamedQueue:
    """A queue the user named: how many of its downloads run at once, and its hours."""

    name: str
    max_parallel: int = 1
    hours: Optional[Hours] = None


@dataclass(frozen=True)
class Plan:
    """What the user scheduled: None for what is not."""

    download_hours: Optional[Hours] = None
    """Downloads start only within these hours (and pause outside them)."""
    limit_hours: Optional[Hours] = None
    scheduled_limit: Optional[int] = None
    """Bytes per second within ``limit_hours``."""
    base_limit: Optional[int] = None
    """The speed limit the rest of the time."""
    queues: tuple[NamedQueue, ...] = ()


def decide(plan: Plan, now: datetime) -> tuple[bool, Optional[int]]:
    """(whether downloads may run now, the speed limit now)."""
    allowed = plan.download_hours is None or plan.download_hours.contains(now)
    limit = plan.base_limit
    if plan.limit_hours is not None and plan.limit_hours.contains(now):
        limit = plan.scheduled_limit
    return allowed, limit


def next_check(plan: Plan, now: datetime) -> datetime:
    """When the decision may change next, at most :data:`CHECK_AT_LEAST_EVERY` away."""
    moments = [now + CHECK_AT_LEAST_EVERY]
    for hours in (plan.download_hours, plan.limit_hours, *(q.hours for q in plan.queues)):
        change = hours.next_change(now) if hours is not None else None
        if change is not None:
            moments.append(change)
    return min(moments)


def when_done_command(text: str) -> list[str]:
    """The words of the command to run when all is done; ValueError for an unclosed quote."""
    return shlex.split(text)


class Scheduler(QObject):
    """Holds the queue outside the download hours (and pauses what runs, to resume it at the
    next start), and sets the speed limit the hours call for."""

    allowed_changed = Signal(bool)

    def __init__(
        self,
        queue: DownloadQueueService,
        clock: Callable[[], datetime] = datetime.now,
        parent: Optional[QObject] = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.clock = clock
        self.plan = Plan()
        self.allowed = True
        self._paused_by_schedule: set[int] = set()
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.tick)

    def apply(self, plan: Plan) -> None:
        self.plan = plan
        self.tick()

    def tick(self) -> None:
        now = self.clock()
        allowed, limit = decide(self.plan, now)
        self.queue.speed_limit = limit
        self.queue.held = not allowed  # first: nothing waiting starts while running ones pause
        if allowed != self.allowed:
            self.allowed = allowed
            if allowed:
                self._resume()
            else:
                self._hold()
            self.allowed_changed.emit(allowed)
        for named in self.plan.queues:
            outside = named.hours is not None and not named.hours.contains(now)
            self.queue.set_group(named.name, named.max_parallel, held=outside)
        wait = (next_check(self.plan, now) - now).total_seconds()
        self._timer.start(max(1000, int(wait * 1000) + 500))

    def _hold(self) -> None:
        for job in self.queue.list_jobs():
            if job.status == DownloadJobStatus.RUNNING:
                self._paused_by_schedule.add(job.id)
                self.queue.pause_job(job)

    def _resume(self) -> None:
        for job in self.queue.list_jobs():
            if job.id in self._paused_by_schedule and job.status == DownloadJobStatus.PAUSED:
                self.queue.resume_job(job)
        self._paused_by_schedule.clear()


def run_detached(words: Sequence[str]) -> None:
    """Start the user's when-done command, without a shell, in a session of its own; a
    thread waits for it, so it leaves no zombie behind."""
    process = subprocess.Popen(
        list(words),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    threading.Thread(target=process.wait, name="fetchq-when-done", daemon=True).start()
