#!/bin/bash
# The rollback anchor is durable or the run fails (issue 13, item 1). With
# the rename of trust.json failing (ENOSPC) while serial 3 is applied, the
# run reports a failed event on 'baseline' and exits 6, its copy still holds
# serial 3 so a rollback to serial 2 stays refused, and the next run repairs
# trust.json. With both copies failing, the next run retries the anchor.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
write_cfg
commit_signed good 1 A
run_cfg apply; expect_rc 2 "apply serial 1"
commit_signed good 2 B; C2=$(head_commit)
commit_signed good 3 C; C3=$(head_commit)

# 1. trust.json's rename fails: exit 6 (changes and failures), a failed event with the error
with_fault "renameat:/trust.json:ENOSPC" run_cfg apply
fault_fired "renameat .*/trust.json"
expect_rc 6 "apply of serial 3 whose anchor cannot be written"
expect_content "$ROOT/etc/motd" C
expect_err "cannot record commit"
python3 - "$STATE/last-report.json" <<'PY' || fail "no failed event on baseline naming the error: $(cat "$STATE/last-report.json")"
import json, sys
d = json.load(open(sys.argv[1]))
ev = [e for e in d["events"] if e["resource"] == "baseline"]
sys.exit(0 if ev and ev[0]["action"] == "failed" and "No space left" in ev[0].get("error", "") and d["summary"]["failed"] >= 1 else 1)
PY
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 1 ] || fail "trust.json should still say serial 1"
[ "$(json_get "$STATE/trust.backup.json" 'd["serial"]')" = 3 ] || fail "the anchor's copy does not hold serial 3"
note "failed anchor write: exit 6, failed event, copy at serial 3"

# 2. the remote moves back to serial 2: refused, though trust.json says 1
git -C "$REPO" update-ref refs/heads/main "$C2"
run_cfg apply
expect_rc 1 "apply of a rollback to serial 2 after the failed anchor write"
expect_err "rollback: tip"
expect_content "$ROOT/etc/motd" C
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 3 ] || fail "trust.json was not repaired from its copy"
note "rollback to serial 2 refused; trust.json repaired to serial 3"

# 3. both copies fail: exit 6; the next run (no fault) records the anchor
git -C "$REPO" update-ref refs/heads/main "$C3"
commit_signed good 4 D; C4=$(head_commit)
: > "$T/fault.log"
with_fault "renameat:/trust:ENOSPC" run_cfg apply
fault_fired "renameat .*/trust.backup.json"
fault_fired "renameat .*/trust.json"
expect_rc 6 "apply of serial 4 with no anchor copy writable"
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 3 ] || fail "anchor moved without a write"
run_cfg apply
expect_rc 0 "the retry run (nothing left to change)"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C4" ] || fail "the next run did not retry the anchor"
[ "$(json_get "$STATE/trust.backup.json" 'd["commit"]')" = "$C4" ] || fail "the copy was not written on retry"
note "the next run retries and records the anchor"

# 4. plumbd --once behaves as plumb apply
commit_signed good 5 E
with_fault "renameat:/trust.json:ENOSPC" "${PLUMBD:-$(dirname "$PLUMB")/plumbd}" -c "$CFG" --once >"$T/out" 2>"$T/err" && rc=0 || rc=$?
expect_rc 6 "plumbd --once with a failing anchor write"

# 5. plumbd: the anchor is recorded inside the run, a failure is a failed
# event in its report and log, and the next poll gets it written
. "$TESTS_DIR/lib/daemon.sh"
run_cfg apply
write_cfg "interval:
  poll: 1s"
: > "$T/fault.log"
with_fault "renameat:/trust.json:ENOSPC:0:1" start_plumbd -c "$CFG"
commit_signed good 6 F; C6=$(head_commit)
wait_until 15 'grep -q "baseline: failed: cannot record commit" "$DLOG"' || fail "plumbd did not report the failed anchor write: $(tail -3 "$DLOG")"
fault_fired "renameat .*/trust.json"
expect_content "$ROOT/etc/motd" F
wait_until 15 '[ "$(json_get "$STATE/trust.json" "d[\"commit\"]")" = "$C6" ]' || fail "plumbd never got the anchor written"
note "plumbd: failed anchor write reported, then written by the next poll"
