#!/bin/bash
# An unprivileged local user who owns a directory on or above managed paths
# (issue 12), against plumb apply: sparse giants, planted temp names, default
# ACLs and setgid, hard links, the moment of a metadata repair, secrets in
# diffs, quarantine flushing, and control characters in names.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/attacker.sh"
trap 'remove_user; cleanup' EXIT
command -v setfacl >/dev/null || skip "setfacl (package acl) is missing"

APP=$ROOT/srv/app
mkdir -p "$APP" && chown "$EVIL:$EVIL" "$APP"
echo "deploy:x:4300:" >> "$ROOT/etc/group"
cat > "$BL/baseline.yaml" <<Y
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
    mode: "0644"
  - path: /home/$EVIL/.ssh/authorized_keys
    content: "ssh-ed25519 AAAAgood ops@example.com\n"
    mode: "0600"
    owner: $EVIL
  - path: /srv/app/secrets.env
    content: "db_password=s3cret\n"
    mode: "0640"
    owner: root
    group: deploy
  - path: /srv/app/.plumb-0123456789abcdef.tmp
    content: "managed, though it looks like a temp\n"
    mode: "0644"
Y
plumb_bl apply
expect_rc 2 "first apply"
expect_owner "$EHOME/.ssh/authorized_keys" "$EVIL_UID:$EVIL_GID"   # group: the owner's primary group

# 1. A 15 TiB sparse file (no disk used) is content drift by its size alone:
# the run ends (bounded by timeout, not measured) and other drift is reverted.
as_evil truncate -s 15T "$EHOME/.ssh/authorized_keys"
echo intruder > "$ROOT/etc/motd"
rc=0; timeout 60 "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" apply --json >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" -ne 124 ] || fail "apply read the 15 TiB sparse file (killed after 60 s)"
expect_rc 2 "apply over a sparse giant"
expect_content "$ROOT/etc/motd" hello
expect_content "$EHOME/.ssh/authorized_keys" "ssh-ed25519 AAAAgood ops@example.com"
python3 - "$T/out" <<'P' || fail "the sparse file's event is wrong: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
e = [e for e in r["events"] if e["resource"].endswith("authorized_keys")][0]
a = e["actual"]
assert e["action"] == "reverted" and "content" in e["drift"], e
assert a["size"] == 15 << 40 and a.get("too_large") is True and "sha256" not in a and "diff" not in a, a
assert "quarantine" not in e and "not kept" in e.get("error", ""), e
P
note "15 TiB sparse file: size drift, too_large, not quarantined, other drift reverted"

# 2. Temp names: the directory's owner plants 2,000 temp-looking names (files,
# directories, symlinks); repairs still succeed, nothing of theirs is touched
# or followed, and the managed path that looks like a temp survives the sweep.
as_evil python3 - "$EHOME/.ssh" <<'P'
import os, sys, random
random.seed(12)
d = sys.argv[1]
for i in range(2000):
    n = os.path.join(d, ".plumb-%016x.tmp" % random.getrandbits(64))
    [os.mkdir, lambda p: open(p, "w").close(), lambda p: os.symlink("/etc/shadow", p)][i % 3](n)
# and the name plumb used to derive from the file's name (FNV-1a), as a directory
h = 1469598103934665603
for c in b"authorized_keys":
    h = ((h ^ c) * 1099511628211) % (1 << 64)
os.mkdir(os.path.join(d, ".plumb-%016x.tmp" % h))
P
before=$(ls -A "$EHOME/.ssh" | grep -c '^\.plumb-')
for round in $(seq 1 50); do
	as_evil sh -c "echo 'ssh-ed25519 AAAAevil mallory' > '$EHOME/.ssh/authorized_keys'"
	plumb_bl apply
	expect_rc 2 "apply $round with planted temp names"
	expect_content "$EHOME/.ssh/authorized_keys" "ssh-ed25519 AAAAgood ops@example.com"
done
[ "$(ls -A "$EHOME/.ssh" | grep -c '^\.plumb-')" -eq "$before" ] || fail "the sweep removed or left temp names"
expect_content "$APP/.plumb-0123456789abcdef.tmp" "managed, though it looks like a temp"
note "50 repairs among 2,000 planted temp names: all succeeded, none touched"

# 3. A default ACL and setgid on the owner's directory: plumb's new file has
# exactly its mode, owner and group; the owner cannot read the secret.
rm -f "$APP/secrets.env"
as_evil setfacl -d -m "u:$EVIL_UID:r,m::r" "$APP"
as_evil chmod g+s "$APP"
plumb_bl apply
expect_rc 2 "apply below a default ACL"
expect_mode "$APP/secrets.env" 640
expect_owner "$APP/secrets.env" "0:4300"
getfacl -cp "$APP/secrets.env" 2>/dev/null | grep -q "^user:$EVIL_UID" && fail "the new file inherited the ACL"
as_evil cat "$APP/secrets.env" >/dev/null 2>&1 && fail "the directory's owner can read the secret"
# an ACL granted on the managed file itself is drift (kind acl) and removed
setfacl -m "u:$EVIL_UID:r" "$APP/secrets.env"
plumb_bl check --json
expect_rc 2 "check of a file with an extended ACL"
json_get "$T/out" '[e for e in d["events"] if e["resource"]=="file:/srv/app/secrets.env"][0]["drift"]' | grep -q acl ||
	fail "no acl drift: $(cat "$T/out")"
plumb_bl apply
expect_rc 2 "apply removes the ACL"
getfacl -cp "$APP/secrets.env" 2>/dev/null | grep -q "^user:$EVIL_UID" && fail "the ACL was not removed"
as_evil cat "$APP/secrets.env" >/dev/null 2>&1 && fail "the owner can still read the secret"
setfacl -b "$APP"; chmod g-s "$APP"
note "default ACL + setgid: exact metadata, no read by the owner; extended ACL is drift 'acl'"

# 4. Hard links: a file the user may write, linked into a managed path.
echo "shared=1" > "$ROOT/etc/shared.conf"; chmod 0666 "$ROOT/etc/shared.conf"
rm -f "$EHOME/.ssh/authorized_keys"
as_evil ln "$ROOT/etc/shared.conf" "$EHOME/.ssh/authorized_keys" 2>/dev/null ||
	ln "$ROOT/etc/shared.conf" "$EHOME/.ssh/authorized_keys"   # protected_hardlinks may forbid it: same inode either way
plumb_bl apply --json
expect_rc 2 "apply over a hard link"
[ "$(stat -c %a:%u:%g:%h "$ROOT/etc/shared.conf")" = "666:0:0:1" ] || fail "the shared inode was changed: $(stat -c %a:%u:%g:%h "$ROOT/etc/shared.conf")"
expect_content "$ROOT/etc/shared.conf" "shared=1"
expect_content "$EHOME/.ssh/authorized_keys" "ssh-ed25519 AAAAgood ops@example.com"
grep -q "shared=1" "$T/out" && fail "the linked file's content reached the report"
json_get "$T/out" '[e for e in d["events"] if e["resource"].endswith("authorized_keys")][0]["drift"]' | grep -q links ||
	fail "no links drift: $(cat "$T/out")"
# metadata-only entry on a linked inode: a failed event, never a chmod
cat > "$T/bl2.yaml" <<Y
version: 1
files:
  - path: /home/$EVIL/.ssh/authorized_keys
    mode: "0600"
    owner: $EVIL
Y
mkdir -p "$T/bl2" && cp "$T/bl2.yaml" "$T/bl2/baseline.yaml"
rm -f "$EHOME/.ssh/authorized_keys"; ln "$ROOT/etc/shared.conf" "$EHOME/.ssh/authorized_keys"
run_plumb --baseline-dir "$T/bl2" apply --json
expect_rc 4 "apply of metadata on a linked inode"
expect_out "hard links"
[ "$(stat -c %a:%u:%g "$ROOT/etc/shared.conf")" = "666:0:0" ] || fail "metadata repair changed a shared inode"
rm -f "$EHOME/.ssh/authorized_keys"
note "hard links: fresh inode for content, refusal for metadata, no content in the report"

# 5. The moment of a metadata repair: 0660 root:root -> 0600 evil:deploy must
# never let group deploy read, not even between chown and chmod. A member of
# group deploy reads in a loop while 300 repairs run.
groupadd -g 4300 "plbd$$" 2>/dev/null || groupadd "plbd$$"
DGID=$(getent group "plbd$$" | cut -d: -f3)
sed -i "s/^deploy:x:4300:/deploy:x:$DGID:/" "$ROOT/etc/group"
useradd --no-create-home --shell /usr/sbin/nologin -g "plbd$$" "plbr$$"
trap 'userdel plbr$$ 2>/dev/null; groupdel plbd$$ 2>/dev/null; remove_user; cleanup' EXIT
cat > "$T/bl2/baseline.yaml" <<Y
version: 1
files:
  - path: /srv/app/token
    mode: "0600"
    owner: $EVIL
    group: deploy
Y
# created unreadable by the group before the reader starts: a 0644 file would
# be read before round 1 narrows it (seen once under load: 1288 reads)
(umask 077; echo "token=abc" > "$APP/token")
runuser -u "plbr$$" -- python3 -c '
import os, sys, time
p, stop = sys.argv[1], sys.argv[2]
hits = 0
end = time.time() + 120
while not os.path.exists(stop) and time.time() < end:
    try:
        with open(p) as f: f.read(); hits += 1
    except OSError: pass
print(hits)' "$APP/token" "$T/stop" > "$T/hits" &
READER=$!
for round in $(seq 1 300); do
	chown 0:0 "$APP/token"; chmod 0660 "$APP/token"
	run_plumb --baseline-dir "$T/bl2" apply
	[ "$rc" -eq 2 ] || fail "repair $round exited $rc"
done
touch "$T/stop"; wait "$READER"
[ "$(stat -c %a:%U "$APP/token")" = "600:$EVIL" ] || fail "token not repaired"
[ "$(cat "$T/hits")" = 0 ] || fail "group deploy read the file $(cat "$T/hits") times during 300 repairs"
note "300 metadata repairs with a reader in the new group: 0 reads"

# 6. A file that should be world-readable but is found private: no diff.
echo "db_password: hunter2" > "$ROOT/etc/motd"; chmod 0600 "$ROOT/etc/motd"
plumb_bl check --json
expect_rc 2 "check of a private motd"
grep -q hunter2 "$T/out" && fail "a private file's content reached the report"
chmod 0644 "$ROOT/etc/motd"
plumb_bl check --json
grep -q hunter2 "$T/out" || fail "a world-readable drifted file should still carry its diff"
plumb_bl apply
note "found-private content never in reports; world-readable still diffed"

# 8. The quarantine cannot be flushed: 60 MiB into one managed file does not
# evict the evidence of an earlier intrusion into another.
as_evil sh -c "echo 'ssh-ed25519 AAAAevil mallory' > '$EHOME/.ssh/authorized_keys'"
plumb_bl apply --json
evid=$(json_get "$T/out" '[e for e in d["events"] if e["resource"].endswith("authorized_keys")][0]["quarantine"]')
[ -f "$STATE/quarantine/$evid" ] || fail "the intrusion was not quarantined"
head -c 60M /dev/urandom > "$ROOT/etc/motd"
plumb_bl apply --json
expect_rc 2 "apply after a 60 MiB drift"
head -c 60M /dev/urandom > "$ROOT/etc/motd"     # twice: 120 MiB against a 64 MiB store
plumb_bl apply --json
expect_rc 2 "apply after a second 60 MiB drift"
[ -f "$STATE/quarantine/$evid" ] || fail "60 MiB of drift evicted earlier evidence"
expect_out "share of the quarantine"
note "60 MiB drift refused by the per-resource share; earlier evidence kept"

# Control characters in a managed path's name are escaped in logs and output.
printf 'version: 1\nfiles:\n  - path: "/etc/evil\\nplumb: fake line\\e[31m"\n    content: "x"\n' > "$T/bl2/baseline.yaml"
run_plumb --baseline-dir "$T/bl2" check
grep -q $'\e' "$T/out" "$T/err" && fail "a raw escape character reached the output"
grep -q '^plumb: fake line' "$T/out" "$T/err" && fail "a path forged an output line"
grep -qF 'file:/etc/evil\x0aplumb: fake line\x1b[31m' "$T/out" || fail "the path is not shown escaped: $(cat "$T/out")"
note "control characters in a path are shown as \\xNN"
exit 0
