"""Installing the browser integration: the native messaging host manifests, for every browser
that lives on this machine, in its native, Flatpak and Snap folders.

A browser finds a native messaging host by a JSON manifest in a folder of its own; the
manifest names the host program and the only extensions allowed to start it (the extension's
id for Chromium's family, the add-on's id for Firefox). The host program is a small script
written next to the list, that starts ``fetchq --browser-host`` with this Python or this frozen
app. Pure path tables plus file I/O at the edges; Windows registers manifests in the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

from .browser_host import HOST_NAME, app_command

CHROMIUM_EXTENSION_IDS = ("aalnecombohehnlaclifcagdkcnljaed",)
"""The extension's id in Chromium's family: fixed by the public key in its manifest, so the id
is the same unpacked and packed. A store id is added here when the store assigns one."""
FIREFOX_EXTENSION_ID = "fetchq@fetchq.github.io"
"""The add-on's id (``browser_specific_settings.gecko.id`` in its manifest)."""
MANIFEST_NAME = f"{HOST_NAME}.json"
DESCRIPTION = "fetchq download manager: takes downloads from the fetchq browser extension"


@dataclass(frozen=True)
class Location:
    """Where one browser (one packaging of it) looks for host manifests."""

    browser: str
    family: str  # "chromium" or "firefox"
    home: Path  # exists when the browser is installed or has run
    folder: Path  # the manifest goes here
    commands: tuple[str, ...] = ()  # on PATH when the browser is installed natively


# (name, config folder under ~/.config, commands, Flatpak id, Snap name)
_CHROMIUM_FAMILY = (
    ("Chromium", "chromium", ("chromium", "chromium-browser"), "org.chromium.Chromium", "chromium"),
    ("Google Chrome", "google-chrome", ("google-chrome",), "com.google.Chrome", None),
    ("Brave", "BraveSoftware/Brave-Browser", ("brave-browser",), "com.brave.Browser", None),
    ("Microsoft Edge", "microsoft-edge", ("microsoft-edge",), "com.microsoft.Edge", None),
    ("Vivaldi", "vivaldi", ("vivaldi",), "com.vivaldi.Vivaldi", None),
)
_MACOS_CHROMIUM = (
    ("Chromium", "Chromium"),
    ("Google Chrome", "Google/Chrome"),
    ("Brave", "BraveSoftware/Brave-Browser"),
    ("Microsoft Edge", "Microsoft Edge"),
    ("Vivaldi", "Vivaldi"),
)
_WINDOWS_KEYS = (
    ("Chromium", "chromium", r"Software\Chromium\NativeMessagingHosts"),
    ("Google Chrome", "chromium", r"Software\Google\Chrome\NativeMessagingHosts"),
    ("Brave", "chromium", r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts"),
    ("Microsoft Edge", "chromium", r"Software\Microsoft\Edge\NativeMessagingHosts"),
    ("Vivaldi", "chromium", r"Software\Vivaldi\NativeMessagingHosts"),
    ("Firefox", "firefox", r"Software\Mozilla\NativeMessagingHosts"),
)


def linux_locations(home: Path) -> list[Location]:
    """Every place a browser on Linux looks, native, Flatpak (``~/.var/app``) and Snap."""
    found: list[Location] = []
    for name, config, commands, flatpak, snap in _CHROMIUM_FAMILY:
        native = home / ".config" / config
        found.append(Location(name, "chromium", native, native / "NativeMessagingHosts", commands))
        app = home / ".var" / "app" / flatpak
        found.append(
            Location(
                f"{name} (Flatpak)",
                "chromium",
                app,
                app / "config" / config / "NativeMessagingHosts",
            )
        )
        if snap is not None:
            base = home / "snap" / snap
            found.append(
                Location(
                    f"{name} (Snap)",
                    "chromium",
                    base,
                    base / "common" / config / "NativeMessagingHosts",
                )
            )
    firefox_hosts = Path(".mozilla") / "native-messaging-hosts"
    found += [
        Location(
            "Firefox",
            "firefox",
            home / ".mozilla",
            home / firefox_hosts,
            ("firefox", "firefox-esr"),
        ),
        Location(
            "Firefox (Flatpak)",
            "firefox",
            home / ".var" / "app" / "org.mozilla.firefox",
            home / ".var" / "app" / "org.mozilla.firefox" / firefox_hosts,
        ),
        Location(
            "Firefox (Snap)",
            "firefox",
            home / "snap" / "firefox",
            home / "snap" / "firefox" / "common" / firefox_hosts,
        ),
    ]
    return found


def macos_locations(home: Path) -> list[Location]:
    """Every place a browser on macOS looks (under ``~/Library/Application Support``)."""
    support = home / "Library" / "Application Support"
    found = [
        Location(name, "chromium", support / folder, support / folder / "NativeMessagingHosts")
        for name, folder in _MACOS_CHROMIUM
    ]
    mozilla = support / "Mozilla"
    found.append(Location("Firefox", "firefox", mozilla, mozilla / "NativeMessagingHosts"))
    return found


def manifest(family: str, host_program: Path) -> dict[str, object]:
    """The host manifest for a browser family: the program, and the one extension allowed."""
    content: dict[str, object] = {
        "name": HOST_NAME,
        "description": DESCRIPTION,
        "path": str(host_program),
        "type": "stdio",
    }
    if family == "firefox":
        content["allowed_extensions"] = [FIREFOX_EXTENSION_ID]
    else:
        content["allowed_origins"] = [
            f"chrome-extension://{id_}/" for id_ in CHROMIUM_EXTENSION_IDS
        ]
    return content


def host_script(command: Sequence[str], windows: bool = False) -> str:
    """The program a manifest names: it runs ``command`` (``fetchq --browser-host ...``) with
    the browser's own arguments. In a Flatpak browser it asks the host system to run it."""
    if windows:
        return "@echo off\r\n" + " ".join(f'"{part}"' for part in command) + " %*\r\n"
    quoted = " ".join(_sh_quote(part) for part in command)
    return (
        "#!/bin/sh\n"
        "# fetchq's browser host: written by fetchq --install-browser-integration\n"
        "if [ -e /.flatpak-info ]; then exec flatpak-spawn --host " + quoted + ' "$@"; fi\n'
        "exec " + quoted + ' "$@"\n'
    )


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def host_command(profile: Optional[Path]) -> list[str]:
    """``fetchq --browser-host`` as this installation runs it (the profile made absolute:
    the browser starts it from anywhere)."""
    return app_command(profile.resolve() if profile is not None else None, "--browser-host")


class Registry(Protocol):
    """The part of the Windows registry the installer writes (HKEY_CURRENT_USER)."""

    def set_default(self, key: str, value: str) -> None: ...  # pragma: no cover
    def delete(self, key: str) -> bool: ...  # pragma: no cover


@dataclass(frozen=True)
class Outcome:
    """What an install or uninstall did: one line per browser, for the terminal or a dialog."""

    lines: tuple[str, ...]
    browsers: tuple[str, ...]

    def text(self) -> str:
        return "\n".join(self.lines)


class Installer:
    """Writes and removes the manifests. ``which`` and ``registry`` are the edges a test
    replaces; ``home`` the folder browsers' folders are under."""

    def __init__(
        self,
        home: Path,
        host_folder: Path,
        command: Sequence[str],
        platform: str = sys.platform,
        which: Callable[[str], Optional[str]] = shutil.which,
        registry: Optional[Registry] = None,
    ) -> None:
        self.home = home
        self.host_folder = host_folder
        self.command = list(command)
        self.platform = platform
        self.which = which
        self.registry = registry

    @property
    def windows(self) -> bool:
        return self.platform.startswith("win")

    @property
    def host_program(self) -> Path:
        name = "fetchq-browser-host.bat" if self.windows else "fetchq-browser-host"
        return self.host_folder / name

    def locations(self) -> list[Location]:
        if self.platform == "darwin":
            return macos_locations(self.home)
        return linux_locations(self.home)

    def present(self) -> list[Location]:
        """The locations of browsers that live here: their folder exists, or their command."""
        return [
            location
            for location in self.locations()
            if location.home.is_dir() or any(self.which(c) for c in location.commands)
        ]

    def install(self) -> Outcome:
        self.host_folder.mkdir(parents=True, exist_ok=True)
        _write(self.host_program, host_script(self.command, self.windows))
        if not self.windows:
            self.host_program.chmod(self.host_program.stat().st_mode | stat.S_IXUSR | stat.S_IRUSR)
        if self.windows:
            return self._install_windows()
        lines, browsers = [], []
        for location in self.present():
            path = location.folder / MANIFEST_NAME
            changed = _write(path, _json(manifest(location.family, self.host_program)))
            browsers.append(location.browser)
            lines.append(f"{location.browser}: {path}{'' if changed else ' (already there)'}")
        if not browsers:
            lines.append(
                "No browser found (looked for Chromium, Chrome, Brave, Edge, Vivaldi and "
                "Firefox, native, Flatpak and Snap). Run this again after installing one."
            )
        return Outcome(tuple(lines), tuple(browsers))

    def uninstall(self) -> Outcome:
        lines = []
        if self.windows:
            lines += self._uninstall_windows()
        for location in self.locations():
            path = location.folder / MANIFEST_NAME
            if path.is_file() or path.is_symlink():
                path.unlink()
                lines.append(f"{location.browser}: removed {path}")
        for program in (self.host_program,):
            if program.exists():
                program.unlink()
        if not lines:
            lines.append("The browser integration was not installed: nothing to remove.")
        return Outcome(tuple(lines), ())

    def _install_windows(self) -> Outcome:
        registry = self.registry or WindowsRegistry()
        lines, browsers = [], []
        for family in ("chromium", "firefox"):
            _write(
                self.host_folder / f"{family}-{MANIFEST_NAME}",
                _json(manifest(family, self.host_program)),
            )
        for name, family, key in _WINDOWS_KEYS:
            target = self.host_folder / f"{family}-{MANIFEST_NAME}"
            registry.set_default(f"{key}\\{HOST_NAME}", str(target))
            browsers.append(name)
            lines.append(f"{name}: HKEY_CURRENT_USER\\{key}\\{HOST_NAME}")
        return Outcome(tuple(lines), tuple(browsers))

    def _uninstall_windows(self) -> list[str]:
        registry = self.registry or WindowsRegistry()
        lines = []
        for name, _family, key in _WINDOWS_KEYS:
            if registry.delete(f"{key}\\{HOST_NAME}"):
                lines.append(f"{name}: removed HKEY_CURRENT_USER\\{key}\\{HOST_NAME}")
        for family in ("chromium", "firefox"):
            (self.host_folder / f"{family}-{MANIFEST_NAME}").unlink(missing_ok=True)
        return lines


class WindowsRegistry:  # pragma: no cover - Windows only
    """HKEY_CURRENT_USER through :mod:`winreg`."""

    def set_default(self, key: str, value: str) -> None:
        import winreg  # noqa: PLC0415 - Windows only

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:  # type: ignore[attr-defined,unused-ignore]
            winreg.SetValue(handle, "", winreg.REG_SZ, value)  # type: ignore[attr-defined,unused-ignore]

    def delete(self, key: str) -> bool:
        import winreg  # noqa: PLC0415 - Windows only

        try:
            winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True


def _json(content: dict[str, object]) -> str:
    return json.dumps(content, indent=2) + "\n"


def _write(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it holds it already; True when written. A link in its
    place is replaced, not followed (another program's file stays untouched)."""
    try:
        if not path.is_symlink() and path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return True


def installer(profile: Optional[Path] = None) -> Installer:
    """The installer for this user and this installation of fetchq."""
    from .app_paths import data_folder  # noqa: PLC0415 - QtCore, only when installing

    return Installer(Path.home(), data_folder(profile) / "browser", host_command(profile))
