#!/bin/bash
# plumbd follows the signed git source: a new signed commit is applied within
# the poll interval and anchored; a refused tip is reported once and the last
# good baseline stays enforced; SIGHUP reloads the config, refusing a bad one;
# mode: audit reports drift in real time and never writes.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "first"
write_cfg "interval:
  poll: 1s"
cp "$CFG" "$T/good.yaml"
start_plumbd -c "$CFG"
expect_content "$ROOT/etc/motd" first
C1=$(head_commit)

commit_signed good 2 "second"
wait_until 10 '[ "$(cat $ROOT/etc/motd)" = second ]' || fail "new commit not applied within the poll interval"
wait_until 5 '[ "$(json_get $STATE/trust.json "d[\"serial\"]")" = 2 ]' || fail "anchor not moved"

commit_unsigned 3 "unsigned"
wait_until 10 'grep -q "baseline: refused: commit .*: commit is not signed" $DLOG' || fail "refusal not reported"
sleep 2.5
[ "$(grep -c 'baseline: refused' "$DLOG")" -eq 1 ] || fail "the same refusal was reported more than once"
echo intruder > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat $ROOT/etc/motd)" = second ]' || fail "last good baseline not enforced"
git -C "$REPO" reset -q --hard HEAD~1

# SIGHUP with a broken config: refused, the old one keeps working
printf 'mode: sideways\n' > "$CFG"
kill -HUP "$PD"
wait_until 5 'grep -q "SIGHUP: keeping the running configuration" $DLOG' || fail "bad config not refused"
echo intruder > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat $ROOT/etc/motd)" = second ]' || fail "not enforcing after a bad SIGHUP"
# SIGHUP with audit mode: drift is reported in real time, never written
sed 's/^state_dir/mode: audit\nstate_dir/' "$T/good.yaml" > "$CFG"
kill -HUP "$PD"
wait_until 5 'grep -q "SIGHUP: configuration reloaded" $DLOG' || fail "good config not reloaded"
sleep 0.3
echo 'audited drift' > "$ROOT/etc/motd"
wait_until 5 'grep -q "file:/etc/motd: detected content" $DLOG' || fail "audit mode did not report drift"
sleep 0.5
expect_content "$ROOT/etc/motd" 'audited drift'
[ "$(json_get "$STATE/last-report.json" 'd["mode"]')" = audit ] || fail "report mode"
