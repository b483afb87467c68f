#!/usr/bin/env sh
# Build fetchq_VERSION_ARCH.deb from a frozen one-folder app (see fetchq.spec): the app under
# /opt/fetchq, `fetchq` on the PATH, the desktop entry, icon and AppStream metadata.
# Usage: packaging/build-deb.sh DIST_FOLDER OUTPUT_FOLDER VERSION
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dist=$1
out=$2
version=$3
arch=$(dpkg --print-architecture)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root/opt" "$root/usr/bin" "$root/DEBIAN"
cp -a "$dist" "$root/opt/fetchq"
ln -s /opt/fetchq/fetchq "$root/usr/bin/fetchq"
install -Dm644 "$here/io.github.fetchq.fetchq.desktop" "$root/usr/share/applications/io.github.fetchq.fetchq.desktop"
install -Dm644 "$here/io.github.fetchq.fetchq.metainfo.xml" "$root/usr/share/metainfo/io.github.fetchq.fetchq.metainfo.xml"
install -Dm644 "$here/../resources/icons/fetchq.svg" "$root/usr/share/icons/hicolor/scalable/apps/io.github.fetchq.fetchq.svg"
size=$(du -sk "$root" | cut -f1)

# The frozen app carries Python, Qt and libcurl; Qt's X11 platform plugin needs these.
cat > "$root/DEBIAN/control" <<CONTROL
Package: fetchq
Version: $version
Architecture: $arch
Maintainer: The fetchq authors <fetchq@users.noreply.github.com>
Installed-Size: $size
Depends: libc6, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render-util0, libxcb-shape0, libxcb-xinerama0, libxcb-xkb1, libegl1, libgl1, libfontconfig1, libdbus-1-3
Section: net
Priority: optional
Homepage: https://github.com/fetchq/fetchq
Description: download manager: resumable, prioritized, several connections per file
 fetchq downloads files over https, http and ftp, resumes them after a restart or a
 crash, and uses several connections for large files. Drop links on its window.
CONTROL
cat > "$root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q /usr/share/applications || true; fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q /usr/share/icons/hicolor || true; fi
SCRIPT
cp "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$out/fetchq_${version}_${arch}.deb" >/dev/null
echo "$out/fetchq_${version}_${arch}.deb"
