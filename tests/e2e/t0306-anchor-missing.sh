#!/bin/bash
# No anchor without proof (issue 13, item 2): trust.json deleted while the
# state shows an earlier anchor (its copy, or the last report of an enforced
# signed commit) is a refusal naming `plumb trust reset`, never a silent
# first run that accepts a rollback. After the reset, the older tip is
# accepted deliberately. A truly fresh state_dir is still a first run.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
write_cfg
commit_signed good 1 A; C1=$(head_commit)
run_cfg apply; expect_rc 2 "first apply on a fresh state_dir (serial 1)"
commit_signed good 2 B
run_cfg apply; expect_rc 2 "apply serial 2"

# refused_missing WHAT: apply and verify refuse, naming the reset; serial 1 not applied
refused_missing() {
	echo intruder > "$ROOT/etc/motd"
	run_cfg apply
	expect_rc 1 "apply with trust.json missing ($1)"
	expect_err "plumb trust reset"
	expect_err "trust.json' is missing"
	expect_content "$ROOT/etc/motd" intruder      # nothing applied, serial 1 above all
	[ "$(json_get "$STATE/last-report.json" '[e["action"] for e in d["events"] if e["resource"]=="baseline"][0]')" = refused ] \
		|| fail "no refused event ($1)"
	run_cfg verify
	expect_rc 1 "verify with trust.json missing ($1)"
	expect_missing "$STATE/trust.json"
}

git -C "$REPO" update-ref refs/heads/main "$C1"   # the remote rolls back to serial 1
rm "$STATE/trust.json"
refused_missing "copy present"
note "missing trust.json, copy present: refused"
run_cfg apply; expect_rc 1 "a second run is refused too"

# no copy either: the last report of an enforced signed commit is the trace
rm "$STATE/trust.backup.json"
python3 - "$STATE/last-report.json" <<'PY'
import json, sys
# the report of the serial 2 apply, as it was before the refusals
d = json.load(open(sys.argv[1]))
d["mode"] = "enforce"; d["events"] = []
d["baseline"] = {"commit": "0123456789abcdef0123456789abcdef01234567", "serial": 2, "signer": "ci@example.com", "fingerprint": None}
json.dump(d, open(sys.argv[1], "w"))
PY
refused_missing "last report only"
expect_err "last-report.json' shows commit"
refused_missing "last report only, second run (the trace was kept)"
note "missing trust.json and copy, last report shows an enforced commit: refused, and stays refused"

# the operator re-anchors: the older tip is then accepted, deliberately
run_cfg trust reset
expect_rc 0 "trust reset"
run_cfg apply
expect_rc 2 "apply after trust reset"
expect_content "$ROOT/etc/motd" A
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C1" ] || fail "anchor not recorded after the reset"
note "after plumb trust reset, serial 1 is accepted"

# a damaged copy alone is a trace as well
rm "$STATE/trust.json"; echo '{not json' > "$STATE/trust.backup.json"
run_cfg apply; expect_rc 1 "apply with a damaged copy only"; expect_err "plumb trust reset"
