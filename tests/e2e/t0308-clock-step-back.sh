#!/bin/bash
# A wall-clock step back never stalls delivery (issue 13, item 6). The
# spool's retry state holds wall-clock times; written a day into the future
# (as after a clock that ran a day ahead and was stepped back), the next try
# is never further than the 10-minute cap from now, and plumbd keeps
# delivering and sending heartbeats at their interval.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_plumbd; stop_hub; cleanup' EXIT

mk_tls "$T/tls"
printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\n' > "$BL/baseline.yaml"
start_hub; stop_hub                       # a port with nobody behind it: the hub is down
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n  heartbeat: 2s\n' "$HUB_PORT" "$T/tls/ca.pem" > "$T/agent.yaml"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 2 "apply with the hub down"
[ "$(spool_count)" -ge 1 ] || fail "the report was not spooled"

# future STEP_BACK_LAST STEP_BACK_NEXT: retry state as a clock a day ahead left it
future() {
	python3 - "$STATE/spool/stats.json" "$1" "$2" <<'PY'
import json, sys, time
p, last, nxt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(p))
now = int(time.time())
d.update(last_attempt=now + last, next_attempt=now + nxt, failures=9, last_heartbeat=now + last)
json.dump(d, open(p, "w"))
PY
}
# next_try_ok: plumb status shows no next try further than the cap
next_try_ok() {
	run_plumb -c "$T/agent.yaml" status
	expect_rc 0 "status ($1)"
	n=$(grep -o 'next try in [0-9]* s' "$T/out" | grep -o '[0-9][0-9]*' || echo 0)
	[ "$n" -le 600 ] || fail "status says the next try is in $n s ($1); the cap is 600 s"
}
future -10 86400
next_try_ok "next attempt a day ahead"
future 86370 86400
next_try_ok "last attempt and next attempt a day ahead (clock stepped back)"
note "plumb status: next try within the cap"

# plumbd: the pending report goes out, and heartbeats keep their 2 s interval
start_hub --port "$HUB_PORT"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
wait_until 40 '[ "$(hub_count)" -ge 4 ]' || fail "only $(hub_count) report(s) delivered by plumbd after the clock step; expected the pending one and heartbeats"
python3 -c '
import json, sys
beats = [json.loads(l) for l in open(sys.argv[1]) if "\"status\": 200" in l]
beats = [b for b in beats if not b.get("events")]
sys.exit(0 if len(beats) >= 2 else 1)' "$HUBLOG" || fail "fewer than 2 heartbeats delivered after the clock step"
[ "$(json_get "$STATE/spool/stats.json" 'd["last_heartbeat"] <= __import__("time").time() + 1')" = True ] \
	|| fail "last_heartbeat still in the future"
note "plumbd delivered the backlog and heartbeats after the clock step"
