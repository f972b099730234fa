#!/bin/bash
# plumb-hub's webhook and Slack receivers, routes, retries and the durable
# outbox: a webhook delivery carries X-Plumb-Signature, verified here with
# python's hmac over "<X-Plumb-Timestamp>.<body>" (a wrong key does not
# verify); a Slack receiver gets {"text": ...}; routes send only the
# statuses and hosts they name. A receiver that is down is retried with
# growing waits and gets the alert when it comes back. A hub killed
# (SIGKILL) with deliveries in its outbox delivers them after a restart.
# The webhook secret never reaches the log.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
trap 'stop_plumb_hub; stop_receiver; cleanup' EXIT
DB=$T/hub.db
A1=$("$PLUMB_HUB" --db "$DB" token add web1) || fail "token add"
A2=$("$PLUMB_HUB" --db "$DB" token add db1) || fail "token add"
SECRET=s3cret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$SECRET" > "$T/webhook.secret"; chmod 600 "$T/webhook.secret"
RPORT=$(free_port)
start_receiver "$T/rcv.log" "$T/webhook.secret" "$RPORT"
cat > "$T/alerts.yml" <<Y
receivers:
  - name: ops
    type: webhook
    url: $RCV_URL/hook
    secret_file: $T/webhook.secret
    timeout: 2s
  - name: chat
    type: slack
    url: $RCV_URL/slack
routes:
  - receiver: ops
    status: [drifting, refused]
    host: "web*"
  - receiver: chat
    status: refused
Y
start_plumb_hub "$DB" --alerts "$T/alerts.yml" -v

make_report "$T/d1.json" web1 file:/etc/motd:detected
make_report "$T/d2.json" db1 file:/etc/motd:detected
[ "$(post_report "$HUB_URL" "$A1" "$T/d1.json")" = 201 ] || fail "web1 report"
[ "$(post_report "$HUB_URL" "$A2" "$T/d2.json")" = 201 ] || fail "db1 report"
wait_until 10 'grep -q PlumbHostDrifting "$T/rcv.log" 2>/dev/null' || fail "no webhook delivery: $(tail -5 "$HUBLOG")"
sleep 1.5
check() { python3 - "$T/rcv.log" "$@" <<'P'
import json, sys, hmac, hashlib
recs = [json.loads(l) for l in open(sys.argv[1])]
what = sys.argv[2]
hook = [r for r in recs if r["path"] == "/hook"]
slack = [r for r in recs if r["path"] == "/slack"]
if what == "drift":
    assert len(hook) == 1, "want one webhook delivery (web1 only; db1 is not routed), got %d" % len(hook)
    r = hook[0]
    b = r["body"]
    assert b["version"] == "plumb.alert/v1" and b["state"] == "firing", b
    assert b["alertname"] == "PlumbHostDrifting" and b["host"] == "web1" and b["status"] == "drifting", b
    assert r["sig_ok"] is True, "signature does not verify: %s" % r["signature"]
    # independently: a wrong key or a changed body does not verify
    bad = "sha256=" + hmac.new(b"wrong", (r["timestamp"] + "." + r["raw"]).encode(), hashlib.sha256).hexdigest()
    assert bad != r["signature"]
    assert r["delivery"], "no X-Plumb-Delivery"
    assert not slack, "slack got a drifting alert its route does not take"
elif what == "refused":
    assert any(r["body"]["alertname"] == "PlumbBaselineRefused" and r["body"]["resource"] == "baseline"
               and r["sig_ok"] for r in hook), "no signed refused alert"
    assert len(slack) == 1 and "PlumbBaselineRefused" in slack[0]["body"]["text"] and \
        set(slack[0]["body"]) == {"text"}, slack
    t = slack[0]["body"]["text"]
    assert "<" not in t and ">" not in t and "&lt;!channel&gt; ping &amp; &lt;http" in t, t
elif what == "count":
    n = sum(1 for r in hook if r["body"]["alertname"] == sys.argv[3] and r["body"]["state"] == sys.argv[4])
    assert n == int(sys.argv[5]), "%d deliveries of %s %s, want %s" % (n, sys.argv[3], sys.argv[4], sys.argv[5])
P
}
check drift || fail "webhook drift delivery"
make_report "$T/r1.json" web1 file:/etc/motd:detected 'baseline:refused'
# the agent's error text, as a hostile agent could set it: a Slack mention
python3 - "$T/r1.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
for e in d["events"]:
    if e["action"] == "refused":
        e["error"] = "<!channel> ping & <http://evil.example|click>"
json.dump(d, open(sys.argv[1], "w"))
P
[ "$(post_report "$HUB_URL" "$A1" "$T/r1.json")" = 201 ] || fail "refused report"
wait_until 10 'grep -q "/slack" "$T/rcv.log"' || fail "no slack delivery"
check refused || fail "refused deliveries"

# receiver down: retried with backoff, delivered when it is back
stop_receiver
make_report "$T/c1.json" web1
[ "$(post_report "$HUB_URL" "$A1" "$T/c1.json")" = 201 ] || fail "clean report"
wait_until 20 'grep -q "alerts: ops: .*retried in 4s" "$HUBLOG"' || fail "no retries logged: $(tail -5 "$HUBLOG")"
grep -q 'alerts: ops: .*retried in 1s' "$HUBLOG" && grep -q 'alerts: ops: .*retried in 2s' "$HUBLOG" ||
	fail "the waits do not grow: $(grep 'retried in' "$HUBLOG")"
start_receiver "$T/rcv.log" "$T/webhook.secret" "$RPORT"
wait_until 30 'check count PlumbHostDrifting resolved 1 2>/dev/null' || fail "resolve not delivered after the receiver came back"

# SIGKILL with undelivered rows: delivered after the restart
stop_receiver
make_report "$T/d3.json" web1 file:/etc/passwd:failed
[ "$(post_report "$HUB_URL" "$A1" "$T/d3.json")" = 201 ] || fail "failed-repair report"
wait_until 10 '[ "$(hub_query "$DB" "SELECT COUNT(*) FROM alert_outbox WHERE alertname = '"'PlumbRepairFailed'"'")" -ge 1 ]' ||
	fail "no outbox row for the failed repair"
kill -KILL "$HUB_PID"; wait "$HUB_PID" 2>/dev/null; HUB_PID=
start_receiver "$T/rcv.log" "$T/webhook.secret" "$RPORT"
start_plumb_hub "$DB" --alerts "$T/alerts.yml"
wait_until 60 'check count PlumbRepairFailed firing 1 2>/dev/null' || fail "the outbox was not delivered after SIGKILL + restart"
wait_until 10 '[ "$(hub_query "$DB" "SELECT COUNT(*) FROM alert_outbox")" = 0 ]' || fail "the outbox did not empty"
check count PlumbHostDrifting firing 2 || fail "drift deliveries"

grep -qF "$SECRET" "$HUBLOG" && fail "the webhook secret reached the log"
note "signed webhook + slack delivered; retried 1s, 2s, ...; outbox survived SIGKILL"
exit 0
