"""The destination file name: from Content-Disposition (RFC 6266, RFC 8187) or the URL, made safe.

Every name that reaches the disk passed through :func:`sanitize_filename`, which keeps only the
last path component and removes what could escape the destination folder or upset a filesystem.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from typing import Optional
from urllib.parse import unquote, urlsplit

MAX_NAME_BYTES = 232
"""Names are cut to this many UTF-8 bytes (a `` (n)`` counter included): 255, the common limit,
minus the longest name fetchq adds to one, the sidecar's temporary ``.part.json.XXXXXXXX.tmp``
(23 bytes). At 240, a 233-byte name's sidecar could never be saved."""

FALLBACK_NAME = "download"

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
_FORBIDDEN_CHARS = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"|?*]')
_DIRECTION_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
"""Bidirectional controls: ``invoice\u202etxt.exe`` shows as ``invoiceexe.txt``."""
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
_BOOKKEEPING = re.compile(r"\.part(?=\.json|$)", re.IGNORECASE)
"""``.part`` as fetchq's own files end: ``x.part`` (the bytes), ``x.part.json`` (the sidecar),
``x.part.json.*`` (its temporaries)."""
_TOKEN_OR_QUOTED = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*|\s*([^;]*)')


def _split_parameters(header: str) -> list[tuple[str, str]]:
    """Split ``type; a=1; b="x;y"`` into ``[("a", "1"), ("b", "x;y")]``, keeping quoted ``;``.

    Browsers read a header that starts with a parameter (``filename="a.bin"``, no type before
    it) as that parameter; so do we."""
    params: list[tuple[str, str]] = []
    first = header.find(";")
    if "=" in header[: first if first >= 0 else len(header)]:
        position = 0  # no disposition type: the header starts with a parameter
    elif first < 0:
        return params
    else:
        position = first + 1
    while position < len(header):
        equals = header.find("=", position)
        semicolon = header.find(";", position)
        if equals < 0 or (0 <= semicolon < equals):
            if semicolon < 0:
                break
            position = semicolon + 1
            continue
        key = header[position:equals].strip().lower()
        match = _TOKEN_OR_QUOTED.match(header, equals + 1)
        assert match is not None  # the pattern matches the empty string
        if match.group(1) is not None:
            value = re.sub(r"\\(.)", r"\1", match.group(1))
        else:
            value = match.group(2).strip()
        params.append((key, value))
        position = match.end()
        if position < len(header) and header[position] == ";":
            position += 1
    return params


def _decode_ext_value(value: str) -> Optional[str]:
    """Decode an RFC 8187 ext-value ``charset'language'percent-encoded``, or None if malformed."""
    parts = value.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0].strip().lower() or "utf-8"
    if charset not in ("utf-8", "iso-8859-1", "latin-1", "us-ascii"):
        return None
    try:
        return unquote(parts[2], encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError):
        return None


def _undo_latin1_mojibake(value: str) -> str:
    """Recover UTF-8 names that servers send raw and HTTP libraries decode as Latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def filename_from_content_disposition(header: Optional[str]) -> Optional[str]:
    """The raw (unsanitised) file name a Content-Disposition header gives, ``filename*`` first."""
    if not header:
        return None
    params = _split_parameters(header)
    for key, value in params:
        if key == "filename*":
            decoded = _decode_ext_value(value)
            if decoded:
                return decoded
    for key, value in params:
        if key == "filename" and value:
            return _undo_latin1_mojibake(value)
    return None


def filename_from_url(url: str) -> Optional[str]:
    """The last segment of the URL's path, percent-decoded; the query is not part of it."""
    path = urlsplit(url).path
    segment = path.rsplit("/", 1)[-1]
    if not segment:
        return None
    return unquote(segment, errors="replace") or None


def _cut_to_bytes(name: str, limit: int) -> str:
    """Cut ``name`` to ``limit`` UTF-8 bytes, keeping a short extension and whole characters."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut + suffix


def sanitize_filename(name: Optional[str]) -> Optional[str]:
    """A name that is safe as one file in a folder on Linux, macOS and Windows, or None.

    Keeps the last component after ``/`` and ``\\`` (so ``../x``, ``C:\\x`` and ``x/../../y`` give
    ``x``, ``x`` and ``y``), drops drive prefixes, replaces control and reserved characters with
    ``_``, drops bidirectional controls (which make a name read as another extension), strips
    leading dots and trailing dots and spaces, cuts long names to :data:`MAX_NAME_BYTES`, guards
    Windows device names and renames what would look like fetchq's own files (``x.part`` ->
    ``x_part``, ``x.part.json`` -> ``x_part.json``), in that order, so that no cut can undo a
    guard. None when nothing usable is left (``""``, ``.``, ``..``).
    """
    if not name:
        return None
    name = unicodedata.normalize("NFC", name)
    components = [c for c in re.split(r"[/\\]", name) if c.strip() not in ("", ".", "..")]
    if not components:
        return None
    candidate = _DRIVE_PREFIX.sub("", components[-1])
    candidate = _FORBIDDEN_CHARS.sub("_", candidate)
    candidate = _DIRECTION_MARKS.sub("", candidate)
    candidate = candidate.strip().lstrip(".").rstrip(". ")
    candidate = _cut_to_bytes(candidate, MAX_NAME_BYTES).rstrip(". ")
    if not candidate or set(candidate) <= {"_"}:
        return None
    if candidate.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        candidate = _cut_to_bytes(f"_{candidate}", MAX_NAME_BYTES).rstrip(". ")
    # Every check after the cut, which makes the end of a name out of its middle:
    # ``x.part_y.json`` cut after ``x.part``, ``CON    y`` cut in its spaces.
    return _not_bookkeeping(candidate)


def _not_bookkeeping(name: str) -> str:
    """``name`` with fetchq's own endings renamed (``x.part`` -> ``x_part``): a server must never
    name a file as fetchq names its partial files and sidecars, or a planted
    ``model.bin.part.json`` would describe another download's ``model.bin.part``. Applied last,
    to a name already cut to length: the rename keeps the length."""
    return _BOOKKEEPING.sub("_part", name)


def choose_filename(
    content_disposition: Optional[str], final_url: str, content_type: Optional[str] = None
) -> str:
    """The name for a download into a folder.

    Content-Disposition wins, then the final URL's last path segment; when neither gives a safe
    name, ``download`` with an extension guessed from the Content-Type.
    """
    for raw in (
        filename_from_content_disposition(content_disposition),
        filename_from_url(final_url),
    ):
        safe = sanitize_filename(raw)
        if safe:
            return safe
    extension = ""
    if content_type:
        extension = mimetypes.guess_extension(content_type.split(";", 1)[0].strip()) or ""
    return FALLBACK_NAME + extension


def numbered_name(name: str, number: int) -> str:
    """``report.pdf`` -> ``report (2).pdf``: the name tried when ``report.pdf`` is taken."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    suffix = f" ({number})" + (f".{extension}" if extension else "")
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    return _not_bookkeeping(stem.encode("utf-8")[:room].decode("utf-8", errors="ignore") + suffix)
