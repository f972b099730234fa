#!/bin/bash
# Temp files a killed writer left in spool/ (issue 13, item 10) are swept
# when plumb starts a run, as they are in managed directories; a report in
# the spool and the stats are never touched by the sweep.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_plumbd; stop_hub; cleanup' EXIT

mk_tls "$T/tls"
printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\n' > "$BL/baseline.yaml"
start_hub; stop_hub                      # the hub is down: reports stay spooled
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n' "$HUB_PORT" "$T/tls/ca.pem" > "$T/agent.yaml"
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 2 "first apply"
n=$(spool_count)
[ "$n" -ge 1 ] || fail "no report spooled"
mkdir -p "$STATE/spool/rejected"
for d in "$STATE/spool" "$STATE/spool/rejected"; do
	echo partial > "$d/.plumb-0123456789abcdef.tmp"
done
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply
expect_rc 0 "apply"
expect_missing "$STATE/spool/.plumb-0123456789abcdef.tmp"
expect_missing "$STATE/spool/rejected/.plumb-0123456789abcdef.tmp"
[ "$(spool_count)" -ge "$n" ] || fail "the sweep removed a spooled report"
[ -f "$STATE/spool/stats.json" ] || fail "the sweep removed stats.json"
note "plumb apply swept spool/ and spool/rejected/"

echo partial > "$STATE/spool/.plumb-fedcba9876543210.tmp"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
expect_missing "$STATE/spool/.plumb-fedcba9876543210.tmp"
note "plumbd swept spool/ at start"
