"""When and how long to wait before trying a download again: pure functions and immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Optional

from ._exceptions import NetworkError


class Retryable(Exception):
    """A transient failure of one attempt; the next attempt resumes from what is on disk."""

    def __init__(self, cause: BaseException, retry_after: Optional[float] = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.retry_after = retry_after


def transient(exc: BaseException) -> BaseException:
    """A failed request as an attempt sees it: network trouble another attempt may fix
    becomes :class:`Retryable`; everything else stays what it is."""
    if isinstance(exc, NetworkError) and exc.retryable:
        return Retryable(exc)
    return exc


RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses that say "try again later"; every other 4xx or 5xx fails the job at once."""


MAX_RETRY_AFTER_DIGITS = 9
"""A ``Retry-After`` of ten digits or more (30 years) is no delay: ignored, the backoff applies."""


def is_retryable_status(status_code: int) -> bool:
    """Whether a response with this status is worth another attempt."""
    return status_code in RETRYABLE_STATUS_CODES


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None.

    Dates in the past give 0; values that are neither form (``²``, 400 digits) give None, so the
    backoff applies.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text)) if len(text) <= MAX_RETRY_AFTER_DIGITS else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How a job retries transient failures.

    ``attempts`` bounds the failures in a row that made no progress: an attempt that wrote bytes
    resets the count, so a long download over a flaky link keeps going as long as it advances.
    Waits grow as ``base_delay * 2**n`` up to ``max_delay``, scaled by a random factor in
    ``[1 - jitter, 1]``; a server's ``Retry-After`` is honoured up to ``max_retry_after``.
    """

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def should_retry(self, failures_in_a_row: int) -> bool:
        """Whether another attempt is allowed after this many unproductive failures."""
        return failures_in_a_row < self.attempts

    def delay(
        self, failures_in_a_row: int, random_fraction: float, retry_after: Optional[float] = None
    ) -> float:
        """Seconds to wait before the next attempt.

        ``random_fraction`` is in ``[0, 1)`` (the caller's RNG, so tests can fix it). A server's
        ``Retry-After`` wins over the backoff when it is longer, capped at ``max_retry_after``.
        """
        exponent = max(0, failures_in_a_row - 1)
        backoff = min(self.max_delay, self.base_delay * (2.0**exponent))
        backoff *= 1.0 - self.jitter * random_fraction
        if retry_after is not None:
            return max(backoff, min(retry_after, self.max_retry_after))
        return backoff


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts in seconds; a read that gets no byte for ``read`` is a stall."""

    connect: float = 10.0
    read: float = 30.0

    def as_requests(self) -> tuple[float, float]:
        return (self.connect, self.read)
