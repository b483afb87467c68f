"""Which certificate authorities fetchq trusts for https and ftps: a pure decision.

libcurl's wheel from PyPI carries its own OpenSSL, built to look for certificates where the
build machine keeps them (``/etc/pki/tls/certs/ca-bundle.crt``), which Debian and Ubuntu do not
have; left alone, every https download fails there. So fetchq always says where they are: the
operating system's store (the bundle file of the Linux distribution, or the native store on
Windows and macOS), plus a bundle named by ``SSL_CERT_FILE`` and one named by
``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (a company's own CA, as requests and OpenSSL users
expect: added to the system's, not instead of it), plus one the program passes, and certifi's
bundle when the system has none.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Arch, Gentoo
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora, RHEL (newer)
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",  # Alpine, macOS, BSD
)
SYSTEM_DIRECTORIES = ("/etc/ssl/certs",)
"""Hashed certificate folders (``c_rehash``), searched in addition to the bundle."""
REQUESTS_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
"""requests reads the first one set; so does fetchq."""
DIRECTORY_VARIABLES = ("SSL_CERT_DIR",)


@dataclass(frozen=True)
class Trust:
    """What libcurl is told: the bundles (one is ``CAINFO``; several are joined into one
    ``CAINFO_BLOB``), ``CAPATH``, and whether to add the native store."""

    bundles: tuple[str, ...]
    directory: Optional[str]
    native: bool


def trust_settings(
    environ: Mapping[str, str],
    is_file: Callable[[str], bool],
    is_dir: Callable[[str], bool],
    platform: str,
    fallback_bundle: Callable[[], Optional[str]],
    extra: Optional[str] = None,
) -> Trust:
    """Decide from the environment and what exists on disk (passed in, so tests need no disk).

    ``extra``: a bundle the caller trusts as well (``DownloadQueueService(ca_bundle=...)``).
    """
    native = platform in ("win32", "darwin")
    directory = _first(environ.get(name, "") for name in DIRECTORY_VARIABLES)
    if directory is None and not native:
        directory = _first(path for path in SYSTEM_DIRECTORIES if is_dir(path))
    system = None if native else _first(path for path in SYSTEM_BUNDLES if is_file(path))
    if system is None and directory is None and not native:
        system = fallback_bundle()
    openssl_bundle = environ.get("SSL_CERT_FILE", "")
    requests_bundle = _first(environ.get(name, "") for name in REQUESTS_VARIABLES)
    candidates = (system, openssl_bundle, requests_bundle, extra)
    bundles = tuple(dict.fromkeys(path for path in candidates if path))  # in order, once each
    return Trust(bundles, directory, native)


def _first(candidates: Iterable[str]) -> Optional[str]:
    return next((candidate for candidate in candidates if candidate), None)


def _certifi_bundle() -> Optional[str]:
    try:
        import certifi  # noqa: PLC0415 - requests' dependency; needed only without a system store
    except ImportError:
        return None
    return str(certifi.where())


def system_trust(extra: Optional[str] = None) -> Trust:
    """The decision for this machine and this process's environment."""
    return trust_settings(
        os.environ, os.path.isfile, os.path.isdir, sys.platform, _certifi_bundle, extra
    )


_joined_lock = threading.Lock()
_joined: dict[tuple[str, ...], str] = {}


def joined_bundle_file(paths: tuple[str, ...]) -> str:
    """One PEM file holding several bundles, made once per process in a folder of its own.

    libcurl keeps a parsed certificate store per file it was given, but parses a blob again for
    every connection's handle: a file saved about 0.4 MB a connection (16 connections: 39.6
    against 46.6 MB). The folder is new and private (``mkdtemp``), so nothing planted there is
    read, and it goes when the process ends.
    """
    with _joined_lock:
        path = _joined.get(paths)
        if path is None:
            folder = tempfile.mkdtemp(prefix="fetchq-ca-")
            atexit.register(shutil.rmtree, folder, True)
            path = os.path.join(folder, "bundle.pem")
            with open(path, "wb") as bundle:
                bundle.write(joined_bundles(paths))
            _joined[paths] = path
        return path


def joined_bundles(paths: Iterable[str]) -> bytes:
    """The certificates of several PEM bundles as one (unreadable ones are skipped)."""
    parts: list[bytes] = []
    for path in paths:
        try:
            with open(path, "rb") as bundle:
                parts.append(bundle.read().strip() + b"\n")
        except OSError:
            continue
    return b"".join(parts)
