#!/bin/bash
# Counters that survive (issue 13, item 7): an EIO reading spool/stats.json,
# or a damaged file, never resets write_errors/dropped/rejected to zero: the
# file is kept aside as stats.json.corrupt-T, the event is logged and
# counted (stats_set_aside, carried in the next report), and nothing is
# written over the unreadable file.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_hub; cleanup' EXIT

mk_tls "$T/tls"
printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\n' > "$BL/baseline.yaml"
start_hub
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n' "$HUB_PORT" "$T/tls/ca.pem" > "$T/agent.yaml"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 2 "first apply"
counters() {
	python3 - "$STATE/spool/stats.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d.update(write_errors=5, dropped_heartbeats=2, rejected=1)
json.dump(d, open(sys.argv[1], "w"))
PY
}
# kept_aside N: N files set aside, one of them with the counters 5/2/1
kept_aside() {
	python3 - "$STATE/spool" "$1" <<'PY' || fail "the counters 5/2/1 were not kept aside ($(ls "$STATE/spool"))"
import glob, json, os, sys
files = glob.glob(os.path.join(sys.argv[1], "stats.json.corrupt-*"))
assert len(files) >= int(sys.argv[2]), files
ok = False
for f in files:
    try:
        d = json.load(open(f))
    except Exception:
        continue
    ok |= (d["write_errors"], d["dropped_heartbeats"], d["rejected"]) == (5, 2, 1)
cur = json.load(open(os.path.join(sys.argv[1], "stats.json")))
assert cur.get("stats_set_aside", 0) >= int(sys.argv[2]), cur
sys.exit(0 if ok else 1)
PY
}

# 1. EIO reading stats.json in plumb (not in the plumb-send it runs)
counters
echo drift > "$ROOT/etc/motd"
PLUMB_FAULT_PROG=plumb with_fault "read:/spool/stats.json:EIO:0:1" run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
fault_fired "read .*/spool/stats.json"
expect_rc 2 "apply with an unreadable stats.json"
expect_err "kept it as"
kept_aside 1
python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if "\"status\": 200" in l][-1]
sys.exit(0 if (last.get("spool") or {}).get("stats_set_aside", 0) >= 1 else 1)' "$HUBLOG" \
	|| fail "the delivered report does not say the stats were set aside: $(tail -1 "$HUBLOG")"
note "EIO: counters 5/2/1 kept aside, counted, reported"

# 2. a damaged stats.json (not JSON) is kept aside the same way
counters
cp "$STATE/spool/stats.json" "$T/good-stats.json"
printf '{"write_errors": 5, "dropped_heartbeats": 2, "rejected": 1, "last_err' > "$STATE/spool/stats.json"
echo drift > "$ROOT/etc/motd"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 2 "apply with a damaged stats.json"
expect_err "is damaged"
grep -lq '"last_err$' "$STATE"/spool/stats.json.corrupt-* || fail "the damaged file was not kept as it was"
[ "$(json_get "$STATE/spool/stats.json" 'd.get("stats_set_aside", 0)')" -ge 2 ] || fail "set-aside count not carried on"

# 3. EIO on read and on the rename aside: plumb writes nothing over the file
# it could not read (plumb-send, which can read it, keeps its counters)
cp "$T/good-stats.json" "$STATE/spool/stats.json"
PLUMB_FAULT_PROG=plumb with_fault "read:/spool/stats.json:EIO;renameat:stats.json.corrupt:EIO" \
	run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
fault_fired "renameat .*stats.json.corrupt"
expect_err "cannot set it aside"
[ "$(json_get "$STATE/spool/stats.json" '(d["write_errors"], d["dropped_heartbeats"], d["rejected"])')" = "(5, 2, 1)" ] \
	|| fail "stats.json was written over although it could not be read: $(cat "$STATE/spool/stats.json")"
note "EIO with no way to set it aside: left untouched"
