#!/bin/bash
# The agent package creates the plumb system user that the git fetcher
# and plumb-send's network child run as (docs/PRIVSEP.md): adduser
# --system, its own group, no home, no shell; /var/lib/plumb root's, 0711.
# Reinstall and upgrade keep the same uid; a plumb user the admin made
# first is kept as it is; one with uid 0 is warned about; a /var/lib/plumb
# that is a symlink is not chmod-ed through. Purge removes /var/lib/plumb
# and leaves the user, as Debian does for system users.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/debroot.sh"
debroot
TAR_R=$T/root.tar
tar -C "$R" -cf "$TAR_R" .
fresh() { rm -rf "$R"; mkdir -p "$R"; tar -C "$R" -xf "$TAR_R"; }
pw() { awk -F: -v u="$1" '$1 == u' "$R/etc/passwd"; }

# A plain install.
dpkgr -i "$AGENT"
line=$(pw plumb)
[ -n "$line" ] || fail "no plumb user after install"
IFS=: read -r _ _ uid gid _ home shell <<<"$line"
note "plumb user: $line"
[ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "plumb uid $uid is not a system uid"
[ "$(awk -F: -v g="$gid" '$3 == g {print $1}' "$R/etc/group")" = plumb ] || fail "plumb's gid $gid is not the group plumb"
[ "$home" = /nonexistent ] || fail "plumb's home is $home"
[ -e "$R/nonexistent" ] && fail "a home directory was created"
case "$shell" in */nologin|*/false) ;; *) fail "plumb has a login shell: $shell" ;; esac
grep -q '^plumb:[^*!]' "$R/etc/shadow" && fail "plumb has a password: $(grep '^plumb:' "$R/etc/shadow")"
[ "$(stat -c '%a %u %g' "$R/var/lib/plumb")" = "711 0 0" ] || fail "/var/lib/plumb is $(stat -c '%a %u %g' "$R/var/lib/plumb")"
grep -q '^StateDirectoryMode=0711$' "$R/lib/systemd/system/plumbd.service" ||
	fail "plumbd.service would reset /var/lib/plumb to $(grep StateDirectoryMode "$R/lib/systemd/system/plumbd.service")"

# The installed plumb resolves the user it confines its children to.
chroot "$R" /usr/bin/getent passwd plumb >/dev/null || fail "getent does not see plumb in the root"

# Reinstall, then upgrade: the same uid, one entry, the mode put back.
chmod 0700 "$R/var/lib/plumb"
mkdir -p "$R/var/lib/plumb/cache.git"; echo x > "$R/var/lib/plumb/cache.git/HEAD"
chroot "$R" chown -R plumb:plumb /var/lib/plumb/cache.git
dpkgr -i "$AGENT"
dpkgr -i "$(repack "$AGENT")"
[ "$(grep -c '^plumb:' "$R/etc/passwd")" -eq 1 ] || fail "plumb appears $(grep -c '^plumb:' "$R/etc/passwd") times in passwd"
[ "$(pw plumb | cut -d: -f3)" = "$uid" ] || fail "the upgrade changed plumb's uid: $(pw plumb)"
[ "$(stat -c %a "$R/var/lib/plumb")" = 711 ] || fail "the upgrade left /var/lib/plumb $(stat -c %a "$R/var/lib/plumb")"
[ "$(stat -c %u "$R/var/lib/plumb/cache.git/HEAD")" = "$uid" ] || fail "the upgrade changed the cache's owner"

# Purge: the state goes, the user stays and owns nothing under /var/lib.
dpkgr -P plumb
[ -e "$R/var/lib/plumb" ] && fail "purge left /var/lib/plumb"
[ -n "$(pw plumb)" ] || fail "purge removed the plumb system user (Debian keeps system users)"
left=$(find "$R/var/lib" -uid "$uid" 2>/dev/null | head -3)
[ -z "$left" ] || fail "purge left files of the plumb user: $left"

# A plumb user the admin made first: kept as it is, not a second one.
fresh
chroot "$R" adduser --system --group --uid 321 --home /nonexistent --no-create-home --quiet plumb ||
	fail "cannot create a plumb user in the root"
dpkgr -i "$AGENT"
[ "$(grep -c '^plumb:' "$R/etc/passwd")" -eq 1 ] || fail "a second plumb user was made"
[ "$(pw plumb | cut -d: -f3)" = 321 ] || fail "the admin's plumb user was changed: $(pw plumb)"
grep -q 'uid 0' "$T/dpkg.out" && fail "a warning about a sane user: $(cat "$T/dpkg.out")"

# Hostile: a plumb user with uid 0, and /var/lib/plumb a symlink to /etc.
fresh
printf 'plumb:x:0:0::/nonexistent:/usr/sbin/nologin\n' >> "$R/etc/passwd"
before=$(stat -c '%a %u %g' "$R/etc")
ln -s /etc "$R/var/lib/plumb"
dpkgr -i "$AGENT"
grep -q "the user 'plumb' has uid 0, gid 0" "$T/dpkg.out" || fail "no warning about a plumb user with uid 0: $(cat "$T/dpkg.out")"
[ "$(stat -c '%a %u %g' "$R/etc")" = "$before" ] || fail "the postinst changed /etc through the symlink: $(stat -c '%a %u %g' "$R/etc")"
[ -L "$R/var/lib/plumb" ] || fail "the symlink was replaced"
exit 0
