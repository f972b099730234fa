#!/bin/bash
# The real agent to the real hub to Debian's real Alertmanager: plumbd sees
# warn-only drift of a file in its sandbox root (it must not repair it), its
# report reaches the hub through plumb-send, and PlumbHostDrifting fires at
# Alertmanager with the host's name; the file put back, plumbd's next
# report clears it and the alert resolves at Alertmanager.
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
exit 0
