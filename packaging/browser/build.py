"""Build the fetchq extension for Chromium's family and for Firefox from the one source in src/.

    python packaging/browser/build.py [OUT]     (default: packaging/browser/build)

gives OUT/chromium and OUT/firefox (load them unpacked) and OUT/fetchq-chromium.zip and
OUT/fetchq-firefox.zip (the store uploads). The builds differ only in their manifests:
Chromium runs the background as a service worker and gets the public key that fixes the
extension's id (the id the host manifests allow); Firefox runs background scripts and gets
its add-on id. The store zip for Chromium has no key: the store assigns its own id.
"""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src"
CHROMIUM_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvyq9LpZx+8KigE2W8xImKIeTfom6YlAnrxfBngso2cKebOyi"
    "2HA+zakpaMbBooeN5j3EIGC79QfUoq/OGGHWg2s54VuIETwGOcdy4gEb6qKcrKhhfD5vT+IlukheHmZvzd7QJtLK463D"
    "78+p4C+ntpWw8SGidcLj/EgItQKGnv7igajssyXGlN5TUQ6Cth9UcKdQUjm8NL2tlnCfWJzyxj49NviykMHZzSssX+g7"
    "IocKp/jUdZNn0QyCfCSeLBtiYMwZO7pyhJroim1Ukif6ORHpl16YIprr259er9dog7PGUyjZQnDq8bs3Qvx5SPNP2xi+"
    "/cuV4Rd95o8Dee7hsQIDAQAB"
)
"""The public half of a key pair made for fetchq; its id is aalnecombohehnlaclifcagdkcnljaed
(the private half is not kept: an unpacked extension needs only this)."""
FIREFOX_ID = "fetchq@fetchq.github.io"


def manifests(common: dict[str, object]) -> dict[str, dict[str, object]]:
    """The manifest of each build, from the common one."""
    chromium = {
        **common,
        "background": {"service_worker": "background.js"},
        "minimum_chrome_version": "116",
        "key": CHROMIUM_KEY,
    }
    firefox = {
        **common,
        "background": {"scripts": ["settings.js", "background.js"]},
        "browser_specific_settings": {
            "gecko": {
                "id": FIREFOX_ID,
                "strict_min_version": "140.0",
                "data_collection_permissions": {"required": ["none"]},
            },
            "gecko_android": {"strict_min_version": "142.0"},
        },
    }
    return {"chromium": chromium, "firefox": firefox}


def build(out: Path) -> dict[str, Path]:
    """Write both builds under ``out``; returns each build's folder."""
    common = json.loads((SOURCE / "manifest.json").read_text(encoding="utf-8"))
    folders = {}
    for name, manifest in manifests(common).items():
        folder = out / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(SOURCE, folder)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        store = dict(manifest)
        store.pop("key", None)
        with zipfile.ZipFile(out / f"fetchq-{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.name != "manifest.json":
                    archive.write(path, path.relative_to(folder).as_posix())
            archive.writestr("manifest.json", json.dumps(store, indent=2) + "\n")
        folders[name] = folder
    return folders


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "build"
    target.mkdir(parents=True, exist_ok=True)
    for name, folder in build(target).items():
        print(f"{name}: {folder}")
