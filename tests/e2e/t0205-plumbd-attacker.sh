#!/bin/bash
# The real plumbd against an unprivileged local user who owns a directory
# above managed paths (issue 12): a 15 TiB sparse file does not stall other
# reverts or signal handling; planted temp names do not block repairs; a
# mkdir/rmdir storm does not turn into a storm of full scans.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/attacker.sh"
trap 'stop_plumbd; remove_user; cleanup' EXIT

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
  - path: /home/$EVIL/cache/state
    state: absent
Y
start_plumbd --baseline-dir "$BL" -v
K=$EHOME/.ssh/authorized_keys M=$ROOT/etc/motd
expect_content "$K" "ssh-ed25519 AAAAgood ops@example.com"

# 1. A sparse giant in the user's directory, then other drift: reverted while
# the giant sits there. 4 rounds: a fifth revert within 10 s would (rightly)
# back off as contested, which t0202 covers.
for round in $(seq 1 4); do
	as_evil truncate -s 15T "$K"
	echo "intruder $round" > "$M"
	wait_until 10 '[ "$(cat $M)" = hello ]' || fail "round $round: /etc/motd not reverted with a 15 TiB file in place"
	wait_until 10 '[ "$(stat -c %s $K)" -lt 100 ]' || fail "round $round: the sparse file was not replaced"
done
note "4 rounds: 15 TiB sparse file replaced, other drift reverted each time"
stop_plumbd
start_plumbd --baseline-dir "$BL" -v   # a fresh contest count

# 2. Planted temp-looking names (files, directories, symlinks) in the user's
# directory do not block content repairs.
as_evil python3 - "$EHOME/.ssh" <<'P'
import os, sys, random
random.seed(7)
for i in range(1000):
    n = os.path.join(sys.argv[1], ".plumb-%016x.tmp" % random.getrandbits(64))
    [os.mkdir, lambda p: open(p, "w").close(), lambda p: os.symlink("/etc/shadow", p)][i % 3](n)
P
for round in $(seq 1 4); do
	as_evil sh -c "echo 'ssh-ed25519 AAAAevil mallory' > '$K'"
	wait_until 10 '[ "$(cat $K)" = "ssh-ed25519 AAAAgood ops@example.com" ]' || fail "round $round: key not reverted among planted temps"
done
note "4 reverts among 1,000 planted temp names"

# 7. Storms: 2,000 mkdir/rmdir of a directory nothing is managed under, then
# 2,000 of one that lies above a managed path. The first asks for no full
# scan at all; the second for at most one per 5 s (plus the one in flight).
scans() { grep -c "plumbd: debug: full run" "$DLOG"; }
before=$(scans)
as_evil sh -c "cd '$EHOME' && i=0; while [ \$i -lt 2000 ]; do mkdir x; rmdir x; i=\$((i+1)); done"
sleep 1
irrelevant=$(( $(scans) - before ))
[ "$irrelevant" -eq 0 ] || fail "an unrelated mkdir/rmdir storm caused $irrelevant full scans"
before=$(scans); start=$(date +%s)
as_evil sh -c "cd '$EHOME' && i=0; while [ \$i -lt 2000 ]; do mkdir cache; rmdir cache; i=\$((i+1)); done"
secs=$(( $(date +%s) - start + 1 ))
wait_until 8 '[ "$(scans)" -gt "$before" ]' || fail "a storm above a managed path caused no full scan at all"
relevant=$(( $(scans) - before ))
[ "$relevant" -le $(( secs / 5 + 2 )) ] || fail "$relevant full scans in ${secs}s of storm"
note "storms: 0 full scans for an unrelated directory, $relevant for one above a managed path (${secs}s)"
echo intruder > "$M"
wait_until 10 '[ "$(cat $M)" = hello ]' || fail "drift not reverted after the storm"

# Still responsive to signals with the sparse file back in place.
as_evil truncate -s 15T "$K"
kill -TERM "$PD"
for i in $(seq 1 100); do kill -0 "$PD" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PD" 2>/dev/null && fail "plumbd did not stop on SIGTERM within 10 s"
wait "$PD"; rc=$?; PD=
[ "$rc" -eq 0 ] || fail "plumbd exited $rc"
exit 0
