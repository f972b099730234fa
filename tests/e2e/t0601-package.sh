#!/bin/bash
# make deb: the package builds with dpkg-deb and holds what the issue lists
# (binaries, plumb-send, units with hardening, documented conffiles,
# /var/lib/plumb 0700, man pages that render), its Depends come from
# dpkg-shlibdeps, lintian finds no errors, and the unpacked binaries run.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
command -v dpkg-deb >/dev/null || skip "no dpkg-deb"
deb=$(cd "$REPO" && packaging/mkdeb.sh 2>"$T/err" | tail -1) || fail "mkdeb.sh failed: $(tail -5 "$T/err")"
DEB=$REPO/$deb
ver=$(sed -n 's/^#define PLUMB_VERSION "\(.*\)"/\1/p' "$REPO/include/plumb/version.h")
[ "$(basename "$DEB")" = "plumb_${ver}_$(dpkg --print-architecture).deb" ] || fail "package name $(basename "$DEB")"

dpkg-deb -c "$DEB" | awk '{print $1, $6}' > "$T/contents"
has() { grep -qE "^$1 \./$2\$" "$T/contents" || fail "package lacks $2 ($1)"; }
has '-rwxr-xr-x' usr/bin/plumb
has '-rwxr-xr-x' usr/sbin/plumbd
has '-rwxr-xr-x' usr/bin/plumb-hub
has '-rwxr-xr-x' usr/libexec/plumb/plumb-send
has '-rw-r--r--' usr/lib/systemd/system/plumbd.service
has '-rw-r--r--' usr/lib/systemd/system/plumb-hub.service
has '-rw-r--r--' etc/plumb/agent.yaml
has '-rw-r--r--' etc/default/plumb-hub
has 'drwx------' var/lib/plumb/
for m in man8/plumb.8 man8/plumbd.8 man8/plumb-hub.8 man5/plumb-baseline.5 man5/plumb-agent.yaml.5; do
	has '-rw-r--r--' "usr/share/man/$m.gz"
done
has '-rw-r--r--' usr/share/doc/plumb/copyright
has '-rw-r--r--' usr/share/doc/plumb/examples/baselines/baseline.yaml

dpkg-deb -f "$DEB" Depends > "$T/depends"
for lib in libgit2 libyaml libjansson4 libssl3 libcurl4 libmicrohttpd12 libsqlite3-0 libpq5; do
	grep -q "$lib" "$T/depends" || fail "Depends lacks $lib: $(cat "$T/depends")"
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles > "$T/conffiles"
grep -qx /etc/plumb/agent.yaml "$T/conffiles" || fail "agent.yaml is not a conffile"
grep -qx /etc/default/plumb-hub "$T/conffiles" || fail "/etc/default/plumb-hub is not a conffile"

# Unpacked: the conffile parses, the units carry their hardening, the
# man pages render without warnings, the binaries run.
X=$T/x; dpkg -x "$DEB" "$X"
# (check-config also loads the allowed_signers it names: give it one here)
ssh-keygen -q -t ed25519 -N '' -C release -f "$T/release"
echo "release@example.com $(cut -d' ' -f1,2 "$T/release.pub")" > "$T/allowed_signers"
sed "s|/etc/plumb/allowed_signers|$T/allowed_signers|" "$X/etc/plumb/agent.yaml" > "$T/agent.yaml"
"$X/usr/bin/plumb" -c "$T/agent.yaml" --state-dir "$T/st" check-config >/dev/null || fail "the packaged agent.yaml does not parse"
for k in NoNewPrivileges=yes NoNewPrivileges=yes RestrictAddressFamilies= CapabilityBoundingSet=; do
	grep -q "^$k" "$X/usr/lib/systemd/system/plumbd.service" || fail "plumbd.service lacks $k"
	grep -q "^$k" "$X/usr/lib/systemd/system/plumb-hub.service" || fail "plumb-hub.service lacks $k"
done
grep -q '^ExecStart=/usr/sbin/plumbd ' "$X/usr/lib/systemd/system/plumbd.service" || fail "plumbd.service ExecStart"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$X/usr/lib/systemd/system/plumb-hub.service" 2>&1 | grep -v 'Command .* is not executable\|not found' | grep -i 'error\|unknown' && fail "plumb-hub.service does not verify"
fi
for m in "$X"/usr/share/man/man*/*.gz; do
	zcat "$m" | groff -man -ww -z 2>"$T/groff" ; [ -s "$T/groff" ] && fail "$(basename "$m"): $(cat "$T/groff")"
done
"$X/usr/bin/plumb" version | grep -q "$ver" || fail "plumb version"
"$X/usr/bin/plumb-hub" --version | grep -q "$ver" || fail "plumb-hub --version"
"$X/usr/sbin/plumbd" --version | grep -q "$ver" || fail "plumbd --version"
strings "$X/usr/sbin/plumbd" | grep -q '^/usr/libexec/plumb$' || fail "plumbd looks for plumb-send elsewhere than /usr/libexec/plumb"

if command -v lintian >/dev/null; then
	lintian --allow-root "$DEB" > "$T/lintian" 2>&1 || true
	grep '^E:' "$T/lintian" && fail "lintian errors"
	note "lintian: $(grep -c '^[WE]:' "$T/lintian") warnings: $(grep '^W:' "$T/lintian" | cut -d' ' -f3 | tr '\n' ' ')"
fi
exit 0
