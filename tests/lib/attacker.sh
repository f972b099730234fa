# attacker.sh - a real unprivileged local user for end-to-end tests: created
# with useradd, given a home in the sandbox root, removed on exit. Source
# after lib.sh (and daemon.sh, if used). Needs root.
[ "$(id -u)" -eq 0 ] || skip "creating a local user needs root"
command -v useradd >/dev/null || skip "useradd is missing"
EVIL=plb$$
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$EVIL" 2>/dev/null ||
	skip "cannot create a user here"
EVIL_UID=$(id -u "$EVIL") EVIL_GID=$(id -g "$EVIL")
remove_user() { userdel "$EVIL" 2>/dev/null; groupdel "$EVIL" 2>/dev/null; true; }
# The sandbox's own account files know the user by the same numbers.
echo "$EVIL:x:$EVIL_UID:$EVIL_GID::/home/$EVIL:/bin/sh" >> "$ROOT/etc/passwd"
echo "$EVIL:x:$EVIL_GID:" >> "$ROOT/etc/group"
EHOME=$ROOT/home/$EVIL
mkdir -p "$EHOME/.ssh"
chown -R "$EVIL:$EVIL" "$EHOME"
chmod 0755 "$T" "$ROOT" "$ROOT/home"
# as_evil CMD...: runs a command as the unprivileged user (argv, no shell).
as_evil() { runuser -u "$EVIL" -- "$@"; }
