#!/bin/bash
# plumbd killed with SIGKILL while it reverts (issue 13, item 3): 40 rounds
# of drift into 6 files, a kill at a random moment, a restart. Every file the
# killed daemon had already reverted must be named by a spooled report once
# the restarted daemon has run: the journal carries what the kill cut off.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
NF=6
{ echo 'version: 1'; echo 'files:'
  for i in $(seq 1 $NF); do printf '  - path: /etc/f%d\n    content: "good %d\\n"\n' "$i" "$i"; done; } > "$BL/baseline.yaml"
printf 'report:\n  url: http://127.0.0.1:9/v1/reports\n' > "$T/agent.yaml"

reported() {
	python3 - "$STATE/spool" "$1" <<'P'
import json, os, sys
d, res = sys.argv[1], sys.argv[2]
for n in os.listdir(d):
    if n.endswith(".json") and n != "stats.json":
        try:
            r = json.load(open(os.path.join(d, n)))
        except (OSError, ValueError):
            continue
        if any(e["resource"] == res and e["action"] in ("reverted", "failed") for e in r.get("events", [])):
            sys.exit(0)
sys.exit(1)
P
}

start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
cut=0 total=0
RANDOM=13
for round in $(seq 1 40); do
	rm -f "$STATE"/spool/*.json
	for i in $(seq 1 $NF); do printf 'evil %d %d\n' "$round" "$i" > "$ROOT/etc/f$i"; done
	sleep "0.0$((RANDOM % 10))"
	kill -KILL "$PD"; wait "$PD" 2>/dev/null; PD=
	done_by_killed=""
	for i in $(seq 1 $NF); do [ "$(cat "$ROOT/etc/f$i")" = "good $i" ] && done_by_killed="$done_by_killed $i"; done
	start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
	for i in $(seq 1 $NF); do
		wait_until 10 "[ \"\$(cat $ROOT/etc/f$i)\" = 'good $i' ]" || fail "round $round: /etc/f$i not reverted after the restart"
	done
	for i in $done_by_killed; do
		wait_until 5 "reported file:/etc/f$i" || fail "round $round: the killed plumbd's revert of /etc/f$i was never reported"
		total=$((total + 1))
	done
done
note "40 kill -9s of plumbd: $total reverts made by a killed daemon, all reported"
exit 0
