"""What fetchq is and what it runs on: for Help → About, ``fetchq --version`` and bug reports."""

from __future__ import annotations

import platform

import pycurl
import PySide6
from PySide6.QtCore import qVersion

from fetchq import __version__

LICENCE = "MIT"
HOMEPAGE = "https://github.com/fetchq/fetchq"


def libraries() -> dict[str, str]:
    """The versions of what fetchq runs on, by name."""
    curl = pycurl.version_info()
    return {
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "libcurl": str(curl[1]),
        "TLS": str(curl[5] or "none"),
    }


def version_text() -> str:
    """``fetchq 0.x (Python 3.11.7, Qt 6.11.3, ...)``: one line."""
    runs_on = ", ".join(f"{name} {version}" for name, version in libraries().items())
    return f"fetchq {__version__} ({runs_on})"


def about_text() -> str:
    """The About box's text."""
    lines = [
        f"fetchq {__version__}",
        "",
        "A download manager: drop links on the window; downloads resume after a restart and "
        "use several connections for large files.",
        "",
        f"Licence: {LICENCE}.",
        "Runs on " + ", ".join(f"{name} {version}" for name, version in libraries().items()) + ".",
    ]
    return "\n".join(lines)
