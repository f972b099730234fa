#!/bin/bash
# What the control plane's refusals do to reports (issue 16, agent side):
# 401/403 keep the report and retry (the credentials are wrong, not the
# report), and it is delivered once a new token is configured; 413 splits
# it into smaller reports that all arrive; only 400/422 are final; plumb
# deliver's exit code says what became of the reports (0 delivered, 2 still
# waiting, 4 rejected, 6 both); plumb spool requeue sends rejected ones again.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_hub; cleanup' EXIT

mk_tls "$T/tls"
OLD=old-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
NEW=new-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$OLD" > "$T/token"; chmod 600 "$T/token"
{
	echo "version: 1"; echo "files:"
	for i in $(seq 1 8); do printf '  - path: /etc/f%d.conf\n    content: "line %d\\n"\n' "$i" "$i"; done
} > "$BL/baseline.yaml"
drift_all() { for i in $(seq 1 8); do echo "drift $1 $i" > "$ROOT/etc/f$i.conf"; done; }
rejected_count() { ls "$STATE/spool/rejected/" 2>/dev/null | grep -Ec '^[0-9]{20}-d-.*\.json$' || true; }
deliver() { run_plumb -c "$T/agent.yaml" deliver; }
: > "$T/script"
start_hub --token "$NEW" --script "$T/script"
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n  token_file: %s\n  heartbeat: 1h\n' \
	"$HUB_PORT" "$T/tls/ca.pem" "$T/token" > "$T/agent.yaml"

# 1. The hub's token was revoked and replaced: 401, the report is kept.
drift_all 1
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply with drift"
id1=$(json_get "$STATE/last-report.json" 'd["id"]')
[ "$(hub_count 401)" -ge 1 ] || fail "the hub did not answer 401 ($(cat "$HUBLOG"))"
[ "$(spool_count)" -eq 1 ] || fail "401: the report left the spool (spool $(spool_count))"
[ "$(rejected_count)" -eq 0 ] || fail "401: the report was moved to spool/rejected/"
deliver; expect_rc 2 "deliver with a refused token (the report waits)"
expect_out "1 waiting"
run_plumb -c "$T/agent.yaml" status; expect_out "credentials refused"
# 403 (wrong host or role) is the same: kept, waits.
printf '%s\n' "$NEW" > "$T/token"
echo 403 > "$T/script"
deliver; expect_rc 2 "deliver answered 403"
[ "$(hub_count 403)" -eq 1 ] && [ "$(spool_count)" -eq 1 ] || fail "403: the report was not kept"
# The new token is in place: delivered, the run's own id.
deliver; expect_rc 0 "deliver with the new token"; expect_out "1 delivered, 0 rejected, 0 waiting"
grep '"status": 200' "$HUBLOG" | grep -q "\"id\": \"$id1\"" || fail "the kept report was not delivered with the new token"
[ "$(spool_count)" -eq 0 ] || fail "spool not empty after delivery"

# 2. 413: split into smaller reports, all delivered, none rejected.
echo 413 > "$T/script"
drift_all 2
plumb_bl apply -c "$T/agent.yaml"; expect_rc 2 "apply with drift, answered 413"
id2=$(json_get "$STATE/last-report.json" 'd["id"]')
[ "$(hub_count 413)" -eq 1 ] || fail "no 413 seen"
[ "$(rejected_count)" -eq 0 ] || fail "413: the report was rejected instead of split"
[ "$(spool_count)" -eq 0 ] || deliver
[ "$(spool_count)" -eq 0 ] || fail "413: the split reports were not all delivered"
python3 - "$HUBLOG" "$id2" <<'P' || fail "413: the pieces do not carry the run's 8 events"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
parts = [r for r in rows if r["status"] == 200 and (r.get("run") or {}).get("id") == sys.argv[2]]
assert len(parts) >= 2, parts
assert sum(r["events"] for r in parts) == 8, parts
assert len({r["id"] for r in parts}) == len(parts), "pieces share an id"
assert sys.argv[2] not in {r["id"] for r in parts}, "a piece reused the refused id"
from fractions import Fraction
assert sum(Fraction(1, r["run"]["parts"]) for r in parts) == 1, [r["run"] for r in parts]
P
run_plumb -c "$T/agent.yaml" status; expect_out "1 split"

# 3. 400 is final: rejected, never retried; deliver exits 4 for it, 6 when
#    another report still waits behind a 503, 0 when all went through.
stop_hub
drift_all 3; plumb_bl apply -c "$T/agent.yaml"
drift_all 4; plumb_bl apply -c "$T/agent.yaml"
[ "$(spool_count)" -eq 2 ] || fail "expected 2 reports spooled with the hub down, found $(spool_count)"
printf '400\n503 1\n' > "$T/script"
start_hub --token "$NEW" --script "$T/script" --port "$HUB_PORT"
deliver; expect_rc 6 "deliver: one rejected, one waiting"
expect_out "0 delivered, 1 rejected, 1 waiting"
[ "$(rejected_count)" -eq 1 ] || fail "400: not in spool/rejected/"
deliver; expect_rc 0 "deliver once the hub takes it"
stop_hub
drift_all 5; plumb_bl apply -c "$T/agent.yaml"
echo 422 > "$T/script"
start_hub --token "$NEW" --script "$T/script" --port "$HUB_PORT"
deliver; expect_rc 4 "deliver: rejected (422)"
[ "$(rejected_count)" -eq 2 ] || fail "422: not in spool/rejected/"
n400=$(hub_count 400)
deliver; expect_rc 0 "deliver with nothing left"
[ "$(hub_count 400)" -eq "$n400" ] && [ "$(hub_count 422)" -eq 1 ] || fail "a rejected report was retried"
run_plumb -c "$T/agent.yaml" status; expect_out "2 in spool/rejected/"
expect_out "3 credential refusals, 1 throttled, 1 split"

# 4. plumb spool requeue: by id, then all; an unknown id is an error.
run_plumb -c "$T/agent.yaml" spool requeue 00000000-0000-4000-8000-000000000000
expect_rc 1 "requeue of an unknown id"
first=$(ls "$STATE/spool/rejected/" | grep -E '^[0-9]{20}-d-.*\.json$' | head -1)
rid=${first:23:36}
run_plumb -c "$T/agent.yaml" spool requeue "$rid"; expect_rc 0 "requeue by id"
expect_out "1 report(s) moved back"
[ "$(rejected_count)" -eq 1 ] && [ "$(spool_count)" -eq 1 ] || fail "requeue by id moved the wrong number"
[ -e "$STATE/spool/rejected/$first.reason" ] && fail "the requeued report's reason file stayed behind"
deliver; expect_rc 0 "deliver the requeued report"
grep '"status": 200' "$HUBLOG" | grep -q "\"id\": \"$rid\"" || fail "the requeued report did not reach the hub"
run_plumb -c "$T/agent.yaml" spool requeue; expect_rc 0 "requeue all"
expect_out "1 report(s) moved back"
deliver; expect_rc 0 "deliver after requeue all"
[ "$(rejected_count)" -eq 0 ] && [ "$(spool_count)" -eq 0 ] || fail "requeue all left reports behind"
run_plumb -c "$T/agent.yaml" status
grep -q "spool/rejected" "$T/out" && fail "status still names rejected reports"
stop_hub
