#!/bin/bash
# Non-regular state files never hang the agent (issue 13, item 8): a FIFO
# at trust.json, spool/stats.json or the root's /etc/passwd, and locks that
# are directories or symlinks, give a clear error naming the path (or, for
# stats.json, are set aside) and every command ends by itself.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_hub; cleanup' EXIT
PLUMBD=${PLUMBD:-$(dirname "$PLUMB")/plumbd}

# bounded CMD...: runs CMD with a 20 s limit; rc, $T/out, $T/err; a hang fails
bounded() {
	rc=0
	timeout 20 "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" -ne 124 ] || fail "'$*' hung"
}

mk_key good ed25519; allow ci@example.com good
mk_repo
mk_tls "$T/tls"
start_hub
write_cfg "report:
  url: https://localhost:$HUB_PORT/v1/reports
  ca_file: $T/tls/ca.pem"
commit_signed good 1 A
run_cfg apply; expect_rc 2 "first apply"

# 1. a FIFO at trust.json
mv "$STATE/trust.json" "$T/trust.json"; mkfifo "$STATE/trust.json"
for cmd in apply verify; do
	bounded "$PLUMB" -c "$CFG" "$cmd"
	expect_rc 1 "$cmd with a FIFO at trust.json"
	expect_err "trust.json' is not a regular file"
done
bounded "$PLUMBD" -c "$CFG" --once
expect_rc 1 "plumbd --once with a FIFO at trust.json"
expect_err "trust.json' is not a regular file"
rm "$STATE/trust.json"; mv "$T/trust.json" "$STATE/trust.json"
note "FIFO at trust.json: refused, named"

# 2. a FIFO at spool/stats.json: set aside, counters start over, nothing hangs
mkfifo "$STATE/spool/stats.json.fifo"; mv "$STATE/spool/stats.json" "$T/stats.json"
mv "$STATE/spool/stats.json.fifo" "$STATE/spool/stats.json"
echo drift > "$ROOT/etc/motd"
bounded "$PLUMB" -c "$CFG" apply
expect_rc 2 "apply with a FIFO at spool/stats.json"
expect_err "stats.json' is not a regular file"
[ -f "$STATE/spool/stats.json" ] || fail "no new regular stats.json"
ls "$STATE"/spool/stats.json.corrupt-* >/dev/null 2>&1 || fail "the FIFO was not set aside"
mkfifo "$STATE/spool/stats.json.fifo"; rm "$STATE/spool/stats.json"; mv "$STATE/spool/stats.json.fifo" "$STATE/spool/stats.json"
bounded "$PLUMB" -c "$CFG" status
expect_rc 0 "status with a FIFO at spool/stats.json"
mkfifo "$STATE/spool/stats.json.fifo"; rm -f "$STATE/spool/stats.json"; mv "$STATE/spool/stats.json.fifo" "$STATE/spool/stats.json"
bounded "$PLUMB" -c "$CFG" deliver
expect_rc 0 "deliver with a FIFO at spool/stats.json"
note "FIFO at spool/stats.json: set aside, commands end"

# 3. a FIFO at the root's /etc/passwd
commit_signed good 2 B '  - path: /etc/owned
    content: "x\n"
    owner: plumbtest
'
mv "$ROOT/etc/passwd" "$T/passwd"; mkfifo "$ROOT/etc/passwd"
bounded "$PLUMB" -c "$CFG" apply
[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || fail "apply with a FIFO at /etc/passwd exited $rc"
grep -q "/etc/passwd' is not a regular file" "$T/err" "$STATE/last-report.json" || fail "the error does not name /etc/passwd: $(cat "$T/err")"
note "$(head -c 300 "$T/err")"
rm "$ROOT/etc/passwd"; mv "$T/passwd" "$ROOT/etc/passwd"
note "FIFO at /etc/passwd: a clear error, no hang"

# 4. locks that are not regular files
mkdir -p "$STATE/spool"; rm -f "$STATE/spool/.deliver.lock"; mkdir "$STATE/spool/.deliver.lock"
bounded "$PLUMB" -c "$CFG" deliver
grep -q "deliver.lock' is not a regular file" "$T/err" || fail "a directory at .deliver.lock is not named: $(cat "$T/err")"
grep -q "another delivery is in progress" "$T/err" && fail "a directory at .deliver.lock is reported as a delivery in progress"
rmdir "$STATE/spool/.deliver.lock"; ln -s /etc/passwd "$STATE/spool/.deliver.lock"
bounded "$PLUMB" -c "$CFG" deliver
grep -q "deliver.lock' is a symbolic link" "$T/err" || fail "a symlink at .deliver.lock is not named: $(cat "$T/err")"
rm "$STATE/spool/.deliver.lock"
rm -f "$STATE/lock"; mkfifo "$STATE/lock"
bounded "$PLUMB" -c "$CFG" apply
expect_rc 1 "apply with a FIFO as the state lock"
expect_err "lock' is not a regular file"
rm "$STATE/lock"; ln -s "$T/elsewhere" "$STATE/lock"
bounded "$PLUMB" -c "$CFG" apply
expect_rc 1 "apply with a symlink as the state lock"
expect_err "lock' is a symbolic link"
[ ! -e "$T/elsewhere" ] || fail "the lock symlink was followed"
rm "$STATE/lock"
note "locks that are not regular files: refused, named"

# 5. a too-large trust.json is named as such (not "File exists")
head -c 100000 /dev/zero | tr '\0' ' ' > "$STATE/trust.json"
bounded "$PLUMB" -c "$CFG" apply
expect_rc 1 "apply with a too-large trust.json"
expect_err "trust.json' is larger than"
