"""Logins in the app (issue 17, item 2): a 401 opens one login dialog per site; the login is
remembered in the keychain when asked (never in fetchq's files) and used next time without
asking."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keyring.backend
from pytestqt.qtbot import QtBot

from fetchq.testing import TestServer
from fetchq_gui import MainWindow
from fetchq_gui.dialogs import LoginDialog
from fetchq_gui.logins import LoginStore, origin_key
from fetchq_gui.model import Column
from tests.gui.gui_helpers import WAIT_MS, click, type_text, wait_cell
from tests.helpers import payload


class MemoryKeychain(keyring.backend.KeyringBackend):
    """A keychain in memory (the machine's own is never touched by tests)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> Optional[str]:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


def login_dialog(window: MainWindow, qtbot: QtBot) -> LoginDialog:
    qtbot.waitUntil(
        lambda: window.findChild(LoginDialog, "login_dialog") is not None, timeout=WAIT_MS
    )
    dialog = window.findChild(LoginDialog, "login_dialog")
    assert dialog is not None
    return dialog


def test_a_site_that_asks_for_a_login_gets_one_dialog_and_remembers_it(
    window: MainWindow, qtbot: QtBot, server: TestServer, downloads: Path
) -> None:
    keychain = MemoryKeychain()
    window.logins = LoginStore(window.settings, keychain)
    urls = [
        server.add(f"/private/{name}", payload(5000, n), auth=("ada", "pa ss", "digest"))
        for n, name in enumerate(["a.bin", "b.bin"])
    ]
    jobs = window.add_urls(urls)
    dialog = login_dialog(window, qtbot)
    assert dialog.windowTitle() == "Log in to 127.0.0.1"
    assert dialog.remember_check.isEnabled()
    for job in jobs:
        wait_cell(qtbot, window, job.id, Column.STATUS, "Login required")
    type_text(dialog.user_edit, "ada")
    type_text(dialog.password_edit, "pa ss")
    dialog.remember_check.setChecked(True)
    click(dialog.ok_button)
    for job in jobs:  # one dialog logged in both downloads of the site
        wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    origin = origin_key(urls[0])
    qtbot.waitUntil(lambda: bool(keychain.passwords), timeout=WAIT_MS)
    assert keychain.passwords == {(f"fetchq {origin}", "ada"): "pa ss"}
    assert window.settings.login_user(origin) == "ada"
    settings_file = Path(window.settings.store.fileName()).read_text()
    assert "pa ss" not in settings_file


def test_a_remembered_login_is_used_without_asking(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    keychain = MemoryKeychain()
    window.logins = LoginStore(window.settings, keychain)
    url = server.add("/private/c.bin", b"c" * 3000, auth=("ada", "kept", "basic"))
    window.logins.remember(origin_key(url), "ada", "kept")
    (job,) = window.add_urls([url])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    assert window.findChild(LoginDialog, "login_dialog") is None


def test_without_a_keychain_nothing_is_remembered_and_cancel_leaves_it_waiting(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    keychain = MemoryKeychain()
    keychain.priority = 0  # like keyring's "fail" backend
    window.logins = LoginStore(window.settings, keychain)
    (job,) = window.add_urls([server.add("/private/d.bin", b"d", auth=("ada", "x", "basic"))])
    dialog = login_dialog(window, qtbot)
    assert not dialog.remember_check.isEnabled()
    dialog.reject()
    wait_cell(qtbot, window, job.id, Column.STATUS, "Login required")
    assert keychain.passwords == {}


def test_a_password_in_a_link_goes_to_the_keychain_not_the_journal(
    window: MainWindow, qtbot: QtBot, server: TestServer
) -> None:
    """The journal keeps ``user@host`` only (issue 24): the password of a link typed with
    one is kept where logins are, for the download to find after a restart."""
    keychain = MemoryKeychain()
    window.logins = LoginStore(window.settings, keychain)
    url = server.add("/mine.bin", payload(3000), auth=("ada", "pa ss", "basic"))
    (job,) = window.add_urls([url.replace("://", "://ada:pa%20ss@", 1)])
    wait_cell(qtbot, window, job.id, Column.STATUS, "Completed")
    origin = origin_key(url)
    qtbot.waitUntil(lambda: bool(keychain.passwords), timeout=WAIT_MS)
    assert keychain.passwords == {(f"fetchq {origin}", "ada"): "pa ss"}
    assert window.logins.remembered(origin) == ("ada", "pa ss")
