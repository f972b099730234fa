#!/bin/bash
# make deb: dpkg-buildpackage builds two packages from debian/, plumb (the
# agent) and plumb-hub, each holding its own files (binaries, plumb-send,
# units with hardening, documented conffiles, /var/lib/plumb 0711, man pages
# that render, bash completion) with Depends from dpkg-shlibdeps: the agent
# pulls none of the hub's libraries. lintian --pedantic finds nothing but the
# documented overrides, and the unpacked binaries run.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
command -v dpkg-buildpackage >/dev/null || skip "no dpkg-buildpackage"
command -v dh >/dev/null || skip "no debhelper"
mapfile -t debs < <(cd "$REPO" && packaging/mkdeb.sh 2>"$T/err") || fail "mkdeb.sh failed: $(tail -5 "$T/err")"
[ "${#debs[@]}" -eq 2 ] || fail "mkdeb.sh printed ${#debs[@]} packages: ${debs[*]}"
DEB=$REPO/${debs[0]} HUB=$REPO/${debs[1]}
ver=$(sed -n 's/^#define PLUMB_VERSION "\(.*\)"/\1/p' "$REPO/include/plumb/version.h")
arch=$(dpkg --print-architecture)
[ "$(basename "$DEB")" = "plumb_${ver}_$arch.deb" ] || fail "package name $(basename "$DEB")"
[ "$(basename "$HUB")" = "plumb-hub_${ver}_$arch.deb" ] || fail "package name $(basename "$HUB")"

dpkg-deb -c "$DEB" | awk '{print $1, $6}' > "$T/contents"
dpkg-deb -c "$HUB" | awk '{print $1, $6}' > "$T/hub-contents"
has() { grep -qE "^$1 \./$2\$" "$T/contents" || fail "plumb lacks $2 ($1)"; }
hub_has() { grep -qE "^$1 \./$2\$" "$T/hub-contents" || fail "plumb-hub lacks $2 ($1)"; }
has '-rwxr-xr-x' usr/bin/plumb
has '-rwxr-xr-x' usr/sbin/plumbd
has '-rwxr-xr-x' usr/libexec/plumb/plumb-send
has '-rwxr-xr-x' usr/libexec/plumb/plumb-fetch
has '-rw-r--r--' lib/systemd/system/plumbd.service
has '-rw-r--r--' etc/plumb/agent.yaml
has 'drwx--x--x' var/lib/plumb/
has '-rw-r--r--' usr/share/bash-completion/completions/plumb
for m in man8/plumb.8 man8/plumbd.8 man5/plumb-baseline.5 man5/plumb-agent.yaml.5; do
	has '-rw-r--r--' "usr/share/man/$m.gz"
done
has '-rw-r--r--' usr/share/doc/plumb/copyright
has '-rw-r--r--' usr/share/doc/plumb/examples/baselines/baseline.yaml
hub_has '-rwxr-xr-x' usr/bin/plumb-hub
hub_has '-rw-r--r--' lib/systemd/system/plumb-hub.service
hub_has '-rw-r--r--' etc/default/plumb-hub
hub_has '-rw-r--r--' usr/share/man/man8/plumb-hub.8.gz
grep -q 'plumb-hub' "$T/contents" && fail "the agent package holds hub files: $(grep plumb-hub "$T/contents")"
grep -qE 'bin/plumb$|plumbd|plumb-send|plumb-fetch' "$T/hub-contents" && fail "plumb-hub holds agent files"

dpkg-deb -f "$DEB" Depends > "$T/depends"
for lib in libgit2 libyaml libjansson4 libssl3 libcurl4; do
	grep -q "$lib" "$T/depends" || fail "plumb Depends lacks $lib: $(cat "$T/depends")"
done
grep -q adduser "$T/depends" || fail "plumb Depends lacks adduser (its postinst creates the plumb user)"
for lib in libmicrohttpd libsqlite3 libpq libgnutls; do
	grep -q "$lib" "$T/depends" && fail "plumb Depends on the hub's $lib: $(cat "$T/depends")"
done
dpkg-deb -f "$HUB" Depends > "$T/hub-depends"
for lib in libmicrohttpd12 libsqlite3-0 libpq5 libjansson4 adduser; do
	grep -q "$lib" "$T/hub-depends" || fail "plumb-hub Depends lacks $lib: $(cat "$T/hub-depends")"
done
grep -q libgit2 "$T/hub-depends" && fail "plumb-hub Depends on libgit2"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles > "$T/conffiles"
[ "$(cat "$T/conffiles")" = /etc/plumb/agent.yaml ] || fail "plumb conffiles: $(cat "$T/conffiles")"
dpkg-deb --ctrl-tarfile "$HUB" | tar -xO ./conffiles > "$T/conffiles"
[ "$(cat "$T/conffiles")" = /etc/default/plumb-hub ] || fail "plumb-hub conffiles: $(cat "$T/conffiles")"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postinst | grep -q "try-restart 'plumbd.service'" || fail "no try-restart of plumbd on upgrade"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postrm | grep -q 'rm -rf /var/lib/plumb$' || fail "purge does not remove /var/lib/plumb"

# Unpacked: the conffile parses, the units carry their hardening, the
# man pages render without warnings, the binaries run.
X=$T/x; dpkg -x "$DEB" "$X"; dpkg -x "$HUB" "$X"
# (check-config also loads the allowed_signers it names: give it one here)
ssh-keygen -q -t ed25519 -N '' -C release -f "$T/release"
echo "release@example.com $(cut -d' ' -f1,2 "$T/release.pub")" > "$T/allowed_signers"
sed "s|/etc/plumb/allowed_signers|$T/allowed_signers|" "$X/etc/plumb/agent.yaml" > "$T/agent.yaml"
"$X/usr/bin/plumb" -c "$T/agent.yaml" --state-dir "$T/st" check-config >/dev/null || fail "the packaged agent.yaml does not parse"
for k in NoNewPrivileges=yes UMask=0077 SystemCallFilter= RestrictAddressFamilies= CapabilityBoundingSet=; do
	grep -q "^$k" "$X/lib/systemd/system/plumbd.service" || fail "plumbd.service lacks $k"
	grep -q "^$k" "$X/lib/systemd/system/plumb-hub.service" || fail "plumb-hub.service lacks $k"
done
grep -q '^ExecStart=/usr/sbin/plumbd ' "$X/lib/systemd/system/plumbd.service" || fail "plumbd.service ExecStart"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$X/lib/systemd/system/plumb-hub.service" "$X/lib/systemd/system/plumbd.service" 2>&1 | grep -v 'Command .* is not executable\|not found' | grep -i 'error\|unknown' && fail "a unit does not verify"
fi
for m in "$X"/usr/share/man/man*/*.gz; do
	zcat "$m" | groff -man -ww -z 2>"$T/groff" ; [ -s "$T/groff" ] && fail "$(basename "$m"): $(cat "$T/groff")"
done
"$X/usr/bin/plumb" version | grep -q "$ver" || fail "plumb version"
"$X/usr/bin/plumb-hub" --version | grep -q "$ver" || fail "plumb-hub --version"
"$X/usr/sbin/plumbd" --version | grep -q "$ver" || fail "plumbd --version"
strings "$X/usr/sbin/plumbd" | grep -q '^/usr/libexec/plumb$' || fail "plumbd looks for plumb-send elsewhere than /usr/libexec/plumb"

# lintian --pedantic over both (and the .changes): errors, warnings and
# pedantic tags fail; overrides are in debian/*.lintian-overrides, each with its reason.
if command -v lintian >/dev/null; then
	lintian --pedantic --allow-root "$REPO/build-deb/plumb_${ver}_$arch.changes" > "$T/lintian" 2>&1 || true
	grep -E '^[EWP]:' "$T/lintian" && fail "lintian: $(grep -cE '^[EWP]:' "$T/lintian") tags"
	note "lintian --pedantic: clean; overrides: $(cat "$REPO"/debian/*.lintian-overrides | grep -v '^#' | cut -d' ' -f2 | tr '\n' ' ')"
else
	fail "no lintian (packaging/deps.sh installs it)"
fi
exit 0
