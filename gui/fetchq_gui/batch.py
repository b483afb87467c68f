"""Batch links: ``https://host/img[001-120].jpg`` and ``https://host/{a,b,c}.zip`` stand for
many links, as in aria2 and uGet. A pure function, with a limit so a typo never asks for a
million downloads."""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlsplit

MAX_LINKS = 1000
"""The most links one pattern may stand for."""

_PART = re.compile(r"\[([0-9]+|[a-zA-Z])-([0-9]+|[a-zA-Z])(?::([0-9]+))?\]|\{([^{}]*,[^{}]*)\}")


class BatchError(ValueError):
    """A pattern that cannot be expanded, or would be too many links; the text says why."""


def has_batch(url: str) -> bool:
    """Whether the part after the host holds a ``[a-b]`` range or a ``{x,y}`` list."""
    return _PART.search(_after_host(url)) is not None


def _after_host(url: str) -> str:
    parts = urlsplit(url)
    start = len(parts.scheme) + 3 + len(parts.netloc) if parts.netloc else 0
    return url[start:]


def _choices(match: re.Match[str]) -> list[str]:
    first, last, step_text, alternatives = match.groups()
    if alternatives is not None:
        return alternatives.split(",")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise BatchError(f"{match.group(0)}: the step must be 1 or more")
    if first.isdigit() and last.isdigit():
        low, high = int(first), int(last)
        if low > high:
            raise BatchError(f"{match.group(0)}: the range runs backwards")
        width = len(first) if first.startswith("0") and len(first) > 1 else 0
        return [str(n).zfill(width) for n in range(low, high + 1, step)]
    if first.isalpha() and last.isalpha() and first.islower() == last.islower():
        if first > last:
            raise BatchError(f"{match.group(0)}: the range runs backwards")
        return [chr(c) for c in range(ord(first), ord(last) + 1, step)]
    raise BatchError(f"{match.group(0)}: a range is numbers or letters of one case")


def expand(url: str, limit: int = MAX_LINKS) -> list[str]:
    """Every link ``url`` stands for, in order; ``url`` itself when it holds no pattern."""
    tail = _after_host(url)
    head = url[: len(url) - len(tail)]
    matches = list(_PART.finditer(tail))
    if not matches:
        return [url]
    choices = [_choices(m) for m in matches]
    count = 1
    for options in choices:
        count *= len(options)
    if count > limit:
        raise BatchError(f"{url[:80]} stands for {count:,} links; at most {limit:,} at once")
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
