#!/bin/bash
# Every kind of report plumb writes validates against docs/report.schema.json:
# drift detected and reverted (with diff and quarantine), failures, a refused
# baseline, a signed baseline, a contested resource from plumbd, a heartbeat;
# and the schema does reject a broken report.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || skip "python3-jsonschema is not installed"
SCHEMA=$TESTS_DIR/../docs/report.schema.json
V() { /usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$SCHEMA" "$@"; }
n=0
keep() { cp "$STATE/last-report.json" "$T/r$n.json"; n=$((n + 1)); }

mkdir -p "$ROOT/etc/d" "$BL/files"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
expires: 2001-01-01T00:00:00Z
files:
  - path: /etc/motd
    content: "hello\n"
    mode: "0644"
  - path: /etc/shadow
    mode: "0640"
    group: shadow
  - path: /etc/d
    content: "a file where a directory is\n"
  - path: /etc/gone
    state: absent
  - path: /etc/lt
    type: symlink
    target: /x
Y
echo intruder > "$ROOT/etc/motd"; echo s > "$ROOT/etc/shadow"; echo g > "$ROOT/etc/gone"
run_plumb --baseline-dir "$BL" check; keep
run_plumb --baseline-dir "$BL" apply; keep
run_plumb --baseline-dir "$BL" apply; keep
printf 'version: 7\n' > "$BL/baseline.yaml"
run_plumb --baseline-dir "$BL" apply; keep          # refused
mk_key good ed25519; allow ci@example.com good; mk_repo; commit_signed good 1 signed
write_cfg; run_cfg apply; keep                       # signed
printf 'version: 1\nfiles:\n  - path: /etc/c\n    content: "x\\n"\n' > "$BL/baseline.yaml"
# Reports spooled for a control plane that is not there: each run's report
# stays, so the contested one is found even when later runs overwrite
# last-report.json (which made this check flaky under load).
printf 'report:\n  url: http://127.0.0.1:9/v1/reports\n' > "$T/spool.yaml"
start_plumbd -c "$T/spool.yaml" --baseline-dir "$BL"
for i in $(seq 1 40); do echo other > "$ROOT/etc/c"; sleep 0.03; done
wait_until 10 'grep -lq "\"contested\"" $STATE/spool/*.json 2>/dev/null' || fail "no contested report"
cp "$(grep -l '"contested"' "$STATE"/spool/*.json | head -1)" "$T/r$n.json"; n=$((n + 1))
stop_plumbd
V "$T"/r*.json || fail "a report does not match the schema"
note "$n reports validated"
grep -q '"diff"' "$T/r1.json" || fail "no diff in the reverted report"
grep -q '"stale":true' "$T/r0.json" || fail "no stale flag"
# the schema is not vacuous
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["id"]; json.dump(d, open(sys.argv[2],"w"))' "$T/r1.json" "$T/bad1.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["events"][0]["action"]="ignored"; json.dump(d, open(sys.argv[2],"w"))' "$T/r1.json" "$T/bad2.json"
V "$T/bad1.json" >/dev/null && fail "the schema accepts a report without an id"
V "$T/bad2.json" >/dev/null && fail "the schema accepts an unknown action"
true
