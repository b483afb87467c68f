"""Schedules: the hours of the week when something holds (downloads run, a speed limit
applies). Pure values: the app asks them about the clock and acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Optional

EVERY_DAY = frozenset(range(7))
"""Monday is 0, as ``datetime.weekday()`` counts."""


@dataclass(frozen=True)
class Hours:
    """From ``start`` to ``end`` on ``days``; an ``end`` at or before ``start`` runs past
    midnight into the next day (22:00-06:00), and the same start and end mean all day."""

    start: time
    end: time
    days: frozenset[int] = EVERY_DAY

    @classmethod
    def parse(cls, start: str, end: str, days: Optional[frozenset[int]] = None) -> Hours:
        """From ``"HH:MM"`` texts; ValueError saying which one is not a time."""
        try:
            first, last = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        except ValueError:
            raise ValueError(f"{start!r} to {end!r}: times are written like 09:00") from None
        chosen = EVERY_DAY if days is None else frozenset(days)
        if not chosen or not chosen <= EVERY_DAY:
            raise ValueError("choose at least one day")
        return cls(first, last, chosen)

    def contains(self, at: datetime) -> bool:
        clock = at.time()
        if self.start == self.end:
            return at.weekday() in self.days
        if self.start < self.end:
            return at.weekday() in self.days and self.start <= clock < self.end
        # past midnight: the evening belongs to its day, the morning to the day before
        if clock >= self.start:
            return at.weekday() in self.days
        return clock < self.end and (at.weekday() - 1) % 7 in self.days

    def next_change(self, at: datetime) -> Optional[datetime]:
        """When :meth:`contains` next gives another answer (to the minute), or None if never."""
        now = self.contains(at)
        candidates = []
        for offset in range(9):
            day = (at + timedelta(days=offset)).date()
            for clock in (self.start, self.end, time(0, 0)):
                moment = datetime.combine(day, clock, at.tzinfo)
                if moment > at:
                    candidates.append(moment)
        for moment in sorted(candidates):
            if self.contains(moment) != now:
                return moment
        return None
