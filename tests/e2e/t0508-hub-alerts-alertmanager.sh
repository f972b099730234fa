#!/bin/bash
# plumb-hub's alerts reach Debian's real Alertmanager (v2 API): a report
# with unresolved drift fires PlumbHostDrifting (labels alertname, host,
# status); a contested resource fires PlumbResourceContested with its
# resource label; a clean report of a later run resolves both (endsAt in
# the past at Alertmanager). A second drifting report does not open a
# second alert (one per host + alertname + resource). A host that goes
# quiet fires PlumbHostSilent, resolved when it reports again. A firing
# alert is repeated every repeat_interval. /metrics
# shows the outbox empty and the deliveries counted.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
trap 'stop_plumb_hub; stop_alertmanager; cleanup' EXIT
start_alertmanager
DB=$T/hub.db
AGENT=$("$PLUMB_HUB" --db "$DB" token add web1) || fail "token add"
VIEWER=$("$PLUMB_HUB" --db "$DB" token add --viewer sre) || fail "token add --viewer"
cat > "$T/alerts.yml" <<Y
receivers:
  - name: am
    type: alertmanager
    url: $AM_URL
repeat_interval: 10s
Y
start_plumb_hub "$DB" --alerts "$T/alerts.yml" --heartbeat 3s

RUN=11111111-1111-4111-8111-111111111111 make_report "$T/drift.json" web1 file:/etc/motd:detected file:/etc/hosts:contested
[ "$(post_report "$HUB_URL" "$AGENT" "$T/drift.json")" = 201 ] || fail "drift report not stored"
wait_until 10 'am_alerts | grep -q "^PlumbHostDrifting web1 - drifting firing$"' ||
	fail "PlumbHostDrifting not firing at Alertmanager: $(am_alerts); $(tail -5 "$HUBLOG")"
wait_until 10 'am_alerts | grep -q "^PlumbResourceContested web1 file:/etc/hosts drifting firing$"' ||
	fail "PlumbResourceContested not at Alertmanager: $(am_alerts)"
# the same drift again, another run: still one alert each
RUN=22222222-2222-4222-8222-222222222222 make_report "$T/drift2.json" web1 file:/etc/motd:detected file:/etc/hosts:contested
[ "$(post_report "$HUB_URL" "$AGENT" "$T/drift2.json")" = 201 ] || fail "second drift report not stored"
n=$(hub_query "$DB" "SELECT COUNT(*) FROM alert_state WHERE host = 'web1'")
[ "$n" = 2 ] || fail "$n open alerts for web1 after a repeated drift, want 2"
grep -c "alert: PlumbHostDrifting firing for web1" "$HUBLOG" | grep -qx 1 || fail "the repeated drift fired again"

# fixed: a clean report of a later run resolves both. Alertmanager's API
# lists only alerts whose endsAt is still ahead, and its resolve_timeout
# is 5m: gone within seconds means the hub sent endsAt.
RUN=33333333-3333-4333-8333-333333333333 make_report "$T/clean.json" web1
[ "$(post_report "$HUB_URL" "$AGENT" "$T/clean.json")" = 201 ] || fail "clean report not stored"
wait_until 10 '! am_alerts | grep -q "^PlumbHostDrifting web1 "' ||
	fail "PlumbHostDrifting not resolved at Alertmanager: $(am_alerts)"
wait_until 10 '! am_alerts | grep -q "^PlumbResourceContested web1 "' ||
	fail "PlumbResourceContested not resolved: $(am_alerts)"

# silent: no report for 2 x heartbeat (6s); then a report resolves it
wait_until 20 'am_alerts | grep -q "^PlumbHostSilent web1 - silent firing$"' ||
	fail "PlumbHostSilent not firing: $(am_alerts)"
make_report "$T/back.json" web1
[ "$(post_report "$HUB_URL" "$AGENT" "$T/back.json")" = 201 ] || fail "report after silence not stored"
wait_until 10 '! am_alerts | grep -q "^PlumbHostSilent web1 "' ||
	fail "PlumbHostSilent not resolved: $(am_alerts)"

# repeats: a firing alert is sent again every repeat_interval (10s here),
# so Alertmanager's updatedAt for it moves on while it stays firing
upd() { curl -sf "$AM_URL/api/v2/alerts?filter=alertname%3D%22PlumbHostDrifting%22" |
	python3 -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["updatedAt"] if a else "")'; }
RUN=44444444-4444-4444-8444-444444444444 make_report "$T/drift3.json" web1 file:/etc/motd:detected
[ "$(post_report "$HUB_URL" "$AGENT" "$T/drift3.json")" = 201 ] || fail "third drift report not stored"
wait_until 10 '[ -n "$(upd)" ]' || fail "PlumbHostDrifting not firing again"
u1=$(upd)
wait_until 25 '[ "$(upd)" != "$u1" ]' || fail "the firing alert was not repeated within 25s (updatedAt $u1)"

curl -sf -H "Authorization: Bearer $VIEWER" "$HUB_URL/metrics" > "$T/metrics" || fail "GET /metrics"
promtool check metrics < "$T/metrics" 2>"$T/promtool" || fail "promtool check metrics: $(cat "$T/promtool")"
m() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics"; }
wait_until 10 '[ "$(hub_query "$DB" "SELECT COUNT(*) FROM alert_outbox")" = 0 ]' || fail "the outbox did not empty"
[ "$(m 'plumb_hub_alerts_sent_total{receiver="am"}')" -ge 8 ] || fail "deliveries not counted: $(grep alert "$T/metrics")"
[ -n "$(m plumb_hub_alert_outbox_depth)" ] || fail "no outbox depth series"
note "drift, contested, silent fired and resolved at Alertmanager $(prometheus-alertmanager --version 2>&1 | head -1 | awk '{print $3}')"
exit 0
