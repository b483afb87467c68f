"""Shared limits and knowledge: a global bandwidth cap (token bucket), a per-host connection
cap, and what trials on a host taught about extra connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Optional

from ._abort import AbortSignal


class RateLimiter:
    """A token bucket shared by every connection; ``rate`` (bytes/s, None = unlimited) may change
    at any time and applies from the next chunk."""

    BURST_SECONDS = 0.25

    def __init__(self, rate: Optional[float] = None) -> None:
        self._lock = threading.Lock()
        self._rate: Optional[float] = None
        self._tokens = 0.0
        self._stamp = time.monotonic()
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
            self._tokens = 0.0
            self._stamp = time.monotonic()

    def consume(self, count: int, signal: AbortSignal) -> None:
        """Account for ``count`` bytes received; sleep (abortably) while over the limit."""
        if self._rate is None:
            return
        with self._lock:
            rate: Optional[float] = self._rate
            if rate is None:  # lifted while we waited for the lock
                return
            now = time.monotonic()
            self._tokens = min(rate * self.BURST_SECONDS, self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            self._tokens -= count
            debt = -self._tokens
        if debt > 0:
            signal.wait(debt / rate)


class HostSlots:
    """At most ``limit`` connections per host (None = no cap), shared by every job."""

    def __init__(self, limit: Optional[int]) -> None:
        self._condition = threading.Condition()
        self._in_use: dict[str, int] = {}
        self._waiting: dict[str, int] = {}  # jobs blocked for their first connection
        self.limit = limit
        self.peak = 0
        """The most connections one host has had at once (for tests and diagnostics)."""

    def try_acquire(self, host: str) -> bool:
        """A slot for an extra connection, only if no job waits for its first one."""
        with self._condition:
            in_use = self._in_use.get(host, 0) + self._waiting.get(host, 0)
            if self.limit is not None and in_use >= self.limit:
                return False
            self._in_use[host] = self._in_use.get(host, 0) + 1
            self.peak = max(self.peak, self._in_use[host])
            return True

    def acquire(self, host: str, signal: AbortSignal) -> bool:
        """Wait for a slot; False if the transfer was aborted while waiting."""
        with self._condition:
            self._waiting[host] = self._waiting.get(host, 0) + 1
            try:
                while self.limit is not None and self._in_use.get(host, 0) >= self.limit:
                    if signal.aborted:
                        return False
                    self._condition.wait(0.2)
            finally:
                self._waiting[host] -= 1
            self._in_use[host] = self._in_use.get(host, 0) + 1
            self.peak = max(self.peak, self._in_use[host])
            return True

    def release(self, host: str) -> None:
        with self._condition:
            count = self._in_use.get(host, 0) - 1
            if count > 0:
                self._in_use[host] = count
            else:
                self._in_use.pop(host, None)
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
