"""Human-readable sizes, speeds and durations: pure functions the table and status bar share."""

from __future__ import annotations

import math
from typing import Optional

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: Optional[int]) -> str:
    """``1536`` -> ``1.5 KiB``; unknown (None or negative) -> an empty string."""
    if size is None or size < 0:
        return ""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_speed(bytes_per_second: Optional[float]) -> str:
    """``2_500_000`` -> ``2.4 MiB/s``; nothing for no speed."""
    if not bytes_per_second or bytes_per_second <= 0 or math.isnan(bytes_per_second):
        return ""
    return f"{human_size(int(bytes_per_second))}/s"


def human_duration(seconds: Optional[float]) -> str:
    """``3725`` -> ``1 h 2 min``; ``42`` -> ``42 s``; unknown or absurd -> an empty string."""
    if seconds is None or seconds < 0 or math.isnan(seconds) or seconds > 100 * 24 * 3600:
        return ""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def eta_seconds(done: int, total: int, bytes_per_second: float) -> Optional[float]:
    """Seconds left at the current speed, or None when it cannot be known."""
    if total <= 0 or bytes_per_second <= 0 or done >= total:
        return None
    return (total - done) / bytes_per_second


class SpeedMeter:
    """A smoothed speed from (time, bytes) samples: an exponential moving average.

    ``half_life`` seconds after a change, half of the old speed is forgotten, so the number is
    steady while downloading and falls to zero soon after bytes stop.
    """

    __slots__ = ("_first_time", "_half_life", "_last_bytes", "_last_time", "speed")

    SETTLED_AFTER = 2.0
    """Seconds of samples before the speed is good enough for a time-left estimate."""

    def __init__(self, half_life: float = 1.5) -> None:
        self._half_life = half_life
        self._first_time: Optional[float] = None
        self._last_time: Optional[float] = None
        self._last_bytes = 0
        self.speed = 0.0

    def sample(self, now: float, total_bytes: int) -> float:
        if self._last_time is None or total_bytes < self._last_bytes:
            self._last_time, self._last_bytes = now, total_bytes
            self._first_time = now
            return self.speed
        elapsed = now - self._last_time
        if elapsed <= 0:
            return self.speed
        instant = (total_bytes - self._last_bytes) / elapsed
        weight = 0.5 ** (elapsed / self._half_life)
        self.speed = self.speed * weight + instant * (1 - weight)
        if self.speed < 1:
            self.speed = 0.0
        self._last_time, self._last_bytes = now, total_bytes
        return self.speed

    def settled(self, now: float) -> bool:
        """Whether the speed has been measured long enough to estimate from."""
        return self._first_time is not None and now - self._first_time >= self.SETTLED_AFTER

    def reset(self) -> None:
        self._last_time = None
        self._first_time = None
        self.speed = 0.0
