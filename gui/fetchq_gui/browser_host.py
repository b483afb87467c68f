"""``fetchq --browser-host``: the native messaging host the browser extension talks to.

The browser starts it with a pipe on standard input and output (:mod:`.native_messaging`). It
answers ``ping`` (is fetchq there, which version, is the app running) and hands each
``download`` to the running app over the single-instance socket, starting the app first when
it is not running. It opens no window and no port: the browser's pipe is the only way in, and
cookies pass through memory only, never a file or a log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, Optional, Protocol

from fetchq import __version__

from .native_messaging import (
    BrowserRequest,
    ProtocolError,
    parse_request,
    read_message,
    write_message,
)

HOST_NAME = "io.github.fetchq.fetchq"
"""The name the extension asks the browser for; the manifests are named after it."""
START_TIMEOUT = 30.0
"""How long a host waits for an app it started to listen (a cold start on a slow disk)."""


class AppChannel(Protocol):
    """The way to the app: hand a download over, or say whether it is running."""

    def deliver(self, request: BrowserRequest) -> Optional[str]:
        """None when the app has the download, else why not, for the popup to show."""
        ...  # pragma: no cover - a protocol

    def running(self) -> bool: ...  # pragma: no cover - a protocol


def serve(stdin: BinaryIO, stdout: BinaryIO, app: AppChannel) -> int:
    """Answer messages until the browser closes the pipe; 0 then, 1 on a broken message (the
    stream is out of step: the browser starts a new host for the next one)."""
    while True:
        try:
            message = read_message(stdin)
        except ProtocolError as exc:
            write_message(stdout, {"ok": False, "error": str(exc)})
            return 1
        if message is None:
            return 0
        if not write_message(stdout, answer(message, app)):
            return 0


def answer(message: object, app: AppChannel) -> dict[str, object]:
    """The reply to one message."""
    if isinstance(message, dict) and message.get("type") == "ping":
        return {"ok": True, "version": __version__, "running": app.running()}
    try:
        request = parse_request(message)
    except ProtocolError as exc:
        return {"ok": False, "error": str(exc)}
    problem = app.deliver(request)
    return {"ok": True} if problem is None else {"ok": False, "error": problem}


def app_command(profile: Optional[Path], *options: str) -> list[str]:
    """How to run this installation's fetchq (the frozen executable, or this Python) with
    ``options``, in ``profile``."""
    command = (
        [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "fetchq_gui"]
    )
    command += options
    if profile is not None:
        command += ["--profile", str(profile)]
    return command


def _start_detached(command: Sequence[str]) -> None:
    """Start the app in a session of its own, off the browser's pipe, so closing the browser
    (or the browser ending the host) leaves it running."""
    subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


class SocketChannel:
    """The app over its single-instance socket (:class:`.single_instance.SingleInstance`)."""

    def __init__(
        self,
        key: str,
        command: Sequence[str],
        start: Callable[[Sequence[str]], object] = _start_detached,
    ) -> None:
        from .single_instance import SingleInstance  # noqa: PLC0415 - Qt only when needed

        self._instance = SingleInstance(key)
        self._command = list(command)
        self._start = start

    def running(self) -> bool:
        try:
            return self._instance.hand_over([], ping=True)  # not a launch: no window raised
        except OSError:
            return False

    def deliver(self, request: BrowserRequest) -> Optional[str]:
        try:
            return self._deliver(request)
        except OSError as exc:  # ForeignListenerError: the download went nowhere
            return f"fetchq refused to hand the download over: {exc}"

    def _deliver(self, request: BrowserRequest) -> Optional[str]:
        if self._instance.hand_over([], downloads=[request]):
            return None
        try:
            self._start(self._command)
        except OSError as exc:
            return f"fetchq could not be started: {exc}"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:  # another process: there is no event to wait on
            if self._instance.hand_over([], timeout_ms=500, downloads=[request]):
                return None
            time.sleep(0.2)
        return f"fetchq was started but did not answer within {START_TIMEOUT:.0f} s"


class Unreachable:
    """No way to the app (its socket folder is not the user's): every download says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def running(self) -> bool:
        return False

    def deliver(self, request: BrowserRequest) -> Optional[str]:
        return self.reason


def main(argv: Sequence[str]) -> int:
    """Run the host. The browser adds arguments of its own (the extension's origin, or the
    manifest's path and the add-on's id): they are ignored; only ``--profile`` is read."""
    profile = _profile(argv)
    from .app_paths import data_folder  # noqa: PLC0415 - QtCore only, after the arguments

    folder = data_folder(profile)
    from .single_instance import instance_address  # noqa: PLC0415

    channel: AppChannel
    try:
        channel = SocketChannel(instance_address(folder), app_command(profile))
    except OSError as exc:
        channel = Unreachable(f"fetchq's folders are not yours alone: {exc}")
    stdin = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    stdout = os.fdopen(sys.stdout.fileno(), "wb", buffering=0, closefd=False)
    return serve(stdin, stdout, channel)


def _profile(argv: Sequence[str]) -> Optional[Path]:
    args = list(argv)
    for index, arg in enumerate(args):
        if arg == "--profile" and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--profile="):
            return Path(arg.partition("=")[2])
    return None
