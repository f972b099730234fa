#!/bin/bash
# The SRE page in a real headless Chromium (Debian's chromium, driven by
# playwright-core): the real agent reports drift to the real hub, then the
# page must show the drifting host, its timeline and the event's diff.
# Screenshots are kept in build/test-output/.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
trap 'stop_plumb_hub; cleanup' EXIT

[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip "no node (apt-get install nodejs npm)"
[ -d "$TESTS_DIR/browser/node_modules/playwright-core" ] || skip "playwright-core not installed (make deps)"
OUT=${PLUMB_TEST_OUTPUT:-$TESTS_DIR/../build/test-output}
mkdir -p "$OUT"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
  - path: /etc/issue.net
    content: "authorized use only\n"
    enforce: warn
Y
HOST=$(hostname)
start_plumb_hub "$T/hub.db"
tok() { "$PLUMB_HUB" --db "$T/hub.db" token add "$@" 2>/dev/null || fail "token add $*"; }
tok "$HOST" > "$T/agent.token"; chmod 600 "$T/agent.token"
VTOK=$(tok --viewer browser)
printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n' "$HUB_URL" "$T/agent.token" > "$T/agent.yaml"

# The real agent: motd drift reverted (with a diff), issue.net drift left (warn).
echo intruder > "$ROOT/etc/motd"; echo tampered > "$ROOT/etc/issue.net"
plumb_bl apply -c "$T/agent.yaml"
expect_rc 2 "plumb apply"
run_plumb -c "$T/agent.yaml" deliver
expect_rc 0 "plumb deliver"

# Two more hosts: one compliant, one whose name is markup.
post_as() { # HOST TOKEN
	python3 - "$T/out.json" "$1" <<'PY' > "$T/post.json"
import json, sys, uuid
d = json.load(open(sys.argv[1])); d["host"] = sys.argv[2]; d["id"] = str(uuid.uuid4()); d["events"] = []
print(json.dumps(d))
PY
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" --data-binary @"$T/post.json" "$HUB_URL/v1/reports"
}
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" check --json; cp "$T/out" "$T/out.json"
[ "$(post_as web-ok "$(tok web-ok)")" = 201 ] || fail "post web-ok"
EVIL='<img/src=x/onerror=alert(1)><b>bold</b>'
[ "$(post_as "$EVIL" "$(tok "$EVIL")")" = 201 ] || fail "post the markup host"

cd "$TESTS_DIR/browser" || fail "no tests/browser"
timeout 120 node hub_page.mjs "$HUB_URL" "$VTOK" "$HOST" web-ok "$EVIL" "$OUT" > "$T/browser.log" 2>&1 ||
	fail "browser checks: $(tail -15 "$T/browser.log")"
cat "$T/browser.log"
for f in hub-fleet hub-event hub-login; do [ -s "$OUT/$f.png" ] || fail "no screenshot $f.png"; done
