#!/usr/bin/env sh
# Install the desktop entry, icon and AppStream metadata, for `fetchq` installed with pip,
# and the browser integration (native messaging host manifests) for this user.
# Usage: packaging/install-linux.sh [PREFIX]   (default: ~/.local)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${1:-"$HOME/.local"}
install -Dm644 "$here/io.github.fetchq.fetchq.desktop" "$prefix/share/applications/io.github.fetchq.fetchq.desktop"
install -Dm644 "$here/io.github.fetchq.fetchq.metainfo.xml" "$prefix/share/metainfo/io.github.fetchq.fetchq.metainfo.xml"
install -Dm644 "$here/../resources/icons/fetchq.svg" "$prefix/share/icons/hicolor/scalable/apps/io.github.fetchq.fetchq.svg"
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database "$prefix/share/applications" || true
fi
echo "fetchq's desktop entry is installed under $prefix/share"
# The browser extension's way in: host manifests for the browsers this user has.
if command -v fetchq >/dev/null 2>&1; then
  fetchq --install-browser-integration
else
  echo "fetchq is not on PATH: run 'fetchq --install-browser-integration' once it is"
fi
