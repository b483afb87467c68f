"""The ``fetchq`` command: start the app, or say in one line how to get it when the Qt half is
missing (an engine-only install), never with a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Optional

MISSING = (
    "fetchq: the app needs {module}, which is not installed here; "
    "install the app with: pipx install --force fetchq (or: pip install PySide6-Essentials qasync)"
)


def missing_module() -> Optional[str]:
    """The first module the app needs that cannot be imported, or None."""
    for module in ("PySide6.QtWidgets", "qasync"):
        try:
            __import__(module)
        except ImportError as exc:
            return (exc.name or module).split(".")[0]
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    missing = missing_module()
    if missing is not None:
        print(MISSING.format(module=missing), file=sys.stderr)
        return 2
    args = list(sys.argv[1:] if argv is None else argv)
    if "--browser-host" in args:  # started by a browser: no window, no QtWidgets to load
        from .browser_host import main as host_main  # noqa: PLC0415

        return host_main(args)
    from .app import main as app_main  # noqa: PLC0415 - only once Qt is known to be there

    return app_main(argv)
