"""Remembered logins: the user name in fetchq's settings (not a secret), the password in the
system's keychain through ``keyring`` (Secret Service, macOS Keychain, Windows Credential
Locker); never in fetchq's own files. Keychain calls may block (an unlock prompt): the window
makes them off the GUI thread."""

from __future__ import annotations

import contextlib
from typing import Optional
from urllib.parse import urlsplit

import keyring
import keyring.backend
import keyring.errors

from .settings import Settings

SERVICE = "fetchq"


def origin_key(url: str) -> str:
    """``https://host:port``: what a login is remembered for (the default port left out)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{port}"


class LoginStore:
    """Logins remembered per site."""

    def __init__(
        self, settings: Settings, backend: Optional[keyring.backend.KeyringBackend] = None
    ) -> None:
        self.settings = settings
        self._backend = backend

    @property
    def backend(self) -> keyring.backend.KeyringBackend:
        """The keychain, found on first use, not at start: looking may ask the session bus."""
        if self._backend is None:
            self._backend = keyring.get_keyring()
        return self._backend

    @property
    def available(self) -> bool:
        """Whether this system has a keychain to remember passwords in."""
        return float(getattr(self.backend, "priority", 0)) > 0

    def remembered(self, origin: str) -> Optional[tuple[str, str]]:
        username = self.settings.login_user(origin)
        if not username or not self.available:
            return None
        try:
            password = self.backend.get_password(f"{SERVICE} {origin}", username)
        except keyring.errors.KeyringError:
            return None
        return None if password is None else (username, password)

    def remember(self, origin: str, username: str, password: str) -> bool:
        """Keep the login for ``origin``; False when the keychain refused."""
        try:
            self.backend.set_password(f"{SERVICE} {origin}", username, password)
        except keyring.errors.KeyringError:
            return False
        self.settings.set_login_user(origin, username)
        return True

    def forget(self, origin: str) -> None:
        username = self.settings.login_user(origin)
        if username:
            with contextlib.suppress(keyring.errors.KeyringError):
                self.backend.delete_password(f"{SERVICE} {origin}", username)
        self.settings.set_login_user(origin, None)
