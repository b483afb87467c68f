"""Picking download URLs out of what a person pastes or drops, with a reason for each refusal."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

from fetchq import InvalidSourceError, sanitize_filename, validate_source

from .batch import MAX_LINKS, BatchError, count, expand, has_batch

# A URL-ish token: a scheme, then anything up to whitespace or a closing bracket/quote.
# The scheme's length is bounded, so a search is linear (``a.a.a.a…`` is not tried from each
# of its letters to its end).
_CANDIDATE = re.compile(r"""(?i)\b[a-z][a-z0-9+.\-]{0,31}:[^\s<>"'`{}|\\^\[\]]+""")
_TRAILING = ".,;:!?)]}'\""
_SCHEMES = ("http:", "https:", "ftp:", "ftps:")


@dataclass(frozen=True)
class Refusal:
    text: str
    reason: str


@dataclass(frozen=True)
class Batch:
    """A link pattern (``img[001-120].jpg``) and what it stands for, for a preview."""

    pattern: str
    count: int
    first: str
    last: str


@dataclass(frozen=True)
class ParsedUrls:
    urls: tuple[str, ...]
    refused: tuple[Refusal, ...]
    list_name: Optional[str] = None
    """The name of the dropped list file the links came from, when they all came from one."""
    batches: tuple[Batch, ...] = ()


NO_LINK = "no link in this line (links start with https://, http:// or ftp://)"
MAX_TEXT_LINKS = 10_000
"""The most links one text pasted into the Add dialog may hold, batch patterns included (the
dialog reads a text that big off the GUI thread: see ``quick_to_read``)."""
QUICK_LINKS = 2_000
QUICK_CHARS = 256 << 10
"""The most links and characters read from a text on the GUI thread (a drag over the window,
a copy), so it never stops for more than about 50 ms: each link costs about 20 µs to check."""
MAX_TEXT_CHARS = 1 << 20
"""Characters of one text read; the rest is refused, said so (a dropped list is at most 1 MiB)."""
MAX_REFUSALS = 1000
"""Refusals kept for one text; the rest are counted in one more."""


def too_many(limit: int) -> str:
    return (
        f"one paste, drop or copy holds at most {limit:,} links; "
        "for more, put them in a list file and use File > Import list"
    )


def extract_urls(
    text: str,
    every_line: bool = True,
    *,
    max_links: int = QUICK_LINKS,
    max_chars: int = QUICK_CHARS,
) -> ParsedUrls:
    """The http(s) and ftp(s) URLs in ``text``, in order, without duplicates; and what was refused.

    One URL a line works, and so does prose: anything that looks like a URL is picked out.
    A batch pattern (``img[001-120].jpg``, ``{a,b}.zip``) stands for its links
    (:mod:`.batch`), each pattern listed in ``batches`` for a preview.
    URL-like text with another scheme, or that does not parse, is refused with the reason; so
    is (with ``every_line``) each line that holds no link at all, so nothing typed or pasted is
    dropped without a word.

    The text comes from the clipboard, a drop or a paste, which a web page can choose: the
    work is linear in its size and bounded, at most ``max_chars`` characters and ``max_links``
    links read, what is past either refused with the reason. The defaults keep a call on the
    GUI thread to about 50 ms; the Add dialog reads up to ``MAX_TEXT_LINKS`` off it.
    """
    reading = _Reading(every_line, max_links)
    if len(text) > max_chars:
        reading.refuse(
            f"the text after its first {max_chars:,} characters",
            f"not read: one paste, drop or copy holds at most {max_chars:,} characters",
        )
        text = text[:max_chars]
    for number, whole_line in enumerate(text.splitlines(), 1):
        if not reading.line(whole_line):
            reading.refuse(
                f"from line {number} on", f"not read past link {max_links:,}: {too_many(max_links)}"
            )
            break
    return reading.parsed()


def quick_to_read(text: str) -> bool:
    """Whether ``extract_urls(text)`` is sure to take only a few milliseconds: a short text
    whose batch patterns stand for few links (counted, not built)."""
    if len(text) > 16_384:
        return False
    links = 0
    for word in text.split():
        if has_batch(word):
            try:
                patterned = count(word.rstrip(".,;:!?'\""))
            except BatchError:
                continue  # refused at once
            links += patterned if patterned <= MAX_LINKS else 0  # refused at once too
        else:
            links += ":" in word
    return links <= 500


class _Reading:
    """What one text has given so far: links (a dict keeps their order and finds a repeat in
    constant time), refusals and batches, and the links it may still hold."""

    def __init__(self, every_line: bool, max_links: int) -> None:
        self.every_line = every_line
        self.max_links = max_links
        self.urls: dict[str, None] = {}
        self.tried: set[str] = set()
        self.refused: list[Refusal] = []
        self.more_refused = 0
        self.batches: list[Batch] = []

    @property
    def room(self) -> int:
        return self.max_links - len(self.urls)

    def refuse(self, text: str, reason: str) -> None:
        if len(self.refused) < MAX_REFUSALS:
            self.refused.append(Refusal(text, reason))
        else:
            self.more_refused += 1

    def line(self, whole_line: str) -> bool:
        """Read one line; False when the text holds more links than it may."""
        if ":" not in whole_line:  # no link, no pattern: the common case made cheap
            self._no_link(whole_line.strip())
            return True
        line, expanded, full = self._expand_batches(whole_line)
        found = (m.group(0).rstrip(_TRAILING) for m in _CANDIDATE.finditer(line))
        any_candidate = False
        for candidate in itertools.chain(expanded, found):  # lazily: reading may stop early
            if not ("//" in candidate or candidate.lower().startswith(_SCHEMES)):
                continue
            any_candidate = True
            if candidate in self.tried:  # a repeat: its fate is known
                continue
            if len(self.tried) >= self.max_links + MAX_REFUSALS:
                return False  # checking each costs: refused ones count too
            self.tried.add(candidate)
            try:
                url = validate_source(candidate)
            except InvalidSourceError as exc:
                self.refuse(candidate, str(exc))
                continue
            problem = _not_a_file(url)
            if problem is not None:
                self.refuse(candidate, problem)
            elif url not in self.urls:
                if not self.room:
                    return False
                self.urls[url] = None
        if not any_candidate:
            self._no_link(line.strip())  # the line without its batch patterns
        return not full

    def _no_link(self, stripped: str) -> None:
        """A line that gave no link: said so, unless it is empty (or ``every_line`` is off
        and it does not look like a link missing its scheme)."""
        if _looks_like_a_bare_host(stripped):
            self.refuse(stripped, "no https://, http:// or ftp:// at the start")
        elif stripped and self.every_line:
            self.refuse(stripped, NO_LINK)

    def _expand_batches(self, line: str) -> tuple[str, list[str], bool]:
        """Take the batch patterns out of a line: the line without them, their links, and
        whether a pattern was refused for the room left in the text."""
        links: list[str] = []
        kept: list[str] = []
        for word in line.split():
            token = word.rstrip(".,;:!?'\"")  # prose around a pattern; its own ] or } stays
            maybe = "[" in token or "{" in token  # has_batch parses: asked only then
            if not (maybe and token.lower().startswith(_SCHEMES) and has_batch(token)):
                kept.append(word)
                continue
            try:
                expanded = expand(token)
            except BatchError as exc:
                self.refuse(token, str(exc).replace(token[:80] + " ", "", 1))
                continue
            if len(expanded) > self.room - len(links):
                self.refuse(
                    token, f"stands for {len(expanded):,} links: {too_many(self.max_links)}"
                )
                return " ".join(kept), links, True
            self.batches.append(Batch(token, len(expanded), expanded[0], expanded[-1]))
            links.extend(expanded)
        return " ".join(kept), links, False

    def parsed(self) -> ParsedUrls:
        refused = self.refused
        if self.more_refused:
            refused = [*refused, Refusal(f"{self.more_refused:,} more", "not added, as above")]
        return ParsedUrls(tuple(self.urls), tuple(refused), batches=tuple(self.batches))


def _not_a_file(url: str) -> Optional[str]:
    """Why a valid URL still names nothing to download, or None. An FTP URL without a path is
    a server, not a file (a web address without one is its home page, which is a file)."""
    parts = urlsplit(url)
    if parts.scheme in ("ftp", "ftps") and parts.path.strip("/") == "":
        return "names an FTP server, not a file on it"
    return None


def _looks_like_a_bare_host(text: str) -> bool:
    """``example.com/file.zip``: a URL someone forgot the scheme of."""
    if " " in text or "/" not in text or "." not in text:
        return False  # decided without parsing: most lines of prose end here
    host = urlsplit("http://" + text).hostname or ""
    return "." in host and "/" in text


def suggest_package_name(urls: tuple[str, ...]) -> str:
    """A folder name for links added as one package: the last folder their paths share
    (``/albums/holiday/1.jpg``, ``/albums/holiday/2.jpg``: ``holiday``), else their host."""
    parts = [urlsplit(url) for url in urls]
    if not parts:
        return "Package"
    folders = [unquote(p.path).split("/")[1:-1] for p in parts]
    shared: list[str] = []
    for segments in zip(*folders, strict=False):
        if len(set(segments)) != 1:
            break
        shared.append(segments[0])
    hosts = {p.hostname or "" for p in parts}
    candidate = next((s for s in reversed(shared) if s), None)
    if candidate is None:
        candidate = hosts.pop() if len(hosts) == 1 else "Package"
    return sanitize_filename(candidate) or "Package"
