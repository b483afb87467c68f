"""Picking download URLs out of what a person pastes or drops, with a reason for each refusal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

from fetchq import InvalidSourceError, sanitize_filename, validate_source

from .batch import BatchError, expand, has_batch

# A URL-ish token: a scheme, then anything up to whitespace or a closing bracket/quote.
_CANDIDATE = re.compile(r"""(?i)\b[a-z][a-z0-9+.\-]*:[^\s<>"'`{}|\\^\[\]]+""")
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


def extract_urls(text: str, every_line: bool = True) -> ParsedUrls:
    """The http(s) and ftp(s) URLs in ``text``, in order, without duplicates; and what was refused.

    One URL a line works, and so does prose: anything that looks like a URL is picked out.
    A batch pattern (``img[001-120].jpg``, ``{a,b}.zip``) stands for its links
    (:mod:`.batch`), each pattern listed in ``batches`` for a preview.
    URL-like text with another scheme, or that does not parse, is refused with the reason; so
    is (with ``every_line``) each line that holds no link at all, so nothing typed or pasted is
    dropped without a word.
    """
    urls: list[str] = []
    refused: list[Refusal] = []
    batches: list[Batch] = []
    for whole_line in text.splitlines():
        line, expanded = _expand_batches(whole_line, batches, refused)
        stripped = line.strip()
        found = [m.group(0).rstrip(_TRAILING) for m in _CANDIDATE.finditer(line)]
        candidates = expanded + found
        candidates = [c for c in candidates if "//" in c or c.lower().startswith(_SCHEMES)]
        if not candidates and stripped:  # the line without its batch patterns
            if _looks_like_a_bare_host(stripped):
                refused.append(Refusal(stripped, "no https://, http:// or ftp:// at the start"))
            elif every_line:
                refused.append(Refusal(stripped, NO_LINK))
        for candidate in candidates:
            try:
                url = validate_source(candidate)
            except InvalidSourceError as exc:
                refused.append(Refusal(candidate, str(exc)))
                continue
            problem = _not_a_file(url)
            if problem is not None:
                refused.append(Refusal(candidate, problem))
            elif url not in urls:
                urls.append(url)
    return ParsedUrls(tuple(urls), tuple(refused), batches=tuple(batches))


def _expand_batches(
    line: str, batches: list[Batch], refused: list[Refusal]
) -> tuple[str, list[str]]:
    """Take the batch patterns out of a line: the line without them, and their links."""
    links: list[str] = []
    kept: list[str] = []
    for word in line.split():
        token = word.rstrip(".,;:!?'\"")  # prose around a pattern; its own ] or } stays
        if not (token.lower().startswith(_SCHEMES) and has_batch(token)):
            kept.append(word)
            continue
        try:
            expanded = expand(token)
        except BatchError as exc:
            refused.append(Refusal(token, str(exc).replace(token[:80] + " ", "", 1)))
            continue
        batches.append(Batch(token, len(expanded), expanded[0], expanded[-1]))
        links.extend(expanded)
    return " ".join(kept), links


def _not_a_file(url: str) -> Optional[str]:
    """Why a valid URL still names nothing to download, or None. An FTP URL without a path is
    a server, not a file (a web address without one is its home page, which is a file)."""
    parts = urlsplit(url)
    if parts.scheme in ("ftp", "ftps") and parts.path.strip("/") == "":
        return "names an FTP server, not a file on it"
    return None


def _looks_like_a_bare_host(text: str) -> bool:
    """``example.com/file.zip``: a URL someone forgot the scheme of."""
    if " " in text:
        return False
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
