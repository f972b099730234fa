#!/bin/bash
# The real agent to the real hub to Debian's real Alertmanager: plumbd sees
# warn-only drift of a file in its sandbox root (it must not repair it), its
# report reaches the hub through plumb-send, and PlumbHostDrifting fires at
# Alertmanager with the host's name; the file put back, plumbd's next
# report clears it and the alert resolves at Alertmanager. Then what
# stands: a package that cannot be installed fails every full scan, and
# a file revert from the inotify dirty set in between (a partial run,
# silent about the package) resolves neither PlumbRepairFailed nor
# PlumbHostDrifting, nor the host's unresolved count at the hub.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
trap 'stop_plumbd; stop_plumb_hub; stop_alertmanager; cleanup' EXIT
start_alertmanager
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/issue.net
    content: "authorized use only\n"
    enforce: warn
Y
echo "authorized use only" > "$ROOT/etc/issue.net"
HOST=$(hostname)
printf 'receivers:\n  - {name: am, type: alertmanager, url: "%s"}\n' "$AM_URL" > "$T/alerts.yml"
start_plumb_hub "$T/hub.db" --alerts "$T/alerts.yml"
"$PLUMB_HUB" --db "$T/hub.db" token add "$HOST" > "$T/agent.token" 2>/dev/null || fail "token add"
chmod 600 "$T/agent.token"
printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n  heartbeat: 2s\ninterval:\n  live: 1s\n' "$HUB_URL" \
	"$T/agent.token" > "$T/agent.yaml"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
echo tampered > "$ROOT/etc/issue.net"
wait_until 60 'am_alerts | grep -q "^PlumbHostDrifting $HOST - drifting firing$"' ||
	fail "no PlumbHostDrifting at Alertmanager: $(am_alerts); $(grep alert "$HUBLOG" | tail -3); $(tail -3 "$DLOG")"
expect_content "$ROOT/etc/issue.net" tampered
echo "authorized use only" > "$ROOT/etc/issue.net"
wait_until 60 '! am_alerts | grep -q "^PlumbHostDrifting $HOST "' ||
	fail "the alert did not resolve once the file was put back: $(am_alerts); $(grep alert "$HUBLOG" | tail -3)"
grep -q "alert: PlumbHostDrifting resolved for $HOST" "$HUBLOG" || fail "the hub did not log the resolve"
note "plumbd drift -> hub -> Alertmanager firing -> fixed -> resolved"

stop_plumbd
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
packages:
  - name: plumbtest-needed
    state: present
Y
echo hello > "$ROOT/etc/motd"
# no heartbeats and no live-state runs: after the start-up scan, only drift reports
printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n  heartbeat: 30m\n' "$HUB_URL" "$T/agent.token" > "$T/agent.yaml"
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
wait_until 60 'am_alerts | grep -q "^PlumbRepairFailed $HOST package:plumbtest-needed drifting firing$"' ||
	fail "no PlumbRepairFailed for the package: $(am_alerts); $(tail -3 "$DLOG")"
wait_until 30 '[ "$(hub_query "$T/hub.db" "SELECT unresolved FROM hosts WHERE host = '"'$HOST'"'")" = 1 ]' ||
	fail "the hub does not count the failed package as unresolved"
echo intruder > "$ROOT/etc/motd"
wait_until 30 '[ "$(hub_query "$T/hub.db" "SELECT COUNT(*) FROM events WHERE host = '"'$HOST'"' AND resource = '"'file:/etc/motd'"' AND action = '"'reverted'"'")" -ge 1 ]' ||
	fail "the dirty-set revert did not reach the hub: $(tail -3 "$DLOG")"
expect_content "$ROOT/etc/motd" hello
sleep 1
[ "$(hub_query "$T/hub.db" "SELECT unresolved FROM hosts WHERE host = '$HOST'")" = 1 ] ||
	fail "a partial run's report reset the host's unresolved count: $(hub_query "$T/hub.db" "SELECT unresolved, last_report FROM hosts")"
! grep -q "alert: PlumbRepairFailed resolved for $HOST package:plumbtest-needed" "$HUBLOG" ||
	fail "a file revert's report resolved the package's PlumbRepairFailed"
! grep -q "alert: PlumbHostDrifting resolved for $HOST" <(sed -n '/PlumbRepairFailed firing/,$p' "$HUBLOG") ||
	fail "a file revert's report resolved PlumbHostDrifting while the package still fails"
am_alerts | grep -q "^PlumbRepairFailed $HOST package:plumbtest-needed drifting firing$" ||
	fail "PlumbRepairFailed no longer fires at Alertmanager: $(am_alerts)"
note "a partial run's report left PlumbRepairFailed and the unresolved count standing"
exit 0
