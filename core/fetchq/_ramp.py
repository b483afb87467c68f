"""How many jobs run at once: a pure decision from how long the running ones have run.

``max_parallel_dl`` is a ceiling, not a quota. Parallel downloads help while each one waits on
the network; when jobs finish in a millisecond or two (small files from a nearby server), every
extra worker thread only competes for the interpreter lock and the CPU, and eight of them on two
cores are a third slower than one. So the queue starts up to ``RAMP_START`` jobs at once, and
one more only once every running job has run for ``RAMP_SETTLE`` seconds: slow downloads reach
the ceiling within a few tens of milliseconds, quick ones never crowd each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

RAMP_START = 1
"""Jobs that may start together without waiting."""
RAMP_SETTLE = 0.02
"""Seconds every running job must have run before one more may start."""
RAMP_WATCH_MAX = 0.16
"""The longest an idle worker sleeps before it looks at the ramp again."""


def start_delay(
    started: Iterable[float], limit: int, now: float, settle: float = RAMP_SETTLE
) -> Optional[float]:
    """Seconds until one more job may start (0: now), or None while ``limit`` jobs run.

    ``started`` holds the ``time.monotonic()`` start of every running job.
    """
    times = list(started)
    if len(times) >= limit:
        return None
    if len(times) < RAMP_START:
        return 0.0
    return max(0.0, max(times) + settle - now)


def watch_delay(delay: float, misses: int) -> float:
    """How long the worker watching the ramp sleeps, after ``misses`` looks that found no room.

    The first look comes when the youngest running job reaches the settle time. If by then a
    newer job runs (quick jobs follow each other), the looks back off, doubling up to
    ``RAMP_WATCH_MAX``: each look costs the busy worker a contended interpreter lock, and a
    job that runs long enough to deserve company waits a fraction of its run for it.
    """
    if misses <= 0:
        return delay
    return max(delay, min(RAMP_SETTLE * (1 << min(misses, 16)), RAMP_WATCH_MAX))
