"""Firefox ESR for the browser tests, driven over WebDriver BiDi: a fresh profile, the
extension installed as a temporary add-on (no signature needed), loopback only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import websocket

from tests.browser.chromium import end_process

LISTENING = re.compile(r"WebDriver BiDi listening on (ws://127\.0\.0\.1:\d+)")
PREFERENCES = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.enabled": False,
    "extensions.update.enabled": False,
    "browser.download.folderList": 2,
    "browser.download.useDownloadDir": True,
    "browser.download.always_ask_before_handling_new_types": False,
    # nothing but loopback: every other request goes to a proxy that is not there
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.no_proxies_on": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
}


def firefox_binary() -> Optional[str]:
    return shutil.which("firefox-esr") or shutil.which("firefox")


class Firefox:
    """One Firefox process and a BiDi session on it."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self._socket: Optional[websocket.WebSocket] = None
        self._next = 0
        self._context = ""

    def connect(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            found = re.search(
                r"WebDriver BiDi listening on (ws://127\.0\.0\.1:\d+)", self.log_text()
            )
            if found:
                url = found.group(1) + "/session"
                self._socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
                self.call("session.new", capabilities={})
                tree: Any = self.call("browsingContext.getTree")
                self._context = tree["contexts"][0]["context"]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"Firefox did not open WebDriver BiDi:\n{self.log_tail()}")

    def call(self, method: str, **params: object) -> dict[str, object]:
        assert self._socket is not None
        self._next += 1
        self._socket.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next:
                if message.get("type") != "success":
                    raise AssertionError(f"{method}: {message}")
                return message["result"]  # type: ignore[no-any-return]

    def install(self, extension: Path) -> None:
        """The extension as a temporary add-on, as about:debugging loads it."""
        self.call("webExtension.install", extensionData={"type": "path", "path": str(extension)})

    def open(self, url: str) -> None:
        self.call("browsingContext.navigate", context=self._context, url=url, wait="complete")

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self) -> str:
        return self.log_text()[-4000:]

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
        end_process(self.process)


def start_firefox(binary: str, home: Path, downloads: Path, env: Mapping[str, str]) -> Firefox:
    profile = home / "firefox-profile"
    profile.mkdir(parents=True, exist_ok=True)
    preferences = {**PREFERENCES, "browser.download.dir": str(downloads)}
    (profile / "user.js").write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in preferences.items())
    )
    log = home / "firefox.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "--profile", str(profile), "--no-remote", "--remote-debugging-port", "0",
             "about:blank"],
            env={**env, "HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Firefox(process, log)
