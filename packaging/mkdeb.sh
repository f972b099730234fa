#!/bin/bash
# mkdeb.sh - `make deb`: builds the binary packages of the debian/ source
# package with dpkg-buildpackage -us -uc -b, in a copy of the source tree
# (so the developer's build/ is never cleaned and the .debs land in
# build-deb/, not in the parent directory). Prints the two .deb paths:
#   build-deb/plumb_<version>_<arch>.deb      the agent
#   build-deb/plumb-hub_<version>_<arch>.deb  the control plane
# Reuses the packages when no source file changed since they were built.
set -euo pipefail
cd "$(dirname "$0")/.."
# A release build whatever make or test invoked us (no SANITIZE, no jobserver).
unset MAKEFLAGS MAKELEVEL MFLAGS SANITIZE BUILD
VERSION=$(sed -n 's/^#define PLUMB_VERSION "\(.*\)"/\1/p' include/plumb/version.h)
CHVERSION=$(dpkg-parsechangelog -S Version)
[ "$VERSION" = "$CHVERSION" ] || { echo "mkdeb: version.h says $VERSION, debian/changelog $CHVERSION" >&2; exit 1; }
ARCH=$(dpkg --print-architecture)
OUT=build-deb
AGENT=$OUT/plumb_${VERSION}_${ARCH}.deb HUB=$OUT/plumb-hub_${VERSION}_${ARCH}.deb
mkdir -p "$OUT"
# One build at a time in build-deb/ (tests may run side by side).
exec 9>"$OUT/.lock"
flock 9

# The source tree: tracked files and new ones not ignored, as they are now.
if git rev-parse --git-dir >/dev/null 2>&1; then
	list() { git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' _; }
else
	list() { find . -path ./build -prune -o -path './build-*' -prune -o -path ./.git -prune -o -type f -printf '%P\0'; }
fi
sum=$(list | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ -f "$AGENT" ] && [ -f "$HUB" ] && [ "$(cat "$OUT/source.sha256" 2>/dev/null)" = "$sum" ]; then
	echo "$AGENT"; echo "$HUB"
	exit 0
fi
SRC=$OUT/plumb-$VERSION
rm -rf "$SRC" "$OUT"/*.deb "$OUT"/*.ddeb "$OUT"/*.changes "$OUT"/*.buildinfo
mkdir -p "$SRC"
list | tar -c --null -T - | tar -x -C "$SRC"
# Reproducible: file times from the last commit (dpkg clamps to SOURCE_DATE_EPOCH).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-} parallel=$(nproc)"
(cd "$SRC" && dpkg-buildpackage -us -uc -b --no-sign) > "$OUT/build.log" 2>&1 ||
	{ tail -30 "$OUT/build.log" >&2; echo "mkdeb: dpkg-buildpackage failed, see $OUT/build.log" >&2; exit 1; }
rm -rf "$SRC"
echo "$sum" > "$OUT/source.sha256"
echo "$AGENT"; echo "$HUB"
