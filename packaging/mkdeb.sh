#!/bin/bash
# mkdeb.sh - `make deb`: builds plumb_<version>_<arch>.deb with dpkg-deb from
# a staging tree: binaries (PREFIX=/usr), man pages, systemd units, the
# documented conffiles, /var/lib/plumb, docs and the example baseline.
# Runtime dependencies come from dpkg-shlibdeps. Output: build-deb/.
set -euo pipefail
cd "$(dirname "$0")/.."
# A release build whatever make or test invoked us (no SANITIZE, no jobserver).
unset MAKEFLAGS MAKELEVEL MFLAGS SANITIZE
VERSION=$(sed -n 's/^#define PLUMB_VERSION "\(.*\)"/\1/p' include/plumb/version.h)
ARCH=$(dpkg --print-architecture)
OUT=build-deb
STAGE=$OUT/stage
rm -rf "$STAGE"
make -s BUILD=build-deb PREFIX=/usr LIBEXECDIR=/usr/libexec/plumb all
make -s BUILD=build-deb PREFIX=/usr LIBEXECDIR=/usr/libexec/plumb DESTDIR="$PWD/$STAGE" install
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$STAGE"/usr/bin/* "$STAGE"/usr/sbin/* "$STAGE"/usr/libexec/plumb/*
gzip -9n "$STAGE"/usr/share/man/man*/*

install -d -m 0755 "$STAGE/etc/plumb" "$STAGE/etc/default"
install -m 0644 packaging/agent.yaml "$STAGE/etc/plumb/agent.yaml"
install -m 0644 packaging/plumb-hub.default "$STAGE/etc/default/plumb-hub"
install -d -m 0700 "$STAGE/var/lib/plumb"
DOC=$STAGE/usr/share/doc/plumb
install -d "$DOC/examples"
install -m 0644 README.md "$DOC/README.md"
cp -a baselines "$DOC/examples/baselines"
install -m 0644 docs/report.schema.json "$DOC/report.schema.json"
find "$DOC" -type d -exec chmod 0755 {} + ; find "$DOC" -type f -exec chmod 0644 {} +
cat > "$DOC/copyright" <<C
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: plumb
Source: https://github.com/plumb/plumb

Files: *
Copyright: 2026 The plumb authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
C
{ echo "plumb ($VERSION) unstable; urgency=medium"; echo; echo "  * Release $VERSION."; echo
  echo " -- plumb maintainers <plumb@example.com>  $(date -R -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"; } |
	gzip -9n > "$DOC/changelog.gz"

# Runtime dependencies, from the ELF files themselves.
mkdir -p "$OUT/shlibs/debian"
printf 'Source: plumb\n\nPackage: plumb\nArchitecture: any\n' > "$OUT/shlibs/debian/control"
DEPENDS=$(cd "$OUT/shlibs" && dpkg-shlibdeps -O "$OLDPWD/$STAGE"/usr/bin/* "$OLDPWD/$STAGE"/usr/sbin/* \
	"$OLDPWD/$STAGE"/usr/libexec/plumb/* 2>/dev/null | sed -n 's/^shlibs:Depends=//p')

install -d "$STAGE/DEBIAN"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<C
Package: plumb
Version: $VERSION
Architecture: $ARCH
Maintainer: plumb maintainers <plumb@example.com>
Installed-Size: $SIZE
Depends: $DEPENDS, adduser
Recommends: libnftables1, nftables, netbase, git
Suggests: postgresql, iptables
Section: admin
Priority: optional
Homepage: https://github.com/plumb/plumb
Description: configuration drift enforcement with signed baselines
 plumb keeps servers and containers true to a hardened baseline that a
 change-control pipeline publishes to a git repository and signs with an
 SSH key. The agent (plumbd) verifies the signature and refuses rollbacks,
 reverts drift of files and owned firewall tables within about a second
 where inotify can see it and at every full scan otherwise, keeps what an
 intruder wrote, and reports every change. plumb-hub receives the reports
 (SQLite or PostgreSQL) and shows the fleet's drift to SREs.
C
printf '/etc/plumb/agent.yaml\n/etc/default/plumb-hub\n' > "$STAGE/DEBIAN/conffiles"
cat > "$STAGE/DEBIAN/postinst" <<'S'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	if ! getent passwd plumb-hub >/dev/null; then
		adduser --system --group --home /var/lib/plumb-hub --no-create-home --quiet plumb-hub
	fi
	chmod 0700 /var/lib/plumb
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null || true
	fi
fi
# Neither service is enabled here: plumbd needs its source.url and
# allowed_signers, plumb-hub its listen address and TLS files first.
exit 0
S
cat > "$STAGE/DEBIAN/prerm" <<'S'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ] && [ -x /usr/bin/deb-systemd-invoke ]; then
	deb-systemd-invoke stop plumbd.service plumb-hub.service >/dev/null || true
fi
exit 0
S
cat > "$STAGE/DEBIAN/postrm" <<'S'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
exit 0
S
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
DEB=$OUT/plumb_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
