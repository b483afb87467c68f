"""The SQLite journal: the queue survives its process.

Every job and every change of its state is written (WAL mode, ``synchronous=NORMAL``) before the
call that made it returns, so a ``kill -9`` loses only bytes in flight, which the part files'
sidecars mostly keep too. Rows carry a version, and a write never replaces a newer one, so
threads that record the same job concurrently cannot move it back in time. A lock file keeps a
second process out; access tokens are never written.

A journal holds links, and links hold secrets: its files are made readable by their owner only
(0600, in a new folder of mode 0700), a link's password is never written (a login lives in the
system keychain), and a finished download is kept without its link's query string, which a
signed link's signature travels in and which only a resume needs.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional, Union
from urllib.parse import urlsplit

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

from ._exceptions import JournalCorruptError, JournalError, JournalFormatError, JournalLockedError

JOURNAL_FORMAT = "fetchq-journal"
JOURNAL_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    resume INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class JournalRecord:
    """One job as stored: its JSON (no token, no callbacks) and whether to resume it at start."""

    id: int
    version: int
    status: str
    resume: bool
    data: str


_HISTORY_STATUSES = ("completed", "cancelled")
_NOT_IN_A_PACKAGE = '"package_id":null'  # as pydantic writes a single download's record
_HISTORY_SQL = f"status IN {_HISTORY_STATUSES!r} AND instr(data, '{_NOT_IN_A_PACKAGE}') > 0"
""":func:`is_history` as SQL, for searching and deleting without reading every record."""


def is_history(record: JournalRecord) -> bool:
    """Whether a record is history: a completed or cancelled download of its own (not a file
    of a multi-file job, which comes back with its job). Decided on the stored status and
    text, without parsing the record: that is what costs at start."""
    return record.status in _HISTORY_STATUSES and _NOT_IN_A_PACKAGE in record.data


JournalChange = Union[JournalRecord, int]
"""A job state to store, or the id of a job to remove."""

_UPSERT = (
    "INSERT INTO jobs(id, version, status, resume, data) VALUES {values} "
    "ON CONFLICT(id) DO UPDATE SET version=excluded.version, status=excluded.status, "
    "resume=excluded.resume, data=excluded.data WHERE excluded.version > jobs.version"
)
_ROWS_PER_STATEMENT = 500  # 2500 parameters, well under SQLite's limit


_OWNER_ONLY = 0o600
_SIDE_FILES = ("-wal", "-shm", "-journal")


def stored_link(url: str, finished: bool) -> str:
    """What the journal keeps of a link: never its password, and when the download is
    ``finished`` neither its query nor its fragment; an unfinished one keeps them to resume."""
    if "@" not in url and not (finished and ("?" in url or "#" in url)):
        return url  # the common case, decided without parsing
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.password is None and not (finished and (parts.query or parts.fragment)):
        return url
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if finished:
        parts = parts._replace(query="", fragment="")
    return parts._replace(netloc=netloc).geturl()


def stored_data(data: str, links: dict[str, str]) -> str:
    """A job's JSON with the links in ``links`` (field name to link) as :func:`stored_link`
    keeps them; parsed only when one of them changes."""
    changed = {
        name: link
        for name, link in links.items()
        if f'"{name}":{json.dumps(link, ensure_ascii=False)}' not in data
    }
    if not changed:
        return data
    fields = json.loads(data)
    fields.update(changed)
    return json.dumps(fields, separators=(",", ":"))


def _owner_only(path: Path) -> None:
    """Create ``path`` (mode 0600) if missing, else narrow it to 0600; SQLite gives its WAL
    and shared-memory files the mode of the database they belong to."""
    if sys.platform == "win32":
        return  # the profile folder's ACL is the user's
    fd = os.open(path, os.O_RDWR | os.O_CREAT, _OWNER_ONLY)
    try:
        os.fchmod(fd, _OWNER_ONLY)
    finally:
        os.close(fd)


def _row(record: JournalRecord) -> tuple[int, int, str, int, str]:
    return (record.id, record.version, record.status, int(record.resume), record.data)


class _LockFile:
    """An exclusive, non-blocking lock on ``path``, held while this object lives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _owner_only(path)
        self._file: Optional[IO[str]] = open(path, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            self._lock()
        except OSError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise JournalLockedError(
                f"{path.with_suffix('')} is in use by another fetchq process (pid {holder})"
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()

    def _lock(self) -> None:
        assert self._file is not None
        if sys.platform == "win32":
            msvcrt.locking(self._file.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the lock
            self._file = None


class Journal:
    """A fetchq journal file, open and locked for this process."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the folder of {self.path}: {exc}") from exc
        self._lock_file = _LockFile(self.path.with_name(self.path.name + ".lock"))
        try:
            _owner_only(self.path)
            for suffix in _SIDE_FILES:
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    _owner_only(side)
        except OSError as exc:
            self._lock_file.release()
            raise JournalError(
                f"cannot make {self.path} readable by its owner only: {exc}"
            ) from exc
        try:
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
        except sqlite3.Error as exc:
            self._lock_file.release()
            raise JournalError(f"cannot open {self.path}: {exc}") from exc
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            self._lock_file.release()
            raise

    def _prepare(self) -> None:
        try:
            tables = {
                row[0]
                for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not tables:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                self._db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("format", JOURNAL_FORMAT), ("version", str(JOURNAL_VERSION))],
                )
            else:
                self._check_format(tables)
                self._db.execute("PRAGMA journal_mode=WAL")
                check = self._db.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok":
                    raise JournalCorruptError(
                        f"{self.path} is damaged: {check[0] if check else '?'}"
                    )
            self._db.execute("PRAGMA synchronous=NORMAL")
            # A record replaced (a signed link's unfinished state) leaves no trace in the file.
            self._db.execute("PRAGMA secure_delete=ON")
            # Checkpoints fsync, and on ext4 an fsync flushes every dirty file of the file
            # system: checkpoint rarely (about every 40 MB of WAL), not every 4 MB.
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
        except sqlite3.DatabaseError as exc:
            raise JournalCorruptError(
                f"{self.path} is not a readable fetchq journal: {exc}"
            ) from exc

    def _check_format(self, tables: set[str]) -> None:
        if "meta" not in tables or "jobs" not in tables:
            raise JournalFormatError(f"{self.path} is an SQLite file but not a fetchq journal")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != JOURNAL_FORMAT:
            raise JournalFormatError(f"{self.path} is not a fetchq journal")
        try:
            version = int(meta.get("version", ""))
        except ValueError:
            raise JournalFormatError(f"{self.path} has no readable format version") from None
        if version > JOURNAL_VERSION:
            raise JournalFormatError(
                f"{self.path} was written by a newer fetchq (journal format {version}; this "
                f"version reads up to {JOURNAL_VERSION})"
            )

    def load(self) -> list[JournalRecord]:
        """Every job in the journal, by id."""
        with self._write_lock:
            try:
                rows = self._db.execute(
                    "SELECT id, version, status, resume, data FROM jobs ORDER BY id"
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise JournalCorruptError(f"{self.path} cannot be read: {exc}") from exc
        return [JournalRecord(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def apply(self, changes: Sequence[JournalChange]) -> None:
        """Apply job states (records) and removals (ids), in order, in one transaction.

        A record never replaces a newer version of the same job. Records go in multi-row
        statements: sqlite3 releases the GIL on every step, and each release is a chance for
        a busy download thread to take it, so fewer steps mean fewer thread switches.
        """
        if not changes:
            return
        with self._write_lock:
            self._db.execute("BEGIN")
            try:
                for is_record, group in itertools.groupby(
                    changes, key=lambda c: isinstance(c, JournalRecord)
                ):
                    if is_record:
                        self._upsert([c for c in group if isinstance(c, JournalRecord)])
                    else:
                        self._db.executemany("DELETE FROM jobs WHERE id = ?", [(c,) for c in group])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _upsert(self, records: list[JournalRecord]) -> None:
        latest: dict[int, JournalRecord] = {}
        for record in records:  # one row per job, its newest version
            known = latest.get(record.id)
            if known is None or record.version > known.version:
                latest[record.id] = record
        rows = list(latest.values())
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            values = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
            self._db.execute(
                _UPSERT.format(values=values),
                [field for record in chunk for field in _row(record)],
            )

    def search_history(self, text: str, offset: int, limit: int) -> list[JournalRecord]:
        """History (:func:`is_history`) whose link or file path holds ``text`` (any case),
        newest first; for the history the queue does not keep in memory."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._write_lock:
            rows = self._db.execute(
                "SELECT id, version, status, resume, data FROM jobs "
                f"WHERE {_HISTORY_SQL} "
                "AND (json_extract(data, '$.source') LIKE ?1 ESCAPE '\\' "
                "OR json_extract(data, '$.download_path') LIKE ?1 ESCAPE '\\') "
                "ORDER BY id DESC LIMIT ?2 OFFSET ?3",
                (pattern, limit, offset),
            ).fetchall()
        return [JournalRecord(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def delete_history(self, keep: Iterable[int]) -> None:
        """Remove the history (:func:`is_history`), but the jobs in ``keep``."""
        kept = set(keep)
        with self._write_lock:
            ids = [
                row[0]
                for row in self._db.execute(f"SELECT id FROM jobs WHERE {_HISTORY_SQL}")
                if row[0] not in kept
            ]
            self._db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        with self._write_lock:
            try:
                with contextlib.suppress(sqlite3.Error):  # the log goes, with old versions
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            finally:
                self._lock_file.release()
