"""The part file on disk: positional writes, an exclusive lock, free space, promotion.

A file at ``download_path`` is always whole: bytes go to ``<download_path>.part`` and the part
is renamed only when complete, without replacing an existing file unless asked to.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import sys
import threading
from pathlib import Path
from typing import Optional

from ._exceptions import (
    DestinationExistsError,
    DestinationInUseError,
    DiskError,
    InsufficientSpaceError,
)

if sys.platform != "win32":  # on Windows the in-process claim registry keeps jobs apart
    import fcntl

_HAS_PWRITE = hasattr(os, "pwrite")
_HAS_PWRITEV = hasattr(os, "pwritev")
_IOV_MAX = 1024
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # never write (or read) through a symbolic link
_PART_FILE_FLAGS = os.O_RDWR | os.O_CREAT | _BINARY | _NOFOLLOW
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY | _NOFOLLOW
_LINK_ERRORS = frozenset({errno.ELOOP, errno.EMLINK})
"""What opening a symbolic link with ``O_NOFOLLOW`` fails with (Linux; the BSDs)."""

_DISK_MESSAGES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EIO: "the disk reported an I/O error",
    errno.EROFS: "the file system is read-only",
    errno.EFBIG: "the file is too large for this file system",
}


def disk_error(exc: OSError, path: Path) -> DiskError:
    """A DiskError saying in plain words why writing ``path`` failed."""
    reason = _DISK_MESSAGES.get(exc.errno or 0, exc.strerror or str(exc))
    cls = InsufficientSpaceError if exc.errno in (errno.ENOSPC, errno.EDQUOT) else DiskError
    return cls(f"cannot write {path.name}: {reason}; the partial file is kept for a resume")


def _free_bytes(folder: Path) -> Optional[int]:
    """Bytes free on ``folder``'s file system; None when it cannot be asked (not a verdict)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_free_space(folder: Path, needed: int) -> None:
    """Raise InsufficientSpaceError when ``folder``'s file system has less than ``needed`` free."""
    if needed <= 0:
        return
    free = _free_bytes(folder)
    if free is not None and free < needed:
        raise InsufficientSpaceError(
            f"{needed} bytes are needed in {folder} but only {free} are free"
        )


def keep_free(folder: Path, reserve: int) -> None:
    """Raise InsufficientSpaceError when less than ``reserve`` bytes are left free: a body of
    unknown length (one that may never end) stops before it fills the disk."""
    free = _free_bytes(folder)
    if free is not None and free < reserve:
        raise InsufficientSpaceError(
            f"only {free} bytes are left free in {folder}; a download of unknown size stops "
            "here, with its partial file kept"
        )


class PartFile:
    """An open ``.part`` file, locked against other processes for as long as it is open."""

    def __init__(self, path: Path, fd: Optional[int] = None) -> None:
        """Open (creating if needed) and lock ``path``; or lock ``fd``, already open on it."""
        self.path = path
        self._seek_lock = threading.Lock()
        if fd is None:
            try:
                fd = os.open(path, _PART_FILE_FLAGS, 0o644)
            except OSError as exc:
                if exc.errno in _LINK_ERRORS:
                    raise DestinationExistsError(
                        f"{path.name} is a symbolic link; fetchq does not write through links"
                    ) from exc
                raise disk_error(exc, path) from exc
        self.fd = fd
        if sys.platform != "win32":
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                raise DestinationInUseError(
                    f"{path.name} is being written by another process"
                ) from exc

    @classmethod
    def write_new(cls, path: Path, data: memoryview) -> bool:
        """Create ``path`` holding ``data``; False, writing nothing, if it already exists.

        A small download is read whole into memory and then written with this: create, lock,
        one write, close, where an open part file costs several more calls per file.
        """
        try:
            fd = os.open(path, _NEW_FILE_FLAGS, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise disk_error(exc, path) from exc
        with cls(path, fd) as part:
            part.write_at(data, 0)
        return True

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def identity(self) -> tuple[int, int]:
        """(device, inode): what the sidecar records, so it describes this file and no other."""
        info = os.fstat(self.fd)
        return (info.st_dev, info.st_ino)

    def write_at(self, data: memoryview, offset: int) -> None:
        """Write all of ``data`` at ``offset``; thread-safe, no shared file position."""
        try:
            if _HAS_PWRITE:
                while data:
                    written = os.pwrite(self.fd, data, offset)
                    data = data[written:]
                    offset += written
            else:
                with self._seek_lock:
                    os.lseek(self.fd, offset, os.SEEK_SET)
                    while data:
                        data = data[os.write(self.fd, data) :]
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def write_chunks_at(self, chunks: list[bytes], offset: int) -> None:
        """Write ``chunks`` one after another from ``offset``, in as few calls as the system
        allows (``pwritev``: no copy into one buffer first)."""
        if not _HAS_PWRITEV:
            self.write_at(memoryview(b"".join(chunks)), offset)
            return
        views = [memoryview(chunk) for chunk in chunks]
        try:
            while views:
                written = os.pwritev(self.fd, views[:_IOV_MAX], offset)
                offset += written
                while views and written >= len(views[0]):
                    written -= len(views[0])
                    views.pop(0)
                if written:
                    views[0] = views[0][written:]
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def truncate(self, size: int) -> None:
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise disk_error(exc, self.path) from exc

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PartFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def file_digest(path: Path, algorithm: str) -> hashlib._Hash:
    """The digest of a file, read in large blocks."""
    digest = hashlib.new(algorithm)
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with os.fdopen(os.open(path, os.O_RDONLY | _BINARY | _NOFOLLOW), "rb", buffering=0) as stream:
        while True:
            count = stream.readinto(view)
            if not count:
                break
            digest.update(view[:count])
    return digest


def hexdigest(path: Path, algorithm: str, hex_length: int) -> str:
    return _hex(file_digest(path, algorithm), hex_length)


def hexdigest_of(data: memoryview, algorithm: str, hex_length: int) -> str:
    """The same for bytes in memory: a small file is checked before it touches the disk."""
    return _hex(hashlib.new(algorithm, data), hex_length)


def _hex(digest: hashlib._Hash, hex_length: int) -> str:
    if digest.digest_size == 0:  # shake_*: variable length, as long as the expected value
        return digest.hexdigest(hex_length // 2)  # type: ignore[call-arg]
    return digest.hexdigest()


def promote(part: Path, target: Path, overwrite: bool) -> None:
    """Rename the finished part file to ``target``; never replace a file unless ``overwrite``.

    Uses a hard link so that the check and the rename are one atomic step; file systems without
    hard links fall back to check-then-rename.
    """
    if overwrite:
        os.replace(part, target)
        return
    try:
        os.link(part, target)
    except FileExistsError as exc:
        raise DestinationExistsError(
            f"{target.name} appeared while downloading; the download is kept as {part.name}"
        ) from exc
    except (OSError, NotImplementedError):
        if os.path.lexists(target):
            raise DestinationExistsError(
                f"{target.name} appeared while downloading; the download is kept as {part.name}"
            ) from None
        os.rename(part, target)
        return
    os.unlink(part)


def same_file_contents(
    path: Path, size: Optional[int], checksum: Optional[tuple[str, str]]
) -> bool:
    """Whether an existing file is the one we would download: same size, and checksum if given.
    A symbolic link never is, whatever it points to."""
    if not is_regular_file(path):
        return False
    actual_size = os.lstat(path).st_size
    if size is None or actual_size != size:
        return False
    if checksum is None:
        return True
    algorithm, expected = checksum
    return hexdigest(path, algorithm, len(expected)) == expected


def is_regular_file(path: Path) -> bool:
    """Whether a regular file (not a link, whatever it points to) is at ``path``."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def in_use_elsewhere(path: Path) -> bool:
    """Whether another process holds the part file at ``path`` (its lock), or something that
    is not a regular file stands there."""
    try:
        fd = os.open(path, os.O_RDWR | _BINARY | _NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return True
        if sys.platform == "win32":
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        return False
    finally:
        os.close(fd)  # closing releases the lock just taken


def read_tail(path: Path, count: int) -> bytes:
    """The last ``count`` bytes of the file at ``path`` (never through a link)."""
    fd = os.open(path, os.O_RDONLY | _BINARY | _NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - count)
        return os.pread(fd, size - start, start) if hasattr(os, "pread") else _read_at(fd, start)
    finally:
        os.close(fd)


def _read_at(fd: int, start: int) -> bytes:
    os.lseek(fd, start, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_fd_folder: tuple[int, int] = (-1, -1)  # (pid, an open /proc/self/fd) for linkat


def _own_fds() -> int:
    """A directory descriptor of this process's ``/proc/self/fd`` (opened again after a fork:
    ``self`` is read when it is opened)."""
    global _fd_folder
    pid, fd = _fd_folder
    if pid != os.getpid():
        fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        _fd_folder = (os.getpid(), fd)
    return fd


def write_whole(path: Path, data: memoryview) -> bool:
    """Create ``path`` holding ``data`` in one go, or return False having made nothing.

    Linux: the bytes go into an unnamed file in ``path``'s folder (``O_TMPFILE``), which is
    then given its name with ``linkat``, which never replaces a file: no ``.part`` name, lock,
    rename or unlink for a small download (six system calls a file less, 10-15 % of the
    engine's time for thousands of small files). Anywhere else, on a file system without
    unnamed files, when the name (or its ``.part``) is taken, or when the disk refuses the
    bytes, False: the caller takes the part-file way, which says what was in the way (and
    keeps what it could write for a resume).
    """
    if not _O_TMPFILE or sys.platform != "linux":
        return False
    try:
        fd = os.open(path.parent, _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o644)
    except OSError:
        return False
    try:
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], written)
        # linkat(AT_SYMLINK_FOLLOW) through /proc: the unnamed file gets ``path`` unless
        # something is there (a link there is not followed). os.link takes linkat only with
        # a directory descriptor.
        os.link(str(fd), path, src_dir_fd=_own_fds(), follow_symlinks=True)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True
