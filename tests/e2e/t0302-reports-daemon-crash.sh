#!/bin/bash
# plumbd delivers reports from a child process as they are spooled and
# retries after Retry-After; a sender killed with -9 at random points, 200
# times, never loses a report: every spooled id reaches the hub at least once
# (the hub's idempotency by id makes the duplicates harmless). plumb-send is
# the helper plumb and plumbd exec for delivery.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
. "$TESTS_DIR/lib/daemon.sh"
trap 'stop_plumbd; stop_hub; cleanup' EXIT

mk_tls "$T/tls"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
start_hub --script "$T/script"
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n' "$HUB_PORT" "$T/tls/ca.pem" > "$T/agent.yaml"

start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
wait_until 10 '[ "$(hub_count)" -ge 1 ]' || fail "no report from plumbd's first scan"
echo "503 2" > "$T/script"
echo drift > "$ROOT/etc/motd"
wait_until 10 '[ "$(hub_count 503)" -eq 1 ]' || fail "drift report not sent"
t503=$(date +%s)
wait_until 15 '[ "$(hub_count)" -ge 2 ]' || fail "not retried after Retry-After"
[ $(( $(date +%s) - t503 )) -ge 1 ] || fail "retried before Retry-After"
grep -q '"status": 200' "$HUBLOG" || fail "nothing accepted"
stop_plumbd

# 60 reports in the spool, delivered by senders killed at random points
stop_hub
for i in $(seq 1 60); do
	echo "drift $i" > "$ROOT/etc/motd"
	run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" -q apply
done
ls "$STATE/spool" | sed -n 's/^[0-9]\{20\}-[dh]-\(.*\)\.json$/\1/p' | sort > "$T/ids"
[ "$(wc -l < "$T/ids")" -ge 60 ] || fail "expected 60 spooled reports"
: > "$HUBLOG"
start_hub --delay 0.004 --port "$HUB_PORT"
ITER=${PLUMB_KILL_ITER:-200}
kills=0
for it in $(seq 1 "$ITER"); do
	# the process that actually sends: killing it is the crash under test
	"$(dirname "$PLUMB")/plumb-send" --state-dir "$STATE" -c "$T/agent.yaml" --now -q >/dev/null 2>&1 &
	p=$!
	sleep "0.0$((RANDOM % 4))$((RANDOM % 10))"
	kill -9 "$p" 2>/dev/null && kills=$((kills + 1))
	wait "$p" 2>/dev/null
	[ "$(spool_count)" -eq 0 ] && break
done
run_plumb -c "$T/agent.yaml" deliver
expect_rc 0 "final deliver"
note "$kills senders killed mid-delivery before the spool drained"
sed -n 's/.*"id": "\([^"]*\)".*"status": 200.*/\1/p' "$HUBLOG" | sort -u > "$T/got"
missing=$(comm -23 "$T/ids" "$T/got" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing spooled reports never reached the hub"
dups=$(( $(grep -c '"status": 200' "$HUBLOG") - $(wc -l < "$T/got") ))
note "every one of $(wc -l < "$T/ids") reports arrived; $dups duplicate deliveries (deduplicated by id at the hub)"
[ "$kills" -ge 5 ] || fail "only $kills kills landed: the test did not test"
