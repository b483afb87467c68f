"""Shared limits and knowledge: a global bandwidth cap (token bucket), a per-host connection
cap, and what trials on a host taught about extra connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Optional

from ._abort import AbortSignal
from ._steps import Sleep, Steps, run_blocking

WaitingReport = Callable[[Optional[str]], None]
"""Told ``"bandwidth"`` or ``"connection"`` when a download must wait a while, then None."""

SLOT_POLL = 0.05
"""How often a download waiting for a connection to its host looks for a free one."""
LONG_WAIT = 1.0
"""A wait longer than this is reported: the person sees why a download does not move."""


class _Lane:
    """One download's share of the bandwidth: its own bucket, refilled at its share's rate."""

    __slots__ = ("busy_until", "stamp", "tokens")

    def __init__(self, now: float) -> None:
        self.tokens = 0.0
        self.stamp = now
        self.busy_until = now


class RateLimiter:
    """A global speed limit shared fairly between the downloads that are receiving.

    Each download (a *lane*, keyed by its job) gets an equal share of ``rate`` (bytes/s, None =
    unlimited) in a token bucket of its own, and its connections share that. A download that
    received nothing for ``IDLE`` seconds gives its share back, so the limit is used in full; a
    new download has its share from its first chunk instead of waiting behind the debt of a
    big one's many connections. ``rate`` may change at any time and applies from the next chunk.
    """

    BURST_SECONDS = 0.25
    IDLE = 0.5

    def __init__(
        self, rate: Optional[float] = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rate: Optional[float] = None
        self._lanes: dict[object, _Lane] = {}
        self._next_sweep = 0.0
        self.rate = rate

    @property
    def rate(self) -> Optional[float]:
        return self._rate

    @rate.setter
    def rate(self, value: Optional[float]) -> None:
        if value is not None and value <= 0:
            raise ValueError("the speed limit must be positive, or None for no limit")
        with self._lock:
            self._rate = float(value) if value is not None else None
            self._lanes.clear()

    def active_lanes(self) -> int:
        """Downloads sharing the limit now (for tests and the status line)."""
        with self._lock:
            self._forget_idle(self._clock())
            return len(self._lanes)

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, lane in self._lanes.items() if now > lane.busy_until + self.IDLE]
        for key in idle:
            del self._lanes[key]
        self._next_sweep = now + self.IDLE / 2

    def consume(
        self,
        count: int,
        signal: AbortSignal,
        lane: object = None,
        waiting: Optional[WaitingReport] = None,
    ) -> None:
        """Account for ``count`` bytes that ``lane`` received; sleep (abortably) while it is over
        its share. A sleep over ``LONG_WAIT`` is reported to ``waiting``."""
        delay = self.charge(count, lane)
        if delay <= 0:
            return
        if waiting is not None and delay > LONG_WAIT:
            waiting("bandwidth")
            signal.wait(delay)
            waiting(None)
        else:
            signal.wait(delay)

    def charge(self, count: int, lane: object = None) -> float:
        """Account for ``count`` bytes that ``lane`` received; the seconds it must now wait
        (0 when it is within its share)."""
        if self._rate is None:
            return 0.0
        with self._lock:
            rate: Optional[float] = self._rate
            if rate is None:  # lifted while we waited for the lock
                return 0.0
            now = self._clock()
            if now >= self._next_sweep or lane not in self._lanes:
                self._forget_idle(now)  # shares of downloads that stopped go to the others
            state = self._lanes.get(lane)
            if state is None:
                state = self._lanes[lane] = _Lane(now)
            share = rate / len(self._lanes)
            state.tokens = min(
                share * self.BURST_SECONDS, state.tokens + (now - state.stamp) * share
            )
            state.stamp = now
            state.tokens -= count
            delay = -state.tokens / share
            state.busy_until = max(state.busy_until, now + max(delay, 0.0))
        return max(delay, 0.0)


class Pacer:
    """One download's place under the speed limit, as a request's ``pace``
    (:data:`._transport.Pace`): charges its bytes, and reports a long wait for bandwidth."""

    __slots__ = ("_lane", "_limiter", "_told", "_waiting")

    def __init__(
        self, limiter: RateLimiter, lane: object, waiting: Optional[WaitingReport]
    ) -> None:
        self._limiter = limiter
        self._lane = lane
        self._waiting = waiting
        self._told = False

    def __call__(self, count: int) -> float:
        delay = self._limiter.charge(count, self._lane)
        waiting = self._waiting
        if waiting is not None:
            if delay > LONG_WAIT and not self._told:
                self._told = True
                waiting("bandwidth")
            elif delay <= LONG_WAIT and self._told:
                self._told = False
                waiting(None)
        return delay


class HostSlots:
    """At most ``limit`` connections per host (None = no cap), shared by every job.

    A download's first connection waits for a slot; its extra connections only take free ones,
    and give theirs back (:meth:`should_yield`) while another download waits for its first, so
    a big download with many connections never holds a small one back for its whole length.
    """

    def __init__(self, limit: Optional[int]) -> None:
        self._condition = threading.Condition()
        self._in_use: dict[str, int] = {}
        self._waiting: dict[str, int] = {}  # jobs blocked for their first connection
        self._yielding: dict[str, int] = {}  # extra connections giving their slot to them
        self.limit = limit
        self.peak = 0
        """The most connections one host has had at once (for tests and diagnostics)."""

    def in_use(self, host: str) -> int:
        with self._condition:
            return self._in_use.get(host, 0)

    def busiest(self) -> int:
        """The connections open to the busiest host now (for tests and diagnostics)."""
        with self._condition:
            return max(self._in_use.values(), default=0)

    def try_acquire(self, host: str) -> bool:
        """A slot for an extra connection, only if no job waits for its first one."""
        with self._condition:
            in_use = self._in_use.get(host, 0) + self._waiting.get(host, 0)
            if self.limit is not None and in_use >= self.limit:
                return False
            self._in_use[host] = self._in_use.get(host, 0) + 1
            self.peak = max(self.peak, self._in_use[host])
            return True

    def acquire(
        self, host: str, signal: AbortSignal, waiting: Optional[WaitingReport] = None
    ) -> bool:
        """:meth:`acquire_steps`, blocking the calling thread."""
        return run_blocking(self.acquire_steps(host, signal, waiting))

    def acquire_steps(
        self, host: str, signal: AbortSignal, waiting: Optional[WaitingReport] = None
    ) -> Steps[bool]:
        """Wait for a slot; False if the transfer was aborted while waiting. A wait is
        reported to ``waiting`` (``"connection"``, then None)."""
        told = False
        with self._condition:
            if self.limit is None or self._in_use.get(host, 0) < self.limit:
                return self._take(host)
            self._waiting[host] = self._waiting.get(host, 0) + 1
        try:
            while True:
                with self._condition:
                    if self.limit is None or self._in_use.get(host, 0) < self.limit:
                        self._waiting[host] -= 1
                        taken = self._take(host)
                        break
                if signal.aborted:
                    with self._condition:
                        self._waiting[host] -= 1
                    return False
                if waiting is not None and not told:
                    told = True
                    waiting("connection")
                    continue
                yield Sleep(SLOT_POLL, signal)  # a slot frees when a connection ends: soon
        except BaseException:
            with self._condition:
                self._waiting[host] -= 1
            raise
        if told and waiting is not None:
            waiting(None)
        return taken

    def _take(self, host: str) -> bool:
        self._in_use[host] = self._in_use.get(host, 0) + 1
        self.peak = max(self.peak, self._in_use[host])
        return True

    def should_yield(self, host: str) -> bool:
        """Whether an extra connection should end now and free its slot for a download that
        waits for its first connection; True promises that slot to it."""
        with self._condition:
            wanted = self._waiting.get(host, 0) - self._yielding.get(host, 0)
            if wanted <= 0:
                return False
            self._yielding[host] = self._yielding.get(host, 0) + 1
            return True

    def release(self, host: str) -> None:
        with self._condition:
            count = self._in_use.get(host, 0) - 1
            if count > 0:
                self._in_use[host] = count
            else:
                self._in_use.pop(host, None)
            if self._yielding.get(host, 0) > 0:
                self._yielding[host] -= 1
            self._condition.notify_all()


class HostTrials:
    """Whether a second connection helps downloads from a host: one trial at a time, shared.

    Eight downloads from one host starting together would each try a second connection, and
    each trial costs a connection (a TLS handshake) and a range read in part. So one download
    tries while the others wait; if two connections did not help, the others do not try for
    ``REMEMBER`` seconds (the link, not each connection, is the limit); if they helped, each
    download tries for itself. The download that tried keeps its own schedule of retrials: a
    tenth of a second over TLS, a handshake included, can misjudge a link, and a negative
    verdict must not hold one large download to one connection for its whole length.
    """

    REMEMBER = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._trying: set[str] = set()
        self._no_help_until: dict[str, tuple[float, object]] = {}  # host: (until, who tried)

    def may_try(self, host: str, who: object = None) -> bool:
        """Whether download ``who`` of ``host`` may try a second connection now; if True, it
        must report with :meth:`tried` or :meth:`abandon`."""
        with self._lock:
            if host in self._trying:
                return False
            until, tried_by = self._no_help_until.get(host, (0.0, None))
            if self._clock() < until and (who is None or tried_by is not who):
                return False
            self._trying.add(host)
            return True

    def tried(self, host: str, helped: bool, who: object = None) -> None:
        with self._lock:
            self._trying.discard(host)
            if helped:
                self._no_help_until.pop(host, None)
            else:
                self._no_help_until[host] = (self._clock() + self.REMEMBER, who)

    def abandon(self, host: str) -> None:
        """A trial that never got its answer (the download ended or stopped first)."""
        with self._lock:
            self._trying.discard(host)
