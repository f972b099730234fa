#!/bin/bash
# Faults on the evidence paths (issue 13, items 3 and 4), injected with the
# project's preload library: one ENOSPC on the quarantine's rename, and a
# journal that cannot be written. Enforcement goes on; the loss is in the
# event, the exit code and the log, never silent.
. "$(dirname "$0")/../lib/lib.sh"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
  - path: /etc/issue
    content: "authorized use only\n"
Y
plumb_bl apply
expect_rc 2 "first apply"

# One ENOSPC on the rename of a quarantine entry: reverted, but the event
# says the drifted content was not kept, and the run counts a failure.
echo "intruder's motd" > "$ROOT/etc/motd"
rc=0
with_fault "renameat:quarantine/:ENOSPC:0:1" "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" \
	apply --json >"$T/out" 2>"$T/err" || rc=$?
fault_fired "renameat"
expect_rc 6 "apply with the quarantine rename failing"
expect_content "$ROOT/etc/motd" hello
expect_err "drifted content not kept"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); e=r["events"][0]
sys.exit(0 if e["action"]=="reverted" and "not kept" in e["error"] and "No space" in e["error"] and "quarantine" not in e and r["summary"]["failed"]==1 else 1)' "$T/out" ||
	fail "the event does not carry the quarantine failure: $(cat "$T/out")"
[ -z "$(ls "$STATE/quarantine")" ] || fail "a quarantine entry was kept after all"
note "ENOSPC on the quarantine rename: reverted, error in the event, exit 6, logged"

# The journal cannot be written: repairs still happen, and the log says a
# crash now could lose their record.
echo drift > "$ROOT/etc/issue"
rc=0
with_fault "write:/journal:EIO" "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" \
	apply >"$T/out" 2>"$T/err" || rc=$?
fault_fired "journal"
expect_rc 2 "apply with the journal failing"
expect_content "$ROOT/etc/issue" "authorized use only"
expect_err "could lose the record of its reverts"
note "journal write EIO: reverted, logged"
exit 0
