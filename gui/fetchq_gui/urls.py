"""Picking download URLs out of what a person pastes or drops, with a reason for each refusal."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from fetchq import InvalidSourceError, validate_source

# A URL-ish token: a scheme, then anything up to whitespace or a closing bracket/quote.
_CANDIDATE = re.compile(r"""(?i)\b[a-z][a-z0-9+.\-]*:[^\s<>"'`{}|\\^\[\]]+""")
_TRAILING = ".,;:!?)]}'\""
_SCHEMES = ("http:", "https:", "ftp:", "ftps:")


@dataclass(frozen=True)
class Refusal:
    text: str
    reason: str


@dataclass(frozen=True)
class ParsedUrls:
    urls: tuple[str, ...]
    refused: tuple[Refusal, ...]


def extract_urls(text: str) -> ParsedUrls:
    """The http(s) and ftp(s) URLs in ``text``, in order, without duplicates; and what was refused.

    One URL a line works, and so does prose: anything that looks like a URL is picked out.
    Lines that hold no URL-like text at all are ignored; URL-like text with another scheme, or
    that does not parse, is refused with the reason.
    """
    urls: list[str] = []
    refused: list[Refusal] = []
    for line in text.splitlines():
        candidates = [m.group(0).rstrip(_TRAILING) for m in _CANDIDATE.finditer(line)]
        candidates = [c for c in candidates if "//" in c or c.lower().startswith(_SCHEMES)]
        if not candidates and line.strip() and _looks_like_a_bare_host(line.strip()):
            refused.append(Refusal(line.strip(), "no https://, http:// or ftp:// at the start"))
        for candidate in candidates:
            try:
                url = validate_source(candidate)
            except InvalidSourceError as exc:
                refused.append(Refusal(candidate, str(exc)))
                continue
            if url not in urls:
                urls.append(url)
    return ParsedUrls(tuple(urls), tuple(refused))


def _looks_like_a_bare_host(text: str) -> bool:
    """``example.com/file.zip``: a URL someone forgot the scheme of."""
    if " " in text:
        return False
    host = urlsplit("http://" + text).hostname or ""
    return "." in host and "/" in text
