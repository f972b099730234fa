#!/bin/bash
# Two plumb-hubs on one PostgreSQL serve one fleet: 20 hosts report drift
# and then a clean run, each report to either hub, many at once. Both hubs
# then show the same fleet (GET /v1/hosts), and each alert (firing, then
# resolved, per host) reaches the webhook exactly once: the outbox rows are
# claimed by a lease, so the two senders never deliver one row twice. The
# same alerts reach a real Alertmanager (with a repeat round) and resolve.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
H2_PID=
stop2() { [ -n "$H2_PID" ] && { kill -TERM "$H2_PID" 2>/dev/null; wait "$H2_PID" 2>/dev/null; H2_PID=; }; return 0; }
trap 'stop_plumb_hub; stop2; stop_receiver; stop_alertmanager; pg_stop; cleanup' EXIT
pg_start || skip "PostgreSQL cannot run here: $PG_WHY"
N=20
for i in $(seq 1 $N); do
	"$PLUMB_HUB" --db "$PG_URI" token add "web$i" > "$T/tok.web$i" 2>/dev/null || fail "token add web$i"
done
VIEWER=$("$PLUMB_HUB" --db "$PG_URI" token add --viewer sre 2>/dev/null) || fail "viewer token"
# each answer held back 0.3 s: deliveries are in flight while the other
# hub's sender polls, so a row claimed twice would be sent twice
ALERT_RCV_DELAY=0.3 start_receiver "$T/rcv.log"
start_alertmanager
printf 'receivers:\n  - {name: ops, type: webhook, url: "%s/hook"}\n  - {name: am, type: alertmanager, url: "%s"}\nrepeat_interval: 10s\n' \
	"$RCV_URL" "$AM_URL" > "$T/alerts.yml"
start_plumb_hub "$PG_URI" --alerts "$T/alerts.yml"
URL1=$HUB_URL
rm -f "$T/hub2.port"
"$PLUMB_HUB" --db "$PG_URI" --listen 127.0.0.1:0 --port-file "$T/hub2.port" --alerts "$T/alerts.yml" >>"$T/hub2.log" 2>&1 &
H2_PID=$!
wait_until 20 '[ -s "$T/hub2.port" ]' || fail "second hub did not start: $(tail -5 "$T/hub2.log")"
URL2=http://127.0.0.1:$(cat "$T/hub2.port")

phase() { # KIND: drift or clean; host i goes to hub 1 or 2 by parity, 8 at once
	for i in $(seq 1 $N); do
		if [ "$1" = drift ]; then make_report "$T/$1.$i.json" "web$i" file:/etc/motd:detected
		else make_report "$T/$1.$i.json" "web$i"; fi
		echo "$i"
	done | xargs -P 8 -I{} sh -c 'u=$1; [ $(( $2 % 2 )) = 0 ] && u=$3
		curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $(cat "$4/tok.web$2")" \
		-H "Content-Type: application/json" --data-binary "@$4/$5.$2.json" "$u/v1/reports"' _ "$URL1" {} "$URL2" "$T" "$1" \
		> "$T/$1.codes"
	[ "$(grep -c '^201$' "$T/$1.codes")" = $N ] || fail "$1: not every report stored: $(sort "$T/$1.codes" | uniq -c)"
}
count() { python3 -c '
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
print(sum(1 for r in recs if r["body"]["state"] == sys.argv[2]))' "$T/rcv.log" "$1"; }
phase drift
wait_until 60 '[ "$(count firing)" -ge $N ]' || fail "only $(count firing) of $N firing alerts delivered"
# Each hub caches its fleet counts (refreshed every 5 s, and at once when
# it stores a report itself): the two views agree within one refresh.
summaries() {
	s1=$(curl -sf -H "Authorization: Bearer $VIEWER" "$URL1/v1/hosts" | json_get /dev/stdin 'd["summary"]')
	s2=$(curl -sf -H "Authorization: Bearer $VIEWER" "$URL2/v1/hosts" | json_get /dev/stdin 'd["summary"]')
}
wait_until 15 'summaries; [ "$s1" = "$s2" ] && echo "$s1" | grep -q "'"'drifting': $N"'"' ||
	fail "the hubs disagree or not $N drifting after one refresh: $s1 / $s2"
wait_until 30 '[ "$(am_alerts | grep -c "^PlumbHostDrifting web[0-9]* - drifting firing$")" = $N ]' ||
	fail "Alertmanager does not hold $N drifting alerts: $(am_alerts | head -3)"
# a repeat round on PostgreSQL (claimed by UPDATE ... RETURNING, once for both hubs)
sleep 11
phase clean
wait_until 60 '[ "$(count resolved)" -ge $N ]' || fail "only $(count resolved) of $N resolves delivered"
sleep 3 # let any double delivery arrive before counting
python3 - "$T/rcv.log" "$N" <<'P' || fail "deliveries are not exactly once"
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
c = collections.Counter((r["body"]["alertname"], r["body"]["host"], r["body"]["state"]) for r in recs)
ids = collections.Counter(r["delivery"] for r in recs)
dup = {k: v for k, v in c.items() if v != 1}
assert not dup, "delivered more than once: %s" % dup
assert len(c) == 2 * n, "want %d distinct deliveries, got %d" % (2 * n, len(c))
assert all(v == 1 for v in ids.values()), "a delivery id seen twice"
P
wait_until 20 '[ -z "$(am_alerts)" ]' || fail "Alertmanager still holds alerts: $(am_alerts | head -3)"
grep -q "alerts: timer:\|alerts: outbox:" "$HUBLOG" "$T/hub2.log" && fail "alert SQL failed on PostgreSQL: $(grep -h "alerts: " "$HUBLOG" "$T/hub2.log" | head -3)"
wait_until 10 '[ "$(pg_sql "SELECT COUNT(*) FROM alert_outbox")" = 0 ]' || fail "the outbox is not empty"
[ "$(pg_sql "SELECT COUNT(*) FROM alert_outbox")" = 0 ] || fail "the outbox is not empty"
[ "$(pg_sql "SELECT COUNT(*) FROM alert_state")" = 0 ] || fail "alerts still open after the clean run"
wait_until 15 'summaries; [ "$s1" = "$s2" ] && echo "$s1" | grep -q "'"'compliant': $N"'"' ||
	fail "after the clean run, within one refresh: $s1 / $s2"
sent() { curl -sf -H "Authorization: Bearer $VIEWER" "$1/metrics" | awk '$1 == "plumb_hub_alerts_sent_total{receiver=\"ops\"}" {print $2}'; }
a=$(sent "$URL1"); b=$(sent "$URL2")
[ $(( ${a:-0} + ${b:-0} )) = $(( 2 * N )) ] || fail "the hubs count ${a:-0} + ${b:-0} deliveries, want $(( 2 * N ))"
note "$(( 2 * N )) deliveries ($a by hub 1, $b by hub 2), each once; fleets agree"
stop2
exit 0
