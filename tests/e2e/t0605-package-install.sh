#!/bin/bash
# The two packages on a throwaway Debian 12 root (issue 20, items 1-2): a
# minimal bookworm root from mmdebstrap (cached in build-deb/cache/, so only
# the first run downloads), then with dpkg --root: install both, enable the
# units as an admin would, change the conffile, upgrade (conffile kept,
# running services try-restarted), remove (stopped), purge (nothing left
# under /var/lib/plumb or /var/lib/plumb-hub, no dangling unit links).
# systemd is not PID 1 in the root: deb-systemd-invoke is replaced by a stub
# that logs what the maintainer scripts asked of it.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/debroot.sh"
debroot
pkgs_before=$(dpkg --root="$R" -l | grep -c '^ii')

# Install: nothing more needed than the Depends, nothing enabled or started.
dpkgr -i "$AGENT" "$HUB"
note "installed into a bookworm root of $pkgs_before packages; agent Depends: $(dpkg-deb -f "$AGENT" Depends)"
for f in usr/bin/plumb usr/sbin/plumbd usr/libexec/plumb/plumb-send usr/bin/plumb-hub lib/systemd/system/plumbd.service \
	 lib/systemd/system/plumb-hub.service etc/plumb/agent.yaml etc/default/plumb-hub \
	 usr/share/bash-completion/completions/plumb; do
	[ -e "$R/$f" ] || fail "installed root lacks /$f"
done
[ "$(stat -c %a "$R/var/lib/plumb")" = 711 ] || fail "/var/lib/plumb is $(stat -c %a "$R/var/lib/plumb")"
grep -q '^plumb-hub:' "$R/etc/passwd" || fail "no plumb-hub user"
hubuid=$(awk -F: '$1 == "plumb-hub" {print $3}' "$R/etc/passwd")
[ "$(stat -c '%a %u' "$R/var/lib/plumb-hub")" = "700 $hubuid" ] || fail "/var/lib/plumb-hub is $(stat -c '%a %u' "$R/var/lib/plumb-hub"), not 700 owned by plumb-hub ($hubuid)"
[ -e "$R/etc/systemd/system/multi-user.target.wants/plumbd.service" ] && fail "plumbd enabled on install"
grep -q 'start' "$R/invoke.log" && fail "a service was started on install: $(cat "$R/invoke.log")"
chroot "$R" /usr/bin/plumb version | grep -q "$ver" || fail "the installed plumb does not run"
chroot "$R" /usr/bin/plumb-hub --version | grep -q "$ver" || fail "the installed plumb-hub does not run"

# The admin enables both, edits the conffile; plumbd leaves state behind.
systemctl --root="$R" enable plumbd.service plumb-hub.service >/dev/null 2>&1 || fail "systemctl --root enable"
[ -L "$R/etc/systemd/system/multi-user.target.wants/plumbd.service" ] || fail "no enable link"
echo "# site change" >> "$R/etc/plumb/agent.yaml"
mkdir -p "$R/var/lib/plumb/quarantine" "$R/var/lib/plumb/spool"; echo secret > "$R/var/lib/plumb/quarantine/x"
echo db > "$R/var/lib/plumb-hub/hub.db"

# Upgrade: the same packages as version $ver+1 (repacked).
AGENT2=$(repack "$AGENT"); HUB2=$(repack "$HUB")
: > "$R/invoke.log"
dpkgr -i "$AGENT2" "$HUB2"
[ "$(dpkg-query --root="$R" -W -f '${Version}' plumb)" = "${ver}+1" ] || fail "plumb not upgraded"
tail -1 "$R/etc/plumb/agent.yaml" | grep -q '^# site change$' || fail "the changed conffile was not kept on upgrade"
[ -e "$R/etc/plumb/agent.yaml.dpkg-new" ] && fail "upgrade left agent.yaml.dpkg-new"
grep -qx "try-restart plumbd.service" "$R/invoke.log" || fail "upgrade did not try-restart plumbd: $(cat "$R/invoke.log")"
grep -qx "try-restart plumb-hub.service" "$R/invoke.log" || fail "upgrade did not try-restart plumb-hub"
grep -q "stop" "$R/invoke.log" && fail "upgrade stopped a service: $(cat "$R/invoke.log")"
[ -f "$R/var/lib/plumb/quarantine/x" ] || fail "upgrade lost the agent's state"

# Remove (configuration and state stay), then purge (nothing stays).
: > "$R/invoke.log"
dpkgr -r plumb plumb-hub
grep -qx "stop plumbd.service" "$R/invoke.log" || fail "remove did not stop plumbd: $(cat "$R/invoke.log")"
[ -f "$R/etc/plumb/agent.yaml" ] || fail "remove deleted the conffile"
[ -f "$R/var/lib/plumb/quarantine/x" ] || fail "remove deleted the state (only purge may)"
dpkgr -P plumb plumb-hub
[ -e "$R/var/lib/plumb" ] && fail "purge left /var/lib/plumb: $(find "$R/var/lib/plumb" | head -3)"
[ -e "$R/var/lib/plumb-hub" ] && fail "purge left /var/lib/plumb-hub"
[ -e "$R/etc/plumb/agent.yaml" ] && fail "purge left /etc/plumb/agent.yaml"
[ -e "$R/etc/default/plumb-hub" ] && fail "purge left /etc/default/plumb-hub"
dangling=$(find "$R/etc/systemd" -xtype l 2>/dev/null)
[ -z "$dangling" ] || fail "purge left dangling links: $dangling"
find "$R/etc/systemd" -name 'plumb*' | grep -q . && fail "purge left unit links: $(find "$R/etc/systemd" -name 'plumb*')"
left=$(dpkg --root="$R" -l | grep -c '^ii')
[ "$left" -eq "$pkgs_before" ] || fail "$left packages installed after purge, $pkgs_before before"
exit 0
