"""The browser integration installer: every location, idempotent, uninstall, and the button."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Optional

from pytestqt.qtbot import QtBot

from fetchq_gui import MainWindow
from fetchq_gui.browser_install import (
    CHROMIUM_EXTENSION_IDS,
    FIREFOX_EXTENSION_ID,
    MANIFEST_NAME,
    Installer,
    host_script,
)
from fetchq_gui.dialogs import SettingsDialog
from tests.gui.gui_helpers import click

COMMAND = ["/opt/fetchq/bin/python3", "-m", "fetchq_gui", "--browser-host", "--profile", "/p q"]

_HOSTS = "NativeMessagingHosts"
_FIREFOX = ".mozilla/native-messaging-hosts"
LINUX = {
    "Chromium": f".config/chromium/{_HOSTS}",
    "Chromium (Flatpak)": f".var/app/org.chromium.Chromium/config/chromium/{_HOSTS}",
    "Chromium (Snap)": f"snap/chromium/common/chromium/{_HOSTS}",
    "Google Chrome": f".config/google-chrome/{_HOSTS}",
    "Google Chrome (Flatpak)": f".var/app/com.google.Chrome/config/google-chrome/{_HOSTS}",
    "Brave": f".config/BraveSoftware/Brave-Browser/{_HOSTS}",
    "Brave (Flatpak)": f".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser/{_HOSTS}",
    "Microsoft Edge": f".config/microsoft-edge/{_HOSTS}",
    "Microsoft Edge (Flatpak)": f".var/app/com.microsoft.Edge/config/microsoft-edge/{_HOSTS}",
    "Vivaldi": f".config/vivaldi/{_HOSTS}",
    "Vivaldi (Flatpak)": f".var/app/com.vivaldi.Vivaldi/config/vivaldi/{_HOSTS}",
    "Firefox": _FIREFOX,
    "Firefox (Flatpak)": f".var/app/org.mozilla.firefox/{_FIREFOX}",
    "Firefox (Snap)": f"snap/firefox/common/{_FIREFOX}",
}
"""Where each browser looks on Linux, relative to the home folder (from each browser's docs)."""


def no_commands(_name: str) -> Optional[str]:
    return None


def make(home: Path, platform: str = "linux", **options: object) -> Installer:
    options.setdefault("which", no_commands)
    return Installer(home, home / "fetchq" / "browser", COMMAND, platform, **options)  # type: ignore[arg-type]


def browser_homes(home: Path) -> None:
    """Every browser of LINUX "has run": its own folder exists (not the hosts folder)."""
    for folder in LINUX.values():
        relative = Path(folder)
        (home / (relative.parent.parent if "snap/" in folder else relative.parent)).mkdir(
            parents=True, exist_ok=True
        )
    for flatpak in Path(home / ".var/app").iterdir():
        flatpak.mkdir(exist_ok=True)


def test_every_browser_present_gets_its_manifest_and_only_its_extension(tmp_path: Path) -> None:
    browser_homes(tmp_path)
    outcome = make(tmp_path).install()
    assert sorted(outcome.browsers) == sorted(LINUX)
    program = tmp_path / "fetchq" / "browser" / "fetchq-browser-host"
    for browser, folder in LINUX.items():
        content = json.loads((tmp_path / folder / MANIFEST_NAME).read_text())
        assert content["name"] == "io.github.fetchq.fetchq"
        assert content["type"] == "stdio"
        assert content["path"] == str(program)
        if browser.startswith("Firefox"):
            assert content["allowed_extensions"] == [FIREFOX_EXTENSION_ID]
            assert "allowed_origins" not in content
        else:
            assert content["allowed_origins"] == [
                f"chrome-extension://{id_}/" for id_ in CHROMIUM_EXTENSION_IDS
            ]
    assert program.stat().st_mode & stat.S_IXUSR


def test_only_browsers_that_live_here_get_a_manifest(tmp_path: Path) -> None:
    (tmp_path / ".mozilla").mkdir()
    outcome = make(
        tmp_path, which=lambda name: "/usr/bin/x" if name == "chromium" else None
    ).install()
    assert outcome.browsers == ("Chromium", "Firefox")
    assert not (tmp_path / ".config" / "google-chrome").exists()
    assert not (tmp_path / ".var").exists()


def test_no_browser_is_said_and_nothing_is_written_for_browsers(tmp_path: Path) -> None:
    outcome = make(tmp_path).install()
    assert outcome.browsers == ()
    assert "No browser found" in outcome.text()
    assert not (tmp_path / ".config").exists()


def test_installing_twice_changes_nothing_and_says_so(tmp_path: Path) -> None:
    browser_homes(tmp_path)
    make(tmp_path).install()
    manifest = tmp_path / LINUX["Chromium"] / MANIFEST_NAME
    before = manifest.stat().st_mtime_ns
    again = make(tmp_path).install()
    assert all(line.endswith("(already there)") for line in again.lines)
    assert manifest.stat().st_mtime_ns == before


def test_uninstall_removes_every_manifest_and_the_program_and_is_idempotent(
    tmp_path: Path,
) -> None:
    browser_homes(tmp_path)
    other = tmp_path / LINUX["Chromium"] / "com.other.app.json"  # another program's manifest
    other.parent.mkdir(parents=True)
    other.write_text("{}")
    make(tmp_path).install()
    outcome = make(tmp_path).uninstall()
    assert len(outcome.lines) == len(LINUX)
    assert not list(tmp_path.rglob(MANIFEST_NAME))
    assert not (tmp_path / "fetchq" / "browser" / "fetchq-browser-host").exists()
    assert other.read_text() == "{}"
    assert make(tmp_path).uninstall().lines == (
        "The browser integration was not installed: nothing to remove.",
    )


def test_a_link_in_the_manifests_place_is_replaced_not_followed(tmp_path: Path) -> None:
    (tmp_path / ".mozilla" / "native-messaging-hosts").mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    (tmp_path / ".mozilla" / "native-messaging-hosts" / MANIFEST_NAME).symlink_to(victim)
    make(tmp_path).install()
    assert victim.read_text() == "someone else's file"
    written = tmp_path / ".mozilla" / "native-messaging-hosts" / MANIFEST_NAME
    assert not written.is_symlink()
    assert json.loads(written.read_text())["allowed_extensions"] == [FIREFOX_EXTENSION_ID]


def test_macos_locations(tmp_path: Path) -> None:
    support = tmp_path / "Library" / "Application Support"
    for folder in ("Google/Chrome", "Mozilla", "BraveSoftware/Brave-Browser"):
        (support / folder).mkdir(parents=True)
    outcome = make(tmp_path, "darwin").install()
    assert outcome.browsers == ("Google Chrome", "Brave", "Firefox")
    assert (support / "Google/Chrome/NativeMessagingHosts" / MANIFEST_NAME).is_file()
    assert (support / "Mozilla/NativeMessagingHosts" / MANIFEST_NAME).is_file()


class FakeRegistry:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def set_default(self, key: str, value: str) -> None:
        self.keys[key] = value

    def delete(self, key: str) -> bool:
        return self.keys.pop(key, None) is not None


def test_windows_registers_each_browser_and_unregisters(tmp_path: Path) -> None:
    registry = FakeRegistry()
    outcome = make(tmp_path, "win32", registry=registry).install()
    assert len(outcome.browsers) == 6
    chrome = registry.keys[r"Software\Google\Chrome\NativeMessagingHosts\io.github.fetchq.fetchq"]
    firefox = registry.keys[r"Software\Mozilla\NativeMessagingHosts\io.github.fetchq.fetchq"]
    assert json.loads(Path(chrome).read_text())["allowed_origins"]
    assert json.loads(Path(firefox).read_text())["allowed_extensions"] == [FIREFOX_EXTENSION_ID]
    assert json.loads(Path(chrome).read_text())["path"].endswith("fetchq-browser-host.bat")
    make(tmp_path, "win32", registry=registry).uninstall()
    assert registry.keys == {}
    assert not Path(chrome).exists()


def test_the_host_program_runs_the_command_with_the_browsers_arguments(tmp_path: Path) -> None:
    script = tmp_path / "host"
    script.write_text(host_script(["printf", "[%s]", "it's a profile", "$HOME"]))
    script.chmod(0o755)
    done = subprocess.run(
        [str(script), "chrome-extension://id/"], capture_output=True, text=True, check=True
    )
    assert done.stdout == "[it's a profile][$HOME][chrome-extension://id/]"
    assert '"/opt/fetchq/bin/python3" "-m"' in host_script(COMMAND, windows=True)


def test_a_folder_that_cannot_be_made_is_reported_by_the_button(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / ".mozilla").mkdir()
    (tmp_path / ".mozilla" / "native-messaging-hosts").write_text("a file, not a folder")
    window.browser_installer = lambda: make(tmp_path)
    dialog = window.open_settings()
    click(dialog.browser_install)
    assert dialog.browser_result.text().startswith("Could not change the browser integration")


def test_the_settings_button_installs_and_removes(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / ".config" / "vivaldi").mkdir(parents=True)
    window.browser_installer = lambda: make(tmp_path)
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    click(dialog.browser_install)
    manifest = tmp_path / LINUX["Vivaldi"] / MANIFEST_NAME
    assert manifest.is_file()
    assert dialog.browser_result.text() == f"Vivaldi: {manifest}"
    click(dialog.browser_remove)
    assert not manifest.exists()
    assert dialog.browser_result.text() == f"Vivaldi: removed {manifest}"
