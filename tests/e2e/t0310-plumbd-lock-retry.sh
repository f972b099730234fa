#!/bin/bash
# plumbd retries when another process holds the state lock (issue 13,
# item 9): drift made while the lock is held is reverted once it is free,
# long before the next full scan (30 min here), and the holder's pid is in
# the log and in plumb.prom meanwhile. A live-state revert (its child takes
# no lock) made while the lock is held is reported once it is free, not
# dropped.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
trap 'kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; stop_plumbd; cleanup' EXIT
HOLDER=

P=$T/proc/sys
mkdir -p "$P/kernel"
printf '2\n' > "$P/kernel/kptr_restrict"
export PLUMB_SYSCTL_DIR=$P
printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\nsysctl:\n  - key: kernel.kptr_restrict\n    value: "2"\n' > "$BL/baseline.yaml"
# reports go to the spool (the control plane is down), so each stays to be read
printf 'interval:\n  full_scan: 30m\n  live: 1s\nreport:\n  url: https://127.0.0.1:1/v1/reports\n' > "$T/agent.yaml"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
expect_content "$ROOT/etc/motd" hello

# another process takes the state lock and keeps it (at most 60 s)
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(60)' \
	"$STATE/lock" >/dev/null 2>&1 &
HOLDER=$!
wait_until 5 'grep -q "FLOCK.* $HOLDER " /proc/locks' || fail "the test could not take the lock"
echo drift > "$ROOT/etc/motd"
wait_until 20 'grep -q "another plumb run (pid $HOLDER) holds" "$DLOG"' || fail "plumbd did not log the lock holder: $(tail -3 "$DLOG")"
wait_until 10 'grep -q "^plumb_state_lock_holder_pid $HOLDER$" "$STATE/plumb.prom"' \
	|| fail "plumb.prom does not show the holder's pid: $(grep lock "$STATE/plumb.prom")"
grep -q '^plumb_state_lock_failures_total [1-9]' "$STATE/plumb.prom" || fail "lock failures not counted in plumb.prom"
expect_content "$ROOT/etc/motd" drift            # nothing enforced while the lock is held
note "lock held by pid $HOLDER: logged and in plumb.prom"
# live state is repaired meanwhile (its child takes no lock); its report waits
printf '0\n' > "$P/kernel/kptr_restrict"
wait_until 10 '[ "$(cat "$P/kernel/kptr_restrict")" = 2 ]' || fail "the live-state child did not revert while the lock was held"
wait_until 10 'grep -q "this run.s report waits for the lock" "$DLOG"' || fail "the live run's report was not kept: $(tail -3 "$DLOG")"
! grep -qs "kptr_restrict.*reverted" "$STATE"/spool/*.json || fail "test premise: reported before the lock was free"

# the holder goes away: the drift is reverted by the retry, not the full scan
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=
wait_until 90 '[ "$(cat "$ROOT/etc/motd")" = hello ]' || fail "drift not reverted after the lock was freed: $(tail -3 "$DLOG")"
wait_until 10 'grep -q "^plumb_state_lock_holder_pid 0$" "$STATE/plumb.prom"' || fail "plumb.prom still shows a holder"
note "reverted by the retry once the lock was free"
wait_until 10 'grep -qs "kptr_restrict.*reverted" "$STATE"/spool/*.json' ||
	fail "the live revert made while the lock was held was never reported: $(ls "$STATE/spool")"
note "the live revert's report, kept while the lock was held, went out once it was free"

# the lock is held when plumbd starts: the first baseline fetch is retried soon,
# not left to the next poll (5 min)
stop_plumbd
echo drift > "$ROOT/etc/motd"
python3 -c 'import fcntl, sys, time; f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(90)' \
	"$STATE/lock" >/dev/null 2>&1 &
HOLDER=$!
wait_until 5 'grep -q "FLOCK.* $HOLDER " /proc/locks' || fail "the test could not take the lock"
: > "$DLOG"
"$PLUMBD" --root "$ROOT" --state-dir "$STATE" -c "$T/agent.yaml" --baseline-dir "$BL" >>"$DLOG" 2>&1 &
PD=$!
wait_until 45 'grep -q "fetching the baseline again" "$DLOG"' || fail "plumbd did not plan a retry of its first fetch: $(tail -3 "$DLOG")"
expect_content "$ROOT/etc/motd" drift
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=
wait_until 30 '[ "$(cat "$ROOT/etc/motd")" = hello ]' || fail "the first baseline was not retried after the lock was freed: $(tail -3 "$DLOG")"
note "first fetch put off by the lock, retried once it was free"
