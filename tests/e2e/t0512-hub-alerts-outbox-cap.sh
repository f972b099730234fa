#!/bin/bash
# The outbox is bounded and never drops silently: with the receiver down and
# outbox_max 10, 30 hosts' drift alerts leave at most 10 rows; each dropped
# delivery is logged and counted in plumb_hub_alerts_dropped_total
# {reason="outbox_full"}, failures by receiver in
# plumb_hub_alert_delivery_failures_total. Hostile values (a resource with
# quotes, backslashes, newlines escaped by the agent, and non-ASCII) reach
# the receiver as valid JSON, unchanged. When the receiver is back, what
# the outbox kept is delivered, newest transitions included.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
trap 'stop_plumb_hub; stop_receiver; cleanup' EXIT
DB=$T/hub.db
VIEWER=$("$PLUMB_HUB" --db "$DB" token add --viewer sre 2>/dev/null) || fail "viewer token"
for i in $(seq 1 30); do "$PLUMB_HUB" --db "$DB" token add "h$i" > "$T/tok.h$i" 2>/dev/null || fail "token add"; done
RPORT=$(free_port)
printf 'receivers:\n  - {name: ops, type: webhook, url: "http://127.0.0.1:%s/hook"}\noutbox_max: 10\n' "$RPORT" > "$T/alerts.yml"
start_plumb_hub "$DB" --alerts "$T/alerts.yml"
for i in $(seq 1 30); do
	make_report "$T/d$i.json" "h$i" 'file:/etc/we"ird\path ünï:contested'
	[ "$(post_report "$HUB_URL" "$(cat "$T/tok.h$i")" "$T/d$i.json")" = 201 ] || fail "report h$i"
done
depth=$(hub_query "$DB" "SELECT COUNT(*) FROM alert_outbox")
[ "$depth" -le 10 ] || fail "the outbox holds $depth rows, outbox_max is 10"
curl -sf -H "Authorization: Bearer $VIEWER" "$HUB_URL/metrics" > "$T/metrics" || fail "/metrics"
m() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics"; }
dropped=$(m 'plumb_hub_alerts_dropped_total{reason="outbox_full"}')
# 30 hosts x 2 alerts (drifting, contested) = 60 deliveries, 10 kept
[ "${dropped:-0}" = 50 ] || fail "dropped counted ${dropped:-none}, want 50: $(grep alert "$T/metrics")"
[ "$(grep -c 'the oldest was dropped' "$HUBLOG")" = 50 ] || fail "not every drop was logged"
wait_until 10 '[ "$(curl -sf -H "Authorization: Bearer $VIEWER" "$HUB_URL/metrics" |
	awk '\''$1 == "plumb_hub_alert_delivery_failures_total{receiver=\"ops\"}" {print $2}'\'')" -ge 1 ]' ||
	fail "failures by receiver not counted"
start_receiver "$T/rcv.log" "" "$RPORT"
[ -n "$RCV_PID" ] || fail "receiver"
wait_until 60 '[ "$(hub_query "$DB" "SELECT COUNT(*) FROM alert_outbox")" = 0 ]' || fail "the kept rows were not delivered"
python3 - "$T/rcv.log" <<'P' || fail "deliveries"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert len(recs) == 10, "want the 10 kept deliveries, got %d" % len(recs)
hosts = {r["body"]["host"] for r in recs}
assert "h30" in hosts, "the newest transitions were not kept: %s" % sorted(hosts)
res = [r["body"]["resource"] for r in recs if r["body"]["alertname"] == "PlumbResourceContested"]
assert res and all(x == 'file:/etc/we"ird\\path ünï' for x in res), res
P
note "60 deliveries, 10 kept, 50 dropped and counted; hostile resource delivered intact"
exit 0
