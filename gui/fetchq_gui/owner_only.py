"""Files and sockets only this user may touch: private folders, and who is at a socket's other end.

Another account on the same machine must not be able to read the download list (links may hold
signed queries), nor to bind the app's socket first and receive the browser's downloads with
their cookies. So the app's folders are made 0700 and checked to be ours, not a link planted by
someone else, and every peer on the single-instance socket is asked for its user id.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
import sys
from pathlib import Path
from typing import Optional


class NotPrivateError(OSError):
    """A folder that should be the user's alone is another's, a link, or not a folder."""


def private_folder(path: Path) -> Path:
    """``path`` as a folder that only this user can open, made when missing (parents too).

    An existing folder of ours that others may read is narrowed to 0700; one owned by another
    account, or a symbolic link in its place, is refused: we would not know who else can
    create files in it. No-op apart from creating the folder where there are no Unix modes.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sys.platform == "win32":
        return path  # Windows: the user's profile folders carry the user's own ACL
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise NotPrivateError(f"{path} is not a folder of its own (a link or a file is there)")
    if info.st_uid != os.getuid():
        raise NotPrivateError(f"{path} belongs to another user (uid {info.st_uid})")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


# struct xucred (sys/ucred.h on macOS and the BSDs): cr_version, then cr_uid; SOL_LOCAL is 0.
_SOL_LOCAL = 0
_LOCAL_PEERCRED = 0x001
_XUCRED_SIZE = 76


def peer_uid(descriptor: int) -> Optional[int]:
    """The user id of the process at the other end of the Unix socket ``descriptor``.

    None where the platform cannot tell (Windows, whose pipes carry the user's ACL instead).
    Raises ``OSError`` where it should tell and cannot: the caller then trusts no one.
    """
    if sys.platform == "win32":
        return None
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=os.dup(descriptor))
    try:
        if sys.platform.startswith("linux"):
            _pid, uid, _gid = struct.unpack(
                "3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            )
        else:  # macOS and the BSDs
            raw = peer.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, _XUCRED_SIZE)
            _version, uid = struct.unpack_from("Ii", raw)
        return int(uid)
    finally:
        peer.close()


def same_user(descriptor: int) -> bool:
    """Whether the peer on ``descriptor`` runs as this user (True where the OS cannot tell)."""
    try:
        uid = peer_uid(descriptor)
    except OSError:
        return False
    return uid is None or uid == os.getuid()
