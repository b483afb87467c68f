"""The desktop entry and AppStream metadata are valid and agree with the app."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
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
