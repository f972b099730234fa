#!/bin/bash
# A full disk under state_dir: the report cannot be spooled, yet enforcement
# goes on, the failure is logged and counted, and once there is room again
# the count travels in the next delivered report.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
[ "$(id -u)" -eq 0 ] || skip "mounting a small tmpfs needs root"
mount -t tmpfs -o size=1m plumbtest "$STATE" 2>/dev/null || skip "cannot mount a tmpfs here"
trap 'stop_hub; umount "$STATE" 2>/dev/null; cleanup' EXIT
chmod 0700 "$STATE"

mk_tls "$T/tls"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
start_hub
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n' "$HUB_PORT" "$T/tls/ca.pem" > "$T/agent.yaml"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply          # creates the spool and its stats
stop_hub
dd if=/dev/zero of="$STATE/filler" bs=4k 2>/dev/null || true     # the disk is now full
echo drift > "$ROOT/etc/motd"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply --json
# reverted, but the drifted content could not be quarantined: a failure of
# evidence, in the exit code, the event and the log (issue 13, item 4)
expect_rc 6 "apply with a full state disk"
expect_content "$ROOT/etc/motd" hello
expect_err "cannot spool report"
expect_err "drifted content not kept"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); e=[e for e in r["events"] if e["resource"]=="file:/etc/motd"][0]
sys.exit(0 if e["action"]=="reverted" and "not kept" in e.get("error","") and "quarantine" not in e and r["summary"]["failed"]==1 else 1)' "$T/out" \
	|| fail "the event does not say the evidence was lost: $(cat "$T/out")"
[ "$(json_get "$STATE/spool/stats.json" 'd["write_errors"]')" -ge 1 ] || fail "the failure was not counted"
rm "$STATE/filler"
start_hub --port "$HUB_PORT"
echo drift > "$ROOT/etc/motd"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 2 "apply with room again"
[ "$(hub_count)" -ge 2 ] || fail "no delivery after space came back"
python3 -c '
import json, sys
last = [json.loads(l) for l in open(sys.argv[1])][-1]
ok = last["status"] == 200 and (last["spool"] or {}).get("write_errors", 0) >= 1
sys.exit(0 if ok else 1)' "$HUBLOG" || fail "the delivered report does not carry the spool write error: $(tail -1 "$HUBLOG")"
