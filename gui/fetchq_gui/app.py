"""``fetchq [URL...]``: the desktop app on a qasync event loop, one instance per user and profile.

The download list lives in a journal under the platform's app-data folder, so it survives
quitting, crashes and reboots; preferences live in QSettings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import qasync
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from fetchq import DownloadQueueService, JournalError

from .about import version_text
from .app_paths import data_folder, set_app_names
from .browser_install import installer
from .demo import Demo
from .icons import app_icon
from .owner_only import NotPrivateError, private_folder
from .settings import Settings
from .single_instance import SingleInstance, instance_address
from .window import MainWindow

JOURNAL_NAME = "downloads.sqlite3"
HISTORY_IN_MEMORY = 500
"""Finished downloads shown at start; older ones stay in the journal, found by the search
box or by scrolling to the end of the list."""


class _Version(argparse.Action):
    """``--version``: one line, unwrapped (argparse's own action rewraps it)."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        print(version_text())
        parser.exit()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fetchq", description="fetchq, a download manager")
    parser.add_argument("urls", nargs="*", help="links to download")
    parser.add_argument("--add", action="store_true", help="open the add-downloads dialog")
    parser.add_argument("--demo", action="store_true", help="a local server with sample downloads")
    parser.add_argument("--profile", type=Path, help="keep settings and the list in this folder")
    parser.add_argument(
        "--import",
        dest="imports",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="add the downloads of a list (fetchq's JSON, aria2's input file, or links)",
    )
    parser.add_argument("--screenshot", type=Path, help="with --demo: save a PNG of the window")
    parser.add_argument("--version", action=_Version, nargs=0, help="print the versions and exit")
    browser = parser.add_mutually_exclusive_group()
    browser.add_argument(
        "--install-browser-integration",
        action="store_true",
        help="let the fetchq extension of Chromium, Chrome, Brave, Edge, Vivaldi and Firefox "
        "hand downloads to fetchq, and exit",
    )
    browser.add_argument(
        "--uninstall-browser-integration",
        action="store_true",
        help="remove what --install-browser-integration wrote, and exit",
    )
    browser.add_argument(
        "--browser-host",
        action="store_true",
        help="the native messaging host browsers start (not for people)",
    )
    return parser.parse_args(argv)


def open_queue(journal: Path, settings: Settings) -> Optional[DownloadQueueService]:
    """The queue on the user's journal; a journal that cannot be used is explained, not lost."""
    try:
        return DownloadQueueService(
            max_parallel_dl=settings.parallel_downloads,
            max_connections_per_download=settings.connections_per_file,
            journal=journal,
            resume_restored=settings.resume_at_start,
            history_in_memory=HISTORY_IN_MEMORY,
        )
    except JournalError as exc:
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "fetchq cannot open its download list",
            f"{exc}\n\nThe file was left untouched. Move it aside to start with an empty list.",
        )
        box.exec()  # before the event loop runs: nothing else is waiting on it
        return None


def _cannot_start(reason: str) -> int:
    """Say why the app stops before its window opens (on the terminal too), and exit 1."""
    print(reason, file=sys.stderr)
    box = QMessageBox(QMessageBox.Icon.Critical, "fetchq cannot start", reason)
    box.exec()  # before the event loop runs: nothing else is waiting on it
    return 1


def _take_screenshot(window: MainWindow, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    print(f"screenshot saved to {path}")
    window.quit_app()


def _quit_on_signals(window: MainWindow) -> None:
    """SIGTERM and Ctrl+C quit as the Quit action does: downloads paused, list saved."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: window.quit_app())
    # Python runs signal handlers between bytecodes; a timer lets it in while Qt waits.
    heartbeat = QTimer(window)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)


NO_DISPLAY = (
    "fetchq needs a display, and none was found (DISPLAY and WAYLAND_DISPLAY are not set).\n"
    "Start it from a desktop session; or run `make demo-cli` for the demo in this terminal;\n"
    "or set QT_QPA_PLATFORM=offscreen to run it without a window."
)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _display_missing() -> bool:
    """On Linux without a display, Qt aborts with a core dump; say why and stop instead."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not _has_display()
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.install_browser_integration or args.uninstall_browser_integration:
        setup = installer(args.profile)
        outcome = setup.install() if args.install_browser_integration else setup.uninstall()
        print(outcome.text())
        return 0
    if args.screenshot and not _has_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if _display_missing() and QApplication.instance() is None:
        print(NO_DISPLAY, file=sys.stderr)
        return 2
    set_app_names()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setWindowIcon(app_icon())
    app.setDesktopFileName("io.github.fetchq.fetchq")
    app.setQuitOnLastWindowClosed(False)

    demo = Demo() if args.demo else None
    folder = demo.folder if demo is not None else data_folder(args.profile)
    imports = [str(path.resolve()) for path in args.imports]
    try:
        folder = private_folder(folder.resolve())  # the list holds links with signed queries
        instance = SingleInstance(instance_address(folder))
        if demo is None and instance.hand_over(
            args.urls, open_add_dialog=args.add, imports=imports
        ):
            print("fetchq is already running; the links were handed to it.")
            return 0
    except NotPrivateError as exc:
        return _cannot_start(f"fetchq's folders are not yours alone: {exc}")

    store = (
        QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        if (demo is not None or args.profile is not None)
        else QSettings()
    )
    settings = Settings(store)
    journal = demo.journal if demo is not None else folder / JOURNAL_NAME
    queue = open_queue(journal, settings)
    if queue is None:
        return 1
    download_dir = demo.downloads if demo is not None else settings.download_dir

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    if not instance.listen():
        queue.stop()
        return _cannot_start(
            f"fetchq cannot listen for links from the browser and later launches: "
            f"{instance.listen_error}"
        )
    window = MainWindow(queue, download_dir, settings=settings, owns_queue=True)
    instance.urls_received.connect(window.add_urls)
    instance.downloads_received.connect(window.add_browser_downloads)
    instance.imports_received.connect(lambda paths: [window.import_list(Path(p)) for p in paths])
    window.browser_installer = lambda: installer(args.profile)
    instance.raise_requested.connect(window.bring_to_front)
    instance.add_dialog_requested.connect(window.open_add_dialog)
    _quit_on_signals(window)
    window.show()
    if demo is not None:
        for url, priority in demo.urls:
            window.add_urls([url], priority=priority)
        package = window.add_multifile(demo.model_parts, priority=5)
        if package is not None:
            window.select_jobs([package.id])  # its files show under the table
        if args.screenshot:
            QTimer.singleShot(3500, lambda: _take_screenshot(window, args.screenshot))
    if args.urls:
        window.add_urls(args.urls)
    for path in imports:
        window.import_list(Path(path))
    if args.add:
        window.open_add_dialog()

    closed = asyncio.Event()
    window.closed.connect(closed.set)
    with loop:
        loop.run_until_complete(closed.wait())
    instance.close()
    if demo is not None:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
