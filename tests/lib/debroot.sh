# debroot.sh - a throwaway Debian 12 root for package tests (t0605, t0607).
# Source after lib.sh. debroot: builds both packages (AGENT, HUB, ver),
# unpacks a minimal bookworm root from mmdebstrap into R (cached in
# build-deb/cache/, so only the first run downloads; skips without a
# mirror) with systemd "running" for the maintainer scripts and
# deb-systemd-invoke logging to $R/invoke.log. dpkgr ARGS: dpkg --root=$R.
REPO=$(cd "$TESTS_DIR/.." && pwd)
debroot() {
	command -v mmdebstrap >/dev/null || skip "no mmdebstrap (apt-get install mmdebstrap)"
	command -v systemctl >/dev/null || skip "no systemctl (for systemctl --root enable)"
	[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg --root chroots into the throwaway root)"
	mapfile -t debs < <(cd "$REPO" && packaging/mkdeb.sh 2>"$T/err") || fail "mkdeb.sh failed"
	AGENT=$REPO/${debs[0]} HUB=$REPO/${debs[1]}
	ver=$(dpkg-deb -f "$AGENT" Version)
	# The root: essential packages plus what both packages depend on.
	local deps key tar cache=$REPO/build-deb/cache
	deps=$(for d in "$AGENT" "$HUB"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g' |
		grep -v '^$' | LC_ALL=C sort -u | tr '\n' ',' | sed 's/,$//')
	key=$(echo "bookworm essential $deps" | sha256sum | cut -c1-16)
	tar=$cache/bookworm-$key.tar
	mkdir -p "$cache"
	exec 8>"$cache/.lock"; flock 8   # one mmdebstrap at a time (tests may run side by side)
	if [ ! -s "$tar" ]; then
		timeout 300 mmdebstrap --quiet --variant=essential --include="$deps" bookworm "$cache/partial-$key.tar" >"$T/mm.log" 2>&1 &&
			mv "$cache/partial-$key.tar" "$tar" ||
			{ rm -f "$cache/partial-$key.tar"; skip "mmdebstrap could not build a bookworm root (no mirror?): $(tail -1 "$T/mm.log")"; }
	fi
	exec 8>&-
	R=$T/r; mkdir -p "$R"
	tar -C "$R" -xf "$tar" || fail "cannot unpack $tar"
	# systemd "running" for the maintainer scripts, with a logging stand-in.
	mkdir -p "$R/run/systemd/system"
	cat > "$R/usr/bin/deb-systemd-invoke" <<'S'
#!/bin/sh
echo "$*" >> /invoke.log
S
	printf '#!/bin/sh\nexit 0\n' > "$R/usr/bin/systemctl"
	chmod 0755 "$R/usr/bin/deb-systemd-invoke" "$R/usr/bin/systemctl"
	: > "$R/invoke.log"
}
dpkgr() { dpkg --root="$R" --force-unsafe-io "$@" </dev/null >"$T/dpkg.out" 2>&1 || fail "dpkg $*: $(tail -5 "$T/dpkg.out")"; }
# repack DEB: the same package as version $ver+1 (an upgrade).
repack() {
	local d=$T/up-$(basename "$1" .deb)
	dpkg-deb -R "$1" "$d"
	sed -i "s/^Version: .*/Version: ${ver}+1/" "$d/DEBIAN/control"
	dpkg-deb --root-owner-group -b "$d" "$d.deb" >/dev/null
	echo "$d.deb"
}
