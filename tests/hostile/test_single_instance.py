"""Another account on the machine against the app's single-instance socket.

Whoever holds that socket receives every download the browser hands over, with its cookies.
Run as root (as CI does), these tests play the other account for real as ``nobody``; as any
other user the two-account tests are skipped and the peer check is tested with one uid.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from fetchq_gui import single_instance
from fetchq_gui.owner_only import NotPrivateError, peer_uid, private_folder
from fetchq_gui.single_instance import ForeignListenerError, SingleInstance

WAIT_MS = 10_000
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"


def _other_account() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no account 'nobody' to play the other user")
    return entry.pw_uid, entry.pw_gid


needs_root = pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0, reason="playing another user needs root"
)


def app_address(profile: Path) -> str:
    """Where the app of ``profile`` listens, as a filesystem path."""
    make = getattr(single_instance, "instance_address", None)
    if make is not None:
        address = str(make(profile))
    else:  # 4b3376f: a bare name, which Qt puts in the temporary folder
        address = single_instance.instance_key(str(profile.resolve()))  # type: ignore[attr-defined]
    return address if os.path.isabs(address) else os.path.join(tempfile.gettempdir(), address)


# The other user's program: binds (or connects to) a Unix socket and reports what it got.
_SQUATTER = r"""
import json, os, socket, sys
path, mode = sys.argv[1], sys.argv[2]
out = {}
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if mode == "listen":
        s.bind(path)
        os.chmod(path, 0o777)
        s.listen(1)
        print(json.dumps({"bound": True}), flush=True)
        s.settimeout(float(sys.argv[3]))
        try:
            conn, _ = s.accept()
            conn.settimeout(5)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
            out["received"] = data.decode()
        except (socket.timeout, OSError) as exc:
            out["received"] = ""
            out["accept"] = type(exc).__name__
    else:
        s.connect(path)
        out["connected"] = True
        s.settimeout(5)
        try:  # the app may hang up before or after the message is sent
            s.sendall(sys.argv[3].encode() + b"\n")
            out["reply"] = s.recv(10).decode()
        except OSError as exc:
            out["reply"] = type(exc).__name__
except OSError as exc:
    out["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out), flush=True)
"""


def _as_other_user(*args: str) -> subprocess.Popen[str]:
    uid, gid = _other_account()

    def drop() -> None:  # pragma: no cover - runs in the child
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return subprocess.Popen(
        [SYSTEM_PYTHON, "-c", _SQUATTER, *args],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=drop,  # noqa: PLW1509 - the test's own child, no threads involved in it
        cwd="/",
    )


def _lines(process: subprocess.Popen[str]) -> list[dict[str, object]]:
    out, _ = process.communicate(timeout=30)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder anyone may write to, as /tmp is: the old home of the socket."""
    folder = Path(tempfile.mkdtemp(prefix="fetchq-open-", dir="/tmp"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_root
def test_another_user_cannot_take_the_socket_before_the_app(qtbot: QtBot, tmp_path: Path) -> None:
    """The other user binds where the app will listen, before the app starts (before login,
    after Quit); the browser's next download must not reach them."""
    profile = tmp_path / "profile"
    profile.mkdir()
    address = app_address(profile)
    squatter = _as_other_user(address, "listen", "3")
    assert squatter.stdout is not None
    first = json.loads(squatter.stdout.readline())
    handed = SingleInstance(app_address(profile)).hand_over(["https://example.org/secret"])
    report = first
    for line in _lines(squatter):
        report = {**report, **line}
    assert "secret" not in str(report.get("received", ""))
    assert not handed, "the link was handed to a process of another user"
    assert report.get("bound") is not True, report
    running = SingleInstance(app_address(profile), parent=QCoreApplication.instance())
    assert running.listen(), running.listen_error
    running.close()


@needs_root
def test_a_planted_runtime_folder_is_not_used(
    tmp_path: Path, open_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user made ``$XDG_RUNTIME_DIR/fetchq`` first (or a link there to their folder):
    the socket goes to a folder of the user's own instead."""
    uid, gid = _other_account()
    theirs = open_folder / "theirs"
    theirs.mkdir()
    os.chown(theirs, uid, gid)
    for planted in ("folder", "link"):
        runtime = tmp_path / f"runtime-{planted}"
        runtime.mkdir()
        if planted == "folder":
            (runtime / "fetchq").mkdir(mode=0o777)
            os.chown(runtime / "fetchq", uid, gid)
        else:
            (runtime / "fetchq").symlink_to(theirs)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        address = Path(app_address(tmp_path / "profile"))
        assert not address.is_relative_to(runtime), planted
        assert not address.is_relative_to(theirs), planted
        assert os.stat(address.parent).st_uid == os.getuid()


@needs_root
def test_a_connection_from_another_user_is_refused(qtbot: QtBot, open_folder: Path) -> None:
    """Even where the other user can reach the socket, what they send is not taken."""
    address = str(open_folder / "app.sock")
    running = SingleInstance(address, parent=QCoreApplication.instance())
    assert running.listen(), running.listen_error
    os.chmod(address, 0o777)  # the folder and mode no longer stand in the way: the uid must
    received: list[list[str]] = []
    running.urls_received.connect(received.append)
    message = json.dumps({"urls": ["https://evil.example/planted"]})
    intruder = _as_other_user(address, "connect", message)
    qtbot.waitUntil(lambda: intruder.poll() is not None, timeout=WAIT_MS)
    (report,) = _lines(intruder)
    assert report.get("connected"), report
    assert SingleInstance(address).hand_over(["https://example.org/mine"])
    qtbot.waitUntil(lambda: bool(received), timeout=WAIT_MS)
    assert received == [["https://example.org/mine"]]
    running.close()


@needs_root
def test_nothing_is_handed_to_a_listener_of_another_user(open_folder: Path) -> None:
    address = str(open_folder / "app.sock")
    squatter = _as_other_user(address, "listen", "3")
    assert squatter.stdout is not None
    assert json.loads(squatter.stdout.readline()) == {"bound": True}
    with pytest.raises(ForeignListenerError, match="another user"):
        SingleInstance(address).hand_over(["https://example.org/secret"])
    (report,) = _lines(squatter)
    assert "secret" not in str(report.get("received", "")), report


def test_the_peer_of_a_socket_is_known() -> None:
    if os.name != "posix":
        pytest.skip("Windows pipes carry an ACL instead")
    left, right = socket.socketpair()
    with left, right:
        assert peer_uid(left.fileno()) == os.getuid()


def test_one_user_a_foreign_peer_gets_nothing(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one account: a peer said to be another user is refused both ways."""
    address = single_instance.instance_address(tmp_path / "profile")
    running = SingleInstance(address, parent=QCoreApplication.instance())
    assert running.listen(), running.listen_error
    received: list[list[str]] = []
    running.urls_received.connect(received.append)
    monkeypatch.setattr(single_instance, "same_user", lambda _fd: False)
    with pytest.raises(ForeignListenerError):
        SingleInstance(address).hand_over(["https://example.org/secret"])
    monkeypatch.undo()
    assert SingleInstance(address).hand_over(["https://example.org/mine"])
    qtbot.waitUntil(lambda: bool(received), timeout=WAIT_MS)
    assert received == [["https://example.org/mine"]]
    running.close()


def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("Unix modes")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(NotPrivateError, match="link"):
        private_folder(link)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    mine.chmod(0o755)
    assert private_folder(mine) == mine
    assert (mine.stat().st_mode & 0o777) == 0o700


def test_a_failed_listen_says_why(tmp_path: Path) -> None:
    address = str(tmp_path / "no-such-folder" / "app.sock")
    instance = SingleInstance(address, parent=QCoreApplication.instance())
    assert not instance.listen()
    assert address in instance.listen_error
