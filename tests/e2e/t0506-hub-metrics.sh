#!/bin/bash
# plumb-hub's /metrics and access log (issue 19): a viewer token reads the
# Prometheus exposition (promtool check metrics passes); hosts are counted by
# status; reports by outcome (stored, duplicate, rejected); every answer by
# code; accepted reports in the ingest histogram; agent tokens and no token
# are refused. Every request leaves one access line with the caller's name
# and never a token; refusals are warnings.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
command -v promtool >/dev/null || skip "promtool (package prometheus) is missing"
trap 'stop_plumb_hub; cleanup' EXIT
DB=$T/hub.db
AGENT=$("$PLUMB_HUB" --db "$DB" token add web1) || fail "token add"
VIEWER=$("$PLUMB_HUB" --db "$DB" token add --viewer sre) || fail "token add --viewer"
start_plumb_hub "$DB"

post() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
	--data-binary "@$2" "$HUB_URL/v1/reports"; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
python3 - "$T" "$now" <<'P'
import json, sys, uuid
t, now = sys.argv[1], sys.argv[2]
def rep(host, events):
    return {"schema": "plumb.report/v1", "id": str(uuid.uuid4()), "host": host, "agent_version": "0.1.0",
            "mode": "enforce", "started_at": now, "finished_at": now,
            "baseline": {"commit": "0" * 40, "signer": "ci@example.com", "fingerprint": "SHA256:" + "A" * 43, "serial": 1},
            "events": events, "summary": {"resources": 1, "drifted": len(events), "reverted": 0, "failed": 0}}
ev = {"resource": "file:/etc/motd", "drift": ["content"], "action": "detected", "expected": None, "actual": None, "at": now}
json.dump(rep("web1", [ev]), open(t + "/drift.json", "w"))
json.dump(rep("web2", []), open(t + "/other-host.json", "w"))
open(t + "/bad.json", "w").write("{not json")
P
[ "$(post "$AGENT" "$T/drift.json")" = 201 ] || fail "report not stored"
[ "$(post "$AGENT" "$T/drift.json")" = 200 ] || fail "duplicate not answered 200"
[ "$(post "$AGENT" "$T/bad.json")" = 400 ] || fail "bad JSON not answered 400"
[ "$(post "$AGENT" "$T/other-host.json")" = 403 ] || fail "a report for another host was not refused"
[ "$(post not-a-token "$T/drift.json")" = 401 ] || fail "an unknown token was not refused"

get_metrics() { curl -s -o "$T/metrics" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$HUB_URL/metrics"; }
[ "$(get_metrics)" = 401 ] || fail "/metrics without a token"
[ "$(get_metrics "$AGENT")" = 403 ] || fail "/metrics with an agent token"
[ "$(get_metrics "$VIEWER")" = 200 ] || fail "/metrics with a viewer token: $(cat "$T/metrics")"
promtool check metrics < "$T/metrics" 2>"$T/promtool" || fail "promtool check metrics: $(cat "$T/promtool")"
m() { awk -v k="$1" '$1 == k {print $2}' "$T/metrics"; }
[ "$(m 'plumb_hub_hosts{status="drifting"}')" = 1 ] || fail "hosts by status: $(grep plumb_hub_hosts "$T/metrics")"
[ "$(m 'plumb_hub_reports_total{result="stored"}')" = 1 ] || fail "stored: $(grep reports_total "$T/metrics")"
[ "$(m 'plumb_hub_reports_total{result="duplicate"}')" = 1 ] || fail "duplicate count"
[ "$(m 'plumb_hub_reports_total{result="rejected"}')" = 2 ] || fail "rejected count (bad JSON, other host)"
[ "$(m 'plumb_hub_http_responses_total{code="401"}')" -ge 2 ] || fail "401 answers not counted"
[ "$(m 'plumb_hub_http_responses_total{code="201"}')" = 1 ] || fail "201 answers not counted"
[ "$(m plumb_hub_ingest_seconds_count)" = 2 ] || fail "ingest histogram count: $(grep ingest_seconds "$T/metrics")"
# one report stored, one group commit (a batch of only a duplicate commits nothing)
[ "$(m plumb_hub_ingest_commits_total)" = 1 ] || fail "commits: $(grep ingest_commits "$T/metrics")"
# the access log: a line per request, who asked, never a token
n=$(grep -c 'access: 127.0.0.1 ' "$HUBLOG")
[ "$n" -ge 8 ] || fail "only $n access lines for 8 requests: $(tail -5 "$HUBLOG")"
grep -q 'access: 127.0.0.1 POST /v1/reports 201 host:web1' "$HUBLOG" || fail "no access line naming the host"
grep -q 'warning: access: 127.0.0.1 POST /v1/reports 401 -' "$HUBLOG" || fail "a refused token is not a warning"
grep -q 'access: 127.0.0.1 GET /metrics 200 viewer:sre' "$HUBLOG" || fail "no access line naming the viewer"
grep -qF "$AGENT" "$HUBLOG" && fail "a token reached the log"
grep -qF "$VIEWER" "$HUBLOG" && fail "a viewer token reached the log"
note "metrics pass promtool; $n access lines, no token in the log"
exit 0
