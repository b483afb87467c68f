"""The desktop entry and AppStream metadata are valid and agree with the app."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
APP_ID = "io.github.fetchq.fetchq"


def desktop_entry() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(PACKAGING / f"{APP_ID}.desktop", encoding="utf-8")
    return parser


def test_desktop_entry_launches_the_gui_script() -> None:
    entry = desktop_entry()["Desktop Entry"]
    assert entry["Exec"] == "fetchq %U"
    assert entry["Icon"] == APP_ID
    assert "Network" in entry["Categories"].split(";")
    action = desktop_entry()["Desktop Action add-downloads"]
    assert action["Exec"] == "fetchq --add"
    assert (ROOT / "resources" / "icons" / "fetchq.svg").is_file()


def test_metainfo_names_the_desktop_file_and_the_screenshot() -> None:
    root = ElementTree.parse(PACKAGING / f"{APP_ID}.metainfo.xml").getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"  # type: ignore[union-attr]
    images = [node.text or "" for node in root.iter("image")]
    assert images
    assert all(image.endswith("docs/screenshot.png") for image in images)
    assert (ROOT / "docs" / "screenshot.png").is_file()


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("desktop-file-validate", [f"{APP_ID}.desktop"]),
        ("appstreamcli", ["validate", "--no-net", "--pedantic", f"{APP_ID}.metainfo.xml"]),
    ],
)
def test_validators_accept_the_files(tool: str, arguments: list[str]) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("FETCHQ_REQUIRE_XVFB"):  # CI installs every tool the suite uses
            pytest.fail(f"{tool} is not installed")
        pytest.skip(f"{tool} is not installed")
    result = subprocess.run(
        [tool, *arguments], cwd=PACKAGING, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_engine_never_imports_qt() -> None:
    result = _run(
        "import sys; import fetchq, fetchq.testing; "
        "assert not [m for m in sys.modules if m.startswith(('PySide6', 'qasync'))]; print('ok')"
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_without_qt_the_fetchq_command_says_how_to_get_the_app_in_one_line() -> None:
    result = _run(
        "import sys; sys.modules['PySide6'] = None\n"
        "from fetchq_gui.launcher import main\n"
        "sys.exit(main([]))"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("fetchq: the app needs PySide6, which is not installed here")
    assert "pipx install --force fetchq" in line


def test_the_version_names_what_fetchq_runs_on() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fetchq_gui", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert re.fullmatch(
        r"fetchq \S+ \(Python \S+, Qt \S+, PySide6 \S+, libcurl \S+, TLS \S+\)", line
    ), line


def test_the_installed_commands_point_at_the_launcher() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # tomllib is 3.11+
    scripts = text.split("[project.gui-scripts]", 1)[1].split("[", 1)[0]
    assert 'fetchq = "fetchq_gui.launcher:main"' in scripts
    required = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert '"PySide6-Essentials' in required  # `pipx install fetchq` gives the app
    assert '"qasync' in required


def test_install_linux_sh_installs_the_entry_and_the_browser_integration(tmp_path: Path) -> None:
    home, prefix = tmp_path / "home", tmp_path / "prefix"
    (home / ".mozilla").mkdir(parents=True)  # Firefox has run for this user
    scripts = Path(sys.executable).parent  # where pip put `fetchq`
    done = subprocess.run(
        ["sh", str(PACKAGING / "install-linux.sh"), str(prefix)],
        env={**os.environ, "HOME": str(home), "PATH": f"{scripts}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert (prefix / "share" / "applications" / f"{APP_ID}.desktop").is_file()
    manifest = home / ".mozilla" / "native-messaging-hosts" / f"{APP_ID}.json"
    assert f"Firefox: {manifest}" in done.stdout
    assert '"allowed_extensions"' in manifest.read_text()
