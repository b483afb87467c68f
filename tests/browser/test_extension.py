"""The extension's two builds: one source, ids that match what the host manifests allow, and
both manifests checked by the browsers' own tools (web-ext lint for Firefox, TypeScript's
types of Chromium's manifest)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fetchq_gui.browser_install import CHROMIUM_EXTENSION_IDS, FIREFOX_EXTENSION_ID
from tests.browser.chromium import REPO, build_extension

TOOLS = REPO / "packaging" / "browser" / "node_modules" / ".bin"
needs_tools = pytest.mark.skipif(
    not (TOOLS / "web-ext").exists() and not os.environ.get("FETCHQ_REQUIRE_BROWSER"),
    reason="needs the checking tools: npm ci --prefix packaging/browser",
)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_extension(tmp_path_factory.mktemp("extension"))


def manifest(folder: Path) -> dict[str, object]:
    return json.loads((folder / "manifest.json").read_text())  # type: ignore[no-any-return]


def test_the_builds_differ_only_in_what_each_browser_needs(builds: dict[str, Path]) -> None:
    chromium, firefox = manifest(builds["chromium"]), manifest(builds["firefox"])
    assert chromium.pop("background") == {"service_worker": "background.js"}
    assert firefox.pop("background") == {"scripts": ["settings.js", "background.js"]}
    assert set(chromium) - set(firefox) == {"key", "minimum_chrome_version"}
    assert set(firefox) - set(chromium) == {"browser_specific_settings"}
    assert {k: v for k, v in chromium.items() if k in firefox} == {
        k: v for k, v in firefox.items() if k in chromium
    }
    for path in builds["chromium"].rglob("*"):
        if path.is_file() and path.name != "manifest.json":
            twin = builds["firefox"] / path.relative_to(builds["chromium"])
            assert twin.read_bytes() == path.read_bytes()


def test_the_ids_are_the_ones_the_host_manifests_allow(builds: dict[str, Path]) -> None:
    key = base64.b64decode(str(manifest(builds["chromium"])["key"]))
    digest = hashlib.sha256(key).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == CHROMIUM_EXTENSION_IDS[0]
    gecko = manifest(builds["firefox"])["browser_specific_settings"]
    assert gecko["gecko"]["id"] == FIREFOX_EXTENSION_ID  # type: ignore[index]


def test_the_store_zip_for_chromium_has_no_key(builds: dict[str, Path]) -> None:
    import zipfile

    with zipfile.ZipFile(builds["chromium"].parent / "fetchq-chromium.zip") as archive:
        stored = json.loads(archive.read("manifest.json"))
        names = set(archive.namelist())
    assert "key" not in stored
    assert {"background.js", "popup.html", "icons/fetchq-128.png"} <= names


@needs_tools
def test_web_ext_lint_finds_nothing_in_the_firefox_build(builds: dict[str, Path]) -> None:
    done = subprocess.run(
        [str(TOOLS / "web-ext"), "lint", "--source-dir", str(builds["firefox"]), "--output=json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WEB_EXT_NO_INPUT": "1"},
    )
    report = json.loads(done.stdout)
    assert report["errors"] == [], report["errors"]
    assert report["warnings"] == [], report["warnings"]
    assert report["summary"]["errors"] == 0


def typecheck_manifests(
    manifests: dict[str, dict[str, object]], folder: Path
) -> subprocess.CompletedProcess[str]:
    """tsc over each manifest as a ``chrome.runtime.ManifestV3`` literal, in one run."""
    sources = []
    for name, content in manifests.items():
        source = folder / f"{name}.ts"
        source.write_text(
            "const manifest: chrome.runtime.ManifestV3 = "
            + json.dumps(content, indent=2)
            + ";\nexport { manifest };\n"
        )
        sources.append(str(source))
    types = REPO / "packaging" / "browser" / "node_modules" / "@types"
    return subprocess.run(
        [str(TOOLS / "tsc"), "--noEmit", "--strict", "--types", "chrome", "--typeRoots", str(types),
         *sources],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )  # fmt: skip


@needs_tools
def test_the_chromium_manifest_has_the_types_chrome_documents(
    builds: dict[str, Path], tmp_path: Path
) -> None:
    good = manifest(builds["chromium"])
    bad = {**good, "permissions": ["downlods"], "manifest_version": 2}  # the check can fail
    done = typecheck_manifests({"chromium": good, "typo": bad}, tmp_path)
    errors = [line for line in done.stdout.splitlines() if "error TS" in line]
    assert errors, done.stdout + done.stderr
    assert all(line.startswith("typo.ts") for line in errors), errors  # none in the real one
    assert "'\"downlods\"' is not assignable" in done.stdout


@pytest.mark.skipif(
    shutil.which("node") is None and not os.environ.get("FETCHQ_REQUIRE_BROWSER"),
    reason="needs Node.js",
)
def test_the_background_logic_passes_its_own_tests() -> None:
    """packaging/browser/test: capture, hand-over, fallback and the popup's words, against a
    fake browser API (Node's own test runner)."""
    done = subprocess.run(
        ["node", "--test", "--test-reporter=tap", str(REPO / "packaging" / "browser" / "test")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout
    assert "# pass 16" in done.stdout
