#!/bin/bash
# plumbd's metrics say what an alert needs (issue 19's agent side): the
# textfile passes `promtool check metrics`; plumb_unresolved counts what is
# drifted now, not what a catch-up reverted; mode, spool depth and the
# oldest report's time are there; and the shipped alert rules pass
# promtool's checks and unit tests. A fetch that fails (no such ref, a
# remote that never answers) counts in plumb_fetch_failures_total{reason},
# not in plumb_refused_total, which counts only fetched tips refused.
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
stop_plumbd

# Fetch failures apart from refusals (issue 19).
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
failures() { metric "plumb_fetch_failures_total{reason=\"$1\"}"; }
mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "signed"
write_cfg "  ref: refs/heads/nosuch
interval:
  poll: 1s"
start_plumbd -c "$CFG"
wait_until 15 '[ "$(failures notfound)" -ge 2 ]' || fail "a missing ref is not a notfound fetch failure: $(grep fetch_failures "$P")"
[ "$(metric plumb_refused_total)" = 0 ] || fail "a missing ref counted as a refused tip: $(metric plumb_refused_total)"
for r in timeout network corrupt other; do
	[ "$(failures $r)" = 0 ] || fail "reason $r: $(failures $r)"
done
promtool check metrics < "$P" 2>"$T/promtool" || fail "plumb.prom fails promtool check metrics: $(cat "$T/promtool")"
stop_plumbd
# an unsigned tip: fetched, refused; no fetch failure
git -C "$REPO" commit -q --allow-empty -m "unsigned"
write_cfg "interval:
  poll: 1s"
start_plumbd -c "$CFG"
wait_until 15 '[ "$(metric plumb_refused_total)" -ge 1 ]' || fail "an unsigned tip was not refused: $(grep refused "$P")"
for r in timeout network notfound corrupt other; do
	[ "$(failures $r)" = 0 ] || fail "a refused tip counted as a fetch failure ($r: $(failures $r))"
done
stop_plumbd
# a remote that accepts and never answers: timeout
mk_tls "$T/tls"
python3 "$TESTS_DIR/lib/git_https_server.py" --stall --port-file "$T/port" --lifetime 30 2>"$T/server.log" &
SRV=$!
trap 'stop_plumbd; kill "$SRV" 2>/dev/null; cleanup' EXIT
wait_until 5 '[ -s "$T/port" ]' || fail "stall server did not start"
URL=https://localhost:$(cat "$T/port")/baselines.git write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 1s
interval:
  poll: 1s"
start_plumbd -c "$CFG"
wait_until 15 '[ "$(failures timeout)" -ge 1 ]' || fail "a hung fetch is not a timeout: $(grep fetch_failures "$P")"
[ "$(metric plumb_refused_total)" = 0 ] || fail "a timeout counted as a refused tip"
stop_plumbd
kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
note "fetch failures: notfound, timeout counted apart; an unsigned tip only in plumb_refused_total"
exit 0
