#!/bin/bash
# While the git remote accepts and never answers, plumbd's loop does not
# wait for it (DESIGN decision 9): drift is reverted with the usual latency,
# the watchdog is pinged on time, SIGTERM stops plumbd (and its fetch child)
# within a second; the hung fetch ends at source.timeout as a refusal.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/tls.sh"
command -v openssl >/dev/null || skip "openssl missing"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "anchored"
write_cfg ""
run_cfg apply; expect_rc 2 "first apply from the local repository"

mk_tls "$T/tls"
python3 "$TESTS_DIR/lib/git_https_server.py" --stall --port-file "$T/port" --lifetime 60 2>"$T/server.log" &
SRV=$!
wait_until 5 '[ -s "$T/port" ]' || fail "stall server did not start"
URL=https://localhost:$(cat "$T/port")/baselines.git
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 6s
interval:
  poll: 1s"

# a stand-in service manager: timestamps what arrives on NOTIFY_SOCKET
notify_listen "$T/notify.sock" "$T/notify.log" 40
N=$NL
trap 'stop_plumbd; kill $SRV $N 2>/dev/null; wait $SRV $N 2>/dev/null; cleanup' EXIT
wait_until 5 '[ -S "$T/notify.sock" ]' || fail "notify socket"

NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 start_plumbd -c "$CFG"
wait_until 5 'grep -q "READY=1" $T/notify.log' || fail "no READY=1 while the first fetch hangs"
# the fetch is in flight: plumbd has a child, and the server holds its connection
wait_until 5 '[ -n "$(pgrep -P $PD)" ]' || fail "no fetch child"
FETCHER=$(pgrep -P "$PD" | head -1)

# (a) drift is reverted with the usual latency, again and again, while the fetch hangs
worst=0
for i in 1 2 3 4 5 6; do
	t0=$(date +%s%N)
	echo "intruder $i" > "$ROOT/etc/motd"
	wait_until 3 '[ "$(cat $ROOT/etc/motd)" = anchored ]' || fail "drift $i not reverted within 3 s during a hung fetch"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$ms" -gt "$worst" ] && worst=$ms
	sleep 0.7
done
note "drift-to-revert during a hung fetch: worst of 6 = $worst ms"
[ "$worst" -le 1500 ] || fail "a revert took $worst ms during a hung fetch"
# the hung fetch was cut off at source.timeout and reported as a refusal
wait_until 6 'grep -q "timed out after 6 s" $DLOG' || fail "hung fetch not cut off at source.timeout"
grep -q "baseline: refused" "$DLOG" || fail "the timed-out fetch was not reported"
# (the next poll starts a new fetch, which hangs again)
wait_until 3 '[ -n "$(pgrep -P $PD)" ]' || fail "no new fetch after the timeout"
FETCHER=$(pgrep -P "$PD" | head -1)

# (b) the watchdog: every gap between pings (and from READY) at most 1 s
gap=$(watchdog_gap "$T/notify.log")
pings=${gap% *}; maxgap=${gap#* }
note "watchdog: $pings pings, longest gap $maxgap s (interval 0.2 s)"
[ "$pings" -ge 30 ] || fail "only $pings watchdog pings in ~10 s"
awk -v g="$maxgap" 'BEGIN { exit !(g <= 1.0) }' || fail "watchdog gap $maxgap s > 1 s while a fetch hung"

# (c) SIGTERM: stopped within 1 s, the fetch child killed with it
t0=$(date +%s%N); kill -TERM "$PD"; wait "$PD"; rc=$?; PD=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" -eq 0 ] || fail "plumbd exited $rc on SIGTERM"
note "SIGTERM during a hung fetch: stopped in $ms ms"
[ "$ms" -lt 1000 ] || fail "SIGTERM took $ms ms during a hung fetch"
[ ! -e "/proc/$FETCHER" ] || fail "the fetch child $FETCHER outlived plumbd"
