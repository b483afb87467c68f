"""Download lists in and out: fetchq's JSON, a plain list of links, and aria2's input file.

Exports carry every field of a job but its secrets (token, headers, cookies, login are
excluded from a job's dump). Imports read any of the three, found by their shape, and give
entries to queue plus a reason for every line they could not use: moving from aria2, uGet
(a list of links) or another fetchq loses nothing silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Optional

from ._job import DownloadJob
from ._naming import sanitize_filename
from ._validation import parse_checksum, redact_url, validate_source

FORMATS = ("json", "urls", "aria2")
LIST_VERSION = 1
_ARIA2_CHECKSUMS = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256",
                    "sha-384": "sha384", "sha-512": "sha512", "md5": "md5"}  # fmt: skip


@dataclass(frozen=True)
class ListEntry:
    """One download read from a list: where from, and what the list said about it."""

    url: str
    folder: Optional[str] = None
    """The folder it goes into, as the list gave it (the importer decides what to trust)."""
    name: Optional[str] = None
    checksum: Optional[str] = None
    priority: int = 10


@dataclass(frozen=True)
class DownloadList:
    """What an import found: entries to queue, and lines it could not use, with reasons."""

    format: str
    entries: tuple[ListEntry, ...] = ()
    problems: tuple[str, ...] = field(default=())


def export_list(jobs: Iterable[DownloadJob], format: str = "json") -> str:
    """The jobs as ``json`` (every field but secrets), ``urls`` (one link a line) or
    ``aria2`` (an input file: the link, then ``dir``, ``out`` and ``checksum``)."""
    jobs = list(jobs)
    if format == "json":
        records = [_record(job) for job in jobs]
        return json.dumps({"fetchq": LIST_VERSION, "downloads": records}, indent=2) + "\n"
    if format == "urls":
        return "".join(f"{_link(job)}\n" for job in jobs)
    if format == "aria2":
        lines = []
        for job in jobs:
            lines.append(_link(job))
            path = job.download_path or (job.dest if job.dest.suffix else None)
            folder = path.parent if path is not None else job.dest
            lines.append(f"  dir={folder}")
            if path is not None:
                lines.append(f"  out={path.name}")
            if job.checksum:
                algorithm, _, digest = job.checksum.partition(":")
                aria2 = {v: k for k, v in _ARIA2_CHECKSUMS.items()}.get(algorithm)
                if aria2:
                    lines.append(f"  checksum={aria2}={digest}")
        return "\n".join(lines) + ("\n" if lines else "")
    raise ValueError(f"unknown list format {format!r}: one of {', '.join(FORMATS)}")


def _record(job: DownloadJob) -> dict[str, Any]:
    """A job's fields for a list: no id (the importing queue gives its own), no password in
    a link."""
    record = job.model_dump(mode="json", exclude={"id"})
    for key in ("source", "canonical_url", "final_url"):
        if isinstance(record.get(key), str):
            record[key] = redact_url(record[key])
    return record


def _link(job: DownloadJob) -> str:
    """The job's link without a password in it (a list is a file anyone may read)."""
    return redact_url(str(job.source))


class ListTooLongError(ValueError):
    """A list with more downloads than an import takes at once; nothing of it was read."""


def read_list(text: str, max_entries: Optional[int] = None) -> DownloadList:
    """Read a list in any of the three formats (fetchq's JSON, aria2's input file, links).

    With ``max_entries``, a list holding more downloads than that raises ListTooLongError,
    counted before any link is checked (checking is what costs), so a huge list is refused
    in a moment."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("{") or stripped.startswith("["):
        return _read_json(stripped, max_entries)
    lines = stripped.splitlines()
    aria2 = any(_is_option(line) and "=" in line for line in lines)
    if max_entries is not None:
        links = sum(1 for _, line in _content(lines) if not (aria2 and _is_option(line)))
        _check_count(links, max_entries)
    return _read_aria2(lines) if aria2 else _read_urls(lines)


def _content(lines: Sequence[str]) -> Iterator[tuple[int, str]]:
    """The lines that say something, with their numbers: not blank, not a ``#`` comment."""
    for number, line in enumerate(lines, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def _is_option(line: str) -> bool:
    """An indented line: in aria2's input file, an option of the link above it."""
    return line[:1] in (" ", "\t")


def _check_count(count: int, max_entries: Optional[int]) -> None:
    if max_entries is not None and count > max_entries:
        raise ListTooLongError(
            f"it holds {count:,} downloads, and fetchq imports at most {max_entries:,} at "
            "once: split it into smaller lists"
        )


def _checked(url: str, problems: list[str], where: str) -> Optional[str]:
    try:
        return validate_source(url)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _read_urls(lines: Sequence[str]) -> DownloadList:
    entries: list[ListEntry] = []
    problems: list[str] = []
    for number, line in _content(lines):
        url = _checked(line.strip(), problems, f"line {number}")
        if url is not None:
            entries.append(ListEntry(url))
    return DownloadList("urls", tuple(entries), tuple(problems))


def _read_aria2(lines: Sequence[str]) -> DownloadList:
    """aria2's input file: a line of links (mirrors of one file, tab-separated; fetchq takes
    the first), then indented ``option=value`` lines for it."""
    entries: list[ListEntry] = []
    problems: list[str] = []
    current: Optional[dict[str, Any]] = None
    start = 0

    def finish() -> None:
        if current is not None:
            entries.append(ListEntry(**current))

    for number, line in _content(lines):
        if not _is_option(line):
            finish()
            current = None
            links = line.split("\t")
            url = _checked(links[0].strip(), problems, f"line {number}")
            if url is not None:
                current, start = {"url": url}, number
            continue
        if current is None:
            continue  # the options of a link that was refused
        key, sep, value = line.strip().partition("=")
        key, value = key.strip(), value.strip()
        if not sep:
            problems.append(f"line {number}: not an option (option=value)")
        elif key == "dir":
            current["folder"] = value
        elif key == "out":
            current["name"] = value
        elif key == "checksum":
            kind, _, digest = value.partition("=")
            algorithm = _ARIA2_CHECKSUMS.get(kind.lower())
            try:
                current["checksum"] = parse_checksum(f"{algorithm}:{digest}", None)
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
        elif key in ("header", "load-cookies", "http-user", "http-passwd"):
            problems.append(
                f"line {number}: {key} for the link on line {start} was not imported "
                "(fetchq does not take secrets from a file; add them in the Add dialog)"
            )
    finish()
    return DownloadList("aria2", tuple(entries), tuple(problems))


def _read_json(text: str, max_entries: Optional[int] = None) -> DownloadList:
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        return DownloadList("json", (), (f"not a fetchq list: {exc}",))
    records = data.get("downloads") if isinstance(data, dict) else data
    if not isinstance(records, list):
        return DownloadList("json", (), ("not a fetchq list: no downloads in it",))
    _check_count(len(records), max_entries)
    entries: list[ListEntry] = []
    problems: list[str] = []
    for number, record in enumerate(records, 1):
        where = f"download {number}"
        if not isinstance(record, dict) or not isinstance(record.get("source"), str):
            problems.append(f"{where}: no link")
            continue
        url = _checked(record["source"], problems, where)
        if url is None:
            continue
        path = record.get("download_path") or record.get("dest")
        folder = name = None
        if isinstance(path, str):
            pure = PurePath(path)
            if record.get("download_path"):
                folder, name = str(pure.parent), sanitize_filename(pure.name)
            else:
                folder = path
        checksum = record.get("checksum")
        priority = record.get("priority", 10)
        entries.append(
            ListEntry(
                url,
                folder,
                name,
                checksum if isinstance(checksum, str) else None,
                priority if isinstance(priority, int) and not isinstance(priority, bool) else 10,
            )
        )
    return DownloadList("json", tuple(entries), tuple(problems))
