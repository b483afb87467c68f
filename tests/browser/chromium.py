"""Chromium for the browser tests: a fresh profile under a fake home, the extension loaded
unpacked, every request off loopback refused, and its DevTools HTTP endpoint to open tabs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import websocket

REPO = Path(__file__).resolve().parents[2]
EXTENSION_ID = "aalnecombohehnlaclifcagdkcnljaed"
READY = (
    "chrome.downloads.onCreated.hasListeners() && chrome.runtime.getPlatformInfo().then(() => true)"
)


def chromium_binary() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def build_extension(out: Path) -> dict[str, Path]:
    """Build both extensions with packaging/browser/build.py, as a developer would."""
    subprocess.run(
        [sys.executable, str(REPO / "packaging/browser/build.py"), str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return {"chromium": out / "chromium", "firefox": out / "firefox"}


def install_integration(home: Path, profile: Path) -> str:
    """``fetchq --install-browser-integration`` for this home and profile; its output."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fetchq_gui",
            "--install-browser-integration",
            "--profile",
            str(profile),
        ],
        env={**os.environ, "HOME": str(home)},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout


@dataclass
class Chromium:
    process: subprocess.Popen[bytes]
    user_data: Path
    log: Path

    def devtools(self, deadline: float) -> int:
        port_file = self.user_data / "DevToolsActivePort"
        while time.monotonic() < deadline:
            if port_file.is_file():
                first = port_file.read_text().splitlines()[:1]
                if first and first[0].isdigit():
                    return int(first[0])
            self._check_alive()
            time.sleep(0.1)
        raise AssertionError(f"Chromium did not open DevTools; its log:\n{self.log_tail()}")

    def targets(self, port: int) -> list[dict[str, str]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            return json.load(answer)  # type: ignore[no-any-return]

    def wait_for_extension(self, port: int, deadline: float) -> None:
        """Until the extension's service worker has registered its listeners with the browser:
        its target shows first, then a call to the browser made after the script ran answers
        (the browser handles the worker's messages in order)."""
        wanted = f"chrome-extension://{EXTENSION_ID}/"
        while time.monotonic() < deadline:
            workers = [
                t
                for t in self.targets(port)
                if t.get("type") == "service_worker" and t.get("url", "").startswith(wanted)
            ]
            if workers and self.evaluate(workers[0]["webSocketDebuggerUrl"], READY) is True:
                return
            self._check_alive()
            time.sleep(0.1)
        raise AssertionError(f"the extension did not start; Chromium's log:\n{self.log_tail()}")

    @staticmethod
    def evaluate(socket_url: str, expression: str) -> object:
        """The value of ``expression`` (a promise is awaited) in a DevTools target."""
        connection = websocket.create_connection(socket_url, timeout=10)
        try:
            command = {
                "id": 1,
                "method": "Runtime.evaluate",
                "params": {"expression": expression, "awaitPromise": True, "returnByValue": True},
            }
            connection.send(json.dumps(command))
            while True:
                reply = json.loads(connection.recv())
                if reply.get("id") == 1:
                    return reply.get("result", {}).get("result", {}).get("value")
        finally:
            connection.close()

    def open_tab(self, port: int, url: str) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?{url}", method="PUT")
        with urllib.request.urlopen(request, timeout=5) as answer:
            answer.read()

    def _check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"Chromium exited ({self.process.returncode}):\n{self.log_tail()}")

    def log_tail(self) -> str:
        """The end of Chromium's log (with the host's standard error), without D-Bus noise."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(line for line in lines if "dbus" not in line)[-4000:]

    def stop(self) -> None:
        end_process(self.process)


def start_chromium(
    binary: str, home: Path, extension: Path, downloads: Path, env: Mapping[str, str]
) -> Chromium:
    """Chromium with its profile where a user's is (``~/.config/chromium``, where the host
    manifest was installed), downloads going to ``downloads`` without asking."""
    user_data = home / ".config" / "chromium"
    default = user_data / "Default"
    default.mkdir(parents=True, exist_ok=True)
    preferences = {
        "download": {"default_directory": str(downloads), "prompt_for_download": False},
        "profile": {"default_content_setting_values": {"automatic_downloads": 1}},
    }
    (default / "Preferences").write_text(json.dumps(preferences))
    log = home / "chromium.log"
    args = [
        binary,
        f"--user-data-dir={user_data}",
        f"--load-extension={extension}",
        "--disable-features=DisableLoadExtensionCommandLineSwitch,MediaRouter,OptimizationHints",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--password-store=basic",
        "--remote-debugging-port=0",
        "--remote-allow-origins=http://127.0.0.1",
        # nothing but loopback: no proxy-less way out, and no name resolves
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-domain-reliability",
        "--no-pings",
        "--window-size=1200,760",
        "--enable-logging=stderr",
        "about:blank",
    ]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env={**env, "HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT
        )
    return Chromium(process, user_data, log)


def end_process(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """Ask a browser to quit, and make it if it does not within ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line holds ``text`` (the app the host started, by its profile)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if text.encode() in command:
                found.append(int(entry.name))
    return found


def stop_processes(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
