#!/bin/bash
# Big runs reach the real hub whole (issue 16, item 5): a run drifting
# 1,000 files makes a report larger than the hub's default --max-body 4M;
# the agent splits it under report.max_bytes (1 MiB by default) into
# reports sharing a run id, and every event reaches the hub, the unrelated
# sudoers change in the same run too. A hub with a smaller limit answers
# 413 and the agent splits again until the pieces fit; an event alone too
# large loses its diff (marked diff_dropped), never itself. A revoked and
# replaced token delays a report, never loses it.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
trap 'stop_plumb_hub; cleanup' EXIT

N=1000
HOST=$(hostname)
mkdir -p "$BL/files" "$ROOT/etc/app"
python3 - "$BL" "$N" <<'P'
import sys
bl, n = sys.argv[1], int(sys.argv[2])
with open(bl + "/baseline.yaml", "w") as y:
    y.write("version: 1\nfiles:\n")
    y.write('  - path: /etc/sudoers\n    content: "root ALL=(ALL:ALL) ALL\\n"\n    mode: "0440"\n')
    for i in range(n):
        with open("%s/files/f%04d" % (bl, i), "w") as f:
            f.write("".join("setting_%04d_%02d = baseline value\n" % (i, k) for k in range(64)))
        y.write('  - path: /etc/app/f%04d.conf\n    source: files/f%04d\n    mode: "0644"\n' % (i, i))
P
start_plumb_hub "$T/hub.db"
"$PLUMB_HUB" --db "$T/hub.db" token add "$HOST" > "$T/agent.token" 2>/dev/null || fail "token add"
chmod 600 "$T/agent.token"
VTOK=$("$PLUMB_HUB" --db "$T/hub.db" token add --viewer e2e 2>/dev/null)
cfg() { printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n  heartbeat: 1h\n%s' "$HUB_URL" "$T/agent.token" "${1:-}" > "$T/agent.yaml"; }
cfg
drift_all() {
	python3 - "$ROOT" "$N" "$1" <<'P'
import sys
root, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    with open("%s/etc/app/f%04d.conf" % (root, i), "w") as f:
        f.write("".join("setting_%04d_%02d = %s intruder value\n" % (i, k, tag) for k in range(64)))
P
	echo "intruder$1 ALL=(ALL) NOPASSWD: ALL" > "$ROOT/etc/sudoers"
}
# hub_events RESOURCE_PREFIX ACTION: distinct resources with that action on the hub, paged.
hub_events() {
	python3 - "$HUB_URL" "$VTOK" "$HOST" "$1" "$2" <<'P'
import json, sys, urllib.request
url, tok, host, prefix, action = sys.argv[1:]
seen, before = {}, None
for _ in range(100):
    q = "%s/v1/events?host=%s&action=%s&limit=1000%s" % (url, host, action, "&before=%d" % before if before else "")
    d = json.load(urllib.request.urlopen(urllib.request.Request(q, headers={"Authorization": "Bearer " + tok})))
    for e in d["events"]:
        if e["resource"].startswith(prefix):
            seen[e["resource"]] = seen.get(e["resource"], 0) + 1
    before = d["next"]
    if before is None:
        break
print(len(seen), sum(seen.values()))
P
}
deliver_all() {
	for _ in 1 2 3 4 5; do [ "$(spool_count)" -eq 0 ] && break; run_plumb -c "$T/agent.yaml" deliver; done
	[ "$(spool_count)" -eq 0 ] || fail "$1: reports left in the spool: $(cat "$T/out") $(tail -3 "$T/err")"
	[ -z "$(ls "$STATE/spool/rejected/" 2>/dev/null)" ] || fail "$1: reports rejected: $(cat "$STATE"/spool/rejected/*.reason)"
}

# The first run creates every file.
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "first apply"
deliver_all "first apply"

# 0. The hub revokes the agent's token and issues a new one: the 401s in
#    between keep the report, and it arrives once the new token is in place.
tid=$("$PLUMB_HUB" --db "$T/hub.db" token list | awk -v h="$HOST" '$2 == "agent" && $3 == h && $NF == "active" {print $1}')
[ -n "$tid" ] || fail "cannot find the agent's token id"
"$PLUMB_HUB" --db "$T/hub.db" token revoke "$tid" 2>/dev/null || fail "token revoke"
echo "intruder0 ALL=(ALL) NOPASSWD: ALL" > "$ROOT/etc/sudoers"
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply with a revoked token"
[ "$(spool_count)" -eq 1 ] || fail "revoked token: the report is not kept in the spool"
[ -z "$(ls "$STATE/spool/rejected/" 2>/dev/null)" ] || fail "revoked token: the report was rejected"
run_plumb -c "$T/agent.yaml" deliver; expect_rc 2 "deliver with a revoked token"
"$PLUMB_HUB" --db "$T/hub.db" token add "$HOST" > "$T/agent.token" 2>/dev/null || fail "token add (new)"
run_plumb -c "$T/agent.yaml" deliver; expect_rc 0 "deliver with the new token"
read -r s _ <<<"$(hub_events file:/etc/sudoers reverted)"
[ "$s" -eq 1 ] || fail "the report kept through the revoked token did not reach the hub"

# 1. 1,000 drifted files + sudoers in one run, the hub at its default limit.
drift_all 1
t0=$(date +%s.%N)
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply reverting 1,000 files"
note "apply reverting $N files and sending the run took $(echo "$(date +%s.%N) - $t0" | bc) s; $(spool_count) report(s) left for plumb deliver"
size=$(stat -c %s "$STATE/last-report.json")
[ "$size" -gt $((4 << 20)) ] || fail "the run's report is only $size bytes: not over the hub's 4M"
note "the run's whole report: $size bytes"
deliver_all "1,000 drifted files"
read -r files total <<<"$(hub_events file:/etc/app/ reverted)"
# the first run's events were "missing" reverts of the same files: 2 per file
[ "$files" -eq "$N" ] && [ "$total" -eq $((2 * N)) ] || fail "the hub holds $total reverted events of $files files, expected $((2 * N)) of $N"
read -r s _ <<<"$(hub_events file:/etc/sudoers reverted)"
[ "$s" -eq 1 ] || fail "the sudoers change of the same run did not reach the hub"
run_id=$(json_get "$STATE/last-report.json" 'd["id"]')
parts=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from reports where body like ?", ("%\"run\":{\"id\":\"" + sys.argv[2] + "\"%",)).fetchone()[0])' "$T/hub.db" "$run_id")
[ "$parts" -ge 5 ] || fail "expected the run in at least 5 reports sharing its run id, found $parts"
note "the run reached the hub in $parts reports sharing run id $run_id"
# each part as stored: under the cap, and valid plumb.report/v1 on its own
python3 - "$T/hub.db" "$run_id" "$T/part" <<'P' || fail "a part is over report.max_bytes"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select body from reports where body like ?", ('%"run":{"id":"' + sys.argv[2] + '"%',)).fetchall()
for i, (body,) in enumerate(rows):
    assert len(body) <= 1 << 20, len(body)
    open("%s%d.json" % (sys.argv[3], i), "w").write(body)
P
if /usr/bin/python3 -c 'import jsonschema' 2>/dev/null; then
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$T"/part*.json ||
		fail "a part does not validate against docs/report.schema.json"
else
	note "python3-jsonschema is not installed: the parts' schema check is skipped"
fi

# 2. A hub with a smaller limit than the agent's cap: 413, split again.
stop_plumb_hub
start_plumb_hub "$T/hub.db" --max-body 200K
cfg
drift_all 2
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply reverting 1,000 files, hub at 200K"
deliver_all "hub at 200K"
run_plumb -c "$T/agent.yaml" status
grep -Eq "[1-9][0-9]* split" "$T/out" || fail "the spool stats count no split: $(cat "$T/out")"
note "hub at 200K: $(grep -Eo '[0-9]+ split' "$T/out") after 413s"
read -r files total <<<"$(hub_events file:/etc/app/ reverted)"
[ "$files" -eq "$N" ] && [ "$total" -eq $((3 * N)) ] || fail "after 413: the hub holds $total reverted events of $files files, expected $((3 * N))"
read -r s _ <<<"$(hub_events file:/etc/sudoers reverted)"
[ "$s" -eq 1 ] || fail "after 413: sudoers"
[ "$(json_get "$STATE/last-report.json" 'len(d["events"])')" -eq $((N + 1)) ] || fail "the run's own report lost events"

# 3. A hub limit (3K) below one event with its diff: the diff goes, the event stays.
stop_plumb_hub
start_plumb_hub "$T/hub.db" --max-body 3K
cfg
for k in $(seq 1 120); do echo "intruder line $k, long enough to make the diff alone larger than 3K"; done > "$ROOT/etc/app/f0007.conf"
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply with one drifted file, hub at 3K"
deliver_all "hub at 3K"
python3 - "$HUB_URL" "$VTOK" "$HOST" <<'P' || fail "the event with its diff dropped did not reach the hub"
import json, sys, urllib.request
url, tok, host = sys.argv[1:]
q = "%s/v1/events?host=%s&resource=file:/etc/app/f0007.conf&action=reverted&limit=1" % (url, host)
e = json.load(urllib.request.urlopen(urllib.request.Request(q, headers={"Authorization": "Bearer " + tok})))["events"][0]
assert e["actual"].get("diff_dropped") is True and "diff" not in e["actual"], e["actual"]
P
stop_plumb_hub
