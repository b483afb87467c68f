"""How many connections a large download should use: a pure decision from measured speeds.

Extra connections help only when something caps each connection (a CDN, an object store, a
per-connection ``limit_rate``). When the limit is the link, the disk or the CPU, they compete
and slow the download down, so the engine probes: one connection alone, then two, and keeps
what the measurements justify.
"""

from __future__ import annotations

from enum import Enum


class Growth(Enum):
    """Where a download stands in the probe."""

    ONE = "one"
    """One connection, measuring its speed."""
    TWO = "two"
    """A second connection on trial."""
    GROW = "grow"
    """Two were clearly faster than one: add connections up to the maximum."""
    KEEP_TWO = "keep-two"
    """Two helped a little; more would not."""
    BACK_TO_ONE = "back-to-one"
    """Two were no faster than one: the second stops and hands back its range; after
    ``RETRIAL_AFTER`` seconds the probe starts again (from ``ONE``)."""
    SETTLED = "settled"
    """One connection is enough for now (the rest is short); looked at again after
    ``RETRIAL_AFTER`` seconds, in case the server slowed down."""


GROW_IF_FASTER_BY = 1.5
"""Two connections must be this much faster than one before the rest are added."""
KEEP_IF_FASTER_BY = 1.2
"""Below this gain the second connection costs more (CPU, disk seeks) than it brings."""
RETRIAL_AFTER = 1.0
"""Seconds after going back to one connection before probing again: a short measurement can
be wrong, and a download that still has long to go is worth a second look."""


def after_one(speed: float, left: int, split_if_longer_than: float) -> Growth:
    """Whether to try a second connection, given one connection's speed and the bytes left."""
    if speed <= 0 or left / speed > split_if_longer_than:
        return Growth.TWO
    return Growth.SETTLED


def after_two(speed: float, single_speed: float) -> Growth:
    """What to do once two connections have run: grow, keep two, or go back to one."""
    if single_speed <= 0:  # the first connection had not started yet: judge by the pair
        return Growth.GROW if speed > 0 else Growth.KEEP_TWO
    if speed >= GROW_IF_FASTER_BY * single_speed:
        return Growth.GROW
    if speed >= KEEP_IF_FASTER_BY * single_speed:
        return Growth.KEEP_TWO
    return Growth.BACK_TO_ONE
