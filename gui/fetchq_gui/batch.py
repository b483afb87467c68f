"""Batch links: ``https://host/img[001-120].jpg`` and ``https://host/{a,b,c}.zip`` stand for
many links, as in aria2 and uGet. Pure functions, with a limit so a typo never asks for a
million downloads; the links are counted arithmetically before any is built, so a pattern of
a few characters standing for billions costs no memory and no time (it comes from pasted,
dropped or copied text, which a web page can choose)."""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlsplit

MAX_LINKS = 1000
"""The most links one pattern may stand for."""
HUGE = 10**12
"""Counts past this are said to be "more than" it: never worked out exactly."""
MAX_DIGITS = 18
"""The longest number a range may hold (a longer one is a typo, and costly to read)."""

# Every repetition stops at the next brace or comma, so a search is linear however the text
# is made (``{,,,,…`` without its ``}`` would otherwise backtrack quadratically).
_PART = re.compile(
    r"\[([0-9]+|[a-zA-Z])-([0-9]+|[a-zA-Z])(?::([0-9]+))?\]|\{([^{},]*(?:,[^{},]*)+)\}"
)


class BatchError(ValueError):
    """A pattern that cannot be expanded, or would be too many links; the text says why."""


def has_batch(url: str) -> bool:
    """Whether the part after the host holds a ``[a-b]`` range or a ``{x,y}`` list."""
    return _PART.search(_after_host(url)) is not None


def _after_host(url: str) -> str:
    parts = urlsplit(url)
    start = len(parts.scheme) + 3 + len(parts.netloc) if parts.netloc else 0
    return url[start:]


def _range(match: re.Match[str]) -> tuple[int, int, int]:
    """A range's first and last values (numbers, or letters as code points) and its step."""
    first, last, step_text = match.group(1, 2, 3)
    pattern = match.group(0)
    if max(len(first), len(last), len(step_text or "")) > MAX_DIGITS:
        raise BatchError(f"{pattern[:40]}: numbers of at most {MAX_DIGITS} digits")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise BatchError(f"{pattern}: the step must be 1 or more")
    if first.isdigit() and last.isdigit():
        low, high = int(first), int(last)
    elif first.isalpha() and last.isalpha() and first.islower() == last.islower():
        low, high = ord(first), ord(last)
    else:
        raise BatchError(f"{pattern}: a range is numbers or letters of one case")
    if low > high:
        raise BatchError(f"{pattern}: the range runs backwards")
    return low, high, step


def _count(match: re.Match[str]) -> int:
    alternatives = match.group(4)
    if alternatives is not None:
        return alternatives.count(",") + 1
    low, high, step = _range(match)
    return (high - low) // step + 1


def _choices(match: re.Match[str]) -> list[str]:
    """The values of one part; called only once the whole pattern is known to be small."""
    alternatives = match.group(4)
    if alternatives is not None:
        return alternatives.split(",")
    low, high, step = _range(match)
    first = match.group(1)
    if first.isdigit():
        width = len(first) if first.startswith("0") and len(first) > 1 else 0
        return [str(n).zfill(width) for n in range(low, high + 1, step)]
    return [chr(c) for c in range(low, high + 1, step)]


def count(url: str) -> int:
    """How many links ``url`` stands for (1 without a pattern), computed without building
    them, and not past ``HUGE`` (a thousand patterns must not multiply a thousand-digit
    number); BatchError if a part cannot be expanded."""
    total = 1
    for match in _PART.finditer(_after_host(url)):
        total *= _count(match)
        if total > HUGE:
            return HUGE + 1
    return total


def _how_many(total: int) -> str:
    return f"{total:,}" if total <= HUGE else f"more than {HUGE:,}"


def expand(url: str, limit: int = MAX_LINKS) -> list[str]:
    """Every link ``url`` stands for, in order; ``url`` itself when it holds no pattern.
    BatchError, before anything is built, when that is more than ``limit`` links."""
    tail = _after_host(url)
    head = url[: len(url) - len(tail)]
    total = count(url)
    matches = list(_PART.finditer(tail)) if total <= limit else []
    if total == 1 and not matches:
        return [url]
    if total > limit:
        raise BatchError(
            f"{url[:80]} stands for {_how_many(total)} links; at most {limit:,} at once"
        )
    choices = [_choices(m) for m in matches]
    pieces = re.split(_PART.pattern, tail)
    # re.split keeps the groups: the literal text is every 5th piece.
    literals = pieces[:: _PART.groups + 1]
    links = []
    for combination in itertools.product(*choices):
        text = literals[0]
        for value, literal in zip(combination, literals[1:], strict=True):
            text += value + literal
        links.append(head + text)
    return links
