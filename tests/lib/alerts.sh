# alerts.sh - the hub's alert tests: Debian's real Alertmanager on a
# loopback port with its own config and storage in $T, the python webhook
# receiver (alert_receiver.py), and reports made to drift and recover.
# Source after lib.sh, daemon.sh and hub.sh.
AM_PID= RCV_PID=
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_alertmanager: sets AM_URL. Skips when the package is missing.
start_alertmanager() {
	local am=/usr/bin/prometheus-alertmanager port
	[ -x "$am" ] || skip "prometheus-alertmanager is missing (packaging/deps.sh installs it)"
	mkdir -p "$T/am"
	cat > "$T/am/am.yml" <<'Y'
route:
  receiver: none
  group_wait: 1s
receivers:
  - name: none
Y
	port=$(free_port)
	"$am" --config.file="$T/am/am.yml" --storage.path="$T/am/data" --web.listen-address="127.0.0.1:$port" \
		--cluster.listen-address= >"$T/am/log" 2>&1 &
	AM_PID=$!
	AM_URL=http://127.0.0.1:$port
	wait_until 30 'curl -sf "$AM_URL/-/ready" >/dev/null' || fail "alertmanager did not start: $(tail -5 "$T/am/log")"
}
stop_alertmanager() { [ -n "$AM_PID" ] && { kill "$AM_PID" 2>/dev/null; wait "$AM_PID" 2>/dev/null; AM_PID=; }; return 0; }

# am_alerts: prints "alertname host resource status firing" for each alert
# Alertmanager holds whose endsAt is ahead (its API leaves resolved ones out).
am_alerts() {
	curl -sf "$AM_URL/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true" | python3 -c '
import json, sys, datetime
now = datetime.datetime.now(datetime.timezone.utc)
for a in json.load(sys.stdin):
    l = a["labels"]
    ends = datetime.datetime.fromisoformat(a["endsAt"].replace("Z", "+00:00"))
    print(l.get("alertname"), l.get("host"), l.get("resource", "-"), l.get("status"), "firing" if ends > now else "resolved")
'
}

# start_receiver LOG [SECRETFILE [PORT]]: the webhook receiver; sets RCV_URL.
start_receiver() {
	rm -f "$T/rcv.port"
	python3 "$TESTS_DIR/lib/alert_receiver.py" "$T/rcv.port" "$@" >>"$T/rcv.err" 2>&1 &
	RCV_PID=$!
	wait_until 20 '[ -s "$T/rcv.port" ]' || fail "receiver did not start: $(cat "$T/rcv.err")"
	RCV_URL=http://127.0.0.1:$(cat "$T/rcv.port")
}
stop_receiver() { [ -n "$RCV_PID" ] && { kill "$RCV_PID" 2>/dev/null; wait "$RCV_PID" 2>/dev/null; RCV_PID=; }; return 0; }

# make_report FILE HOST ACTION... : a plumb.report/v1 for HOST with one
# event per ACTION (resource:action, e.g. file:/etc/motd:detected); RUN
# (env) sets run.id. No ACTION: a clean report.
make_report() {
	python3 - "$@" <<'P'
import json, sys, uuid, datetime, os
out, host, acts = sys.argv[1], sys.argv[2], sys.argv[3:]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
evs = []
for a in acts:
    res, act = a.rsplit(":", 1)
    ev = {"resource": res, "drift": ["content"], "action": act, "expected": None, "actual": None, "at": now}
    if act in ("failed", "refused", "rolled-back", "contested"):
        ev["error"] = "test says " + act
    evs.append(ev)
d = {"schema": "plumb.report/v1", "id": str(uuid.uuid4()), "host": host, "agent_version": "0.1.0",
     "mode": "enforce", "started_at": now, "finished_at": now,
     "baseline": {"commit": "0" * 40, "signer": "ci@example.com", "fingerprint": "SHA256:" + "A" * 43, "serial": 1},
     "events": evs, "summary": {"resources": 1, "drifted": len(evs), "reverted": 0, "failed": 0}}
if os.environ.get("RUN"):
    d["run"] = {"id": os.environ["RUN"], "part": 1, "parts": 1}
json.dump(d, open(out, "w"))
P
}
# post_report URL TOKEN FILE: prints the HTTP code.
post_report() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
	--data-binary "@$3" "$1/v1/reports"; }
