#!/bin/bash
# plumbd's metrics say what an alert needs (issue 19's agent side): the
# textfile passes `promtool check metrics`; plumb_unresolved counts what is
# drifted now, not what a catch-up reverted; mode, spool depth and the
# oldest report's time are there; and the shipped alert rules pass
# promtool's checks and unit tests.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
command -v promtool >/dev/null || skip "promtool (package prometheus) is missing"
REPO=$(cd "$TESTS_DIR/.." && pwd)
promtool check rules "$REPO/packaging/prometheus/plumb.rules.yml" >/dev/null || fail "the alert rules do not pass promtool check rules"
(cd "$REPO/tests/prometheus" && promtool test rules plumb.rules.test.yml >/dev/null) || fail "the alert rules fail their unit tests"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
  - path: /etc/issue
    content: "authorized\n"
    enforce: warn
Y
printf 'report:\n  url: http://127.0.0.1:9/v1/reports\n' > "$T/agent.yaml"
echo drift > "$ROOT/etc/motd"          # reverted by the start-up catch-up
echo authorized > "$ROOT/etc/issue"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
P=$STATE/plumb.prom
metric() { awk -v m="$1" '$1 == m {print $2}' "$P"; }
promtool check metrics < "$P" 2>"$T/promtool" || fail "plumb.prom fails promtool check metrics: $(cat "$T/promtool")"
[ "$(metric plumb_drifted)" = 1 ] || fail "plumb_drifted: $(metric plumb_drifted)"
[ "$(metric plumb_unresolved)" = 0 ] || fail "a reverted drift counts as unresolved: $(metric plumb_unresolved)"
[ "$(metric 'plumb_mode{mode="enforce"}')" = 1 ] || fail "mode gauge: $(grep plumb_mode "$P")"
[ "$(metric plumb_spool_reports)" -ge 1 ] || fail "spool depth: $(metric plumb_spool_reports)"
[ "$(metric plumb_spool_oldest_timestamp_seconds)" -gt 0 ] || fail "oldest spooled report time missing"
# drift that may not be repaired (enforce: warn) is unresolved until fixed
echo changed > "$ROOT/etc/issue"
wait_until 10 '[ "$(metric plumb_unresolved)" = 1 ]' || fail "warn-only drift is not unresolved: $(metric plumb_unresolved)"
echo authorized > "$ROOT/etc/issue"
wait_until 10 '[ "$(metric plumb_unresolved)" = 0 ]' || fail "fixed drift is still unresolved: $(metric plumb_unresolved)"
promtool check metrics < "$P" 2>"$T/promtool" || fail "plumb.prom fails promtool check metrics: $(cat "$T/promtool")"
grep -q "recovered from the journal" "$DLOG" && fail "a run that was not interrupted was recovered from the journal"
note "plumb_unresolved 0 after a catch-up revert, 1 for warn-only drift, 0 once fixed; rules pass promtool"
exit 0
