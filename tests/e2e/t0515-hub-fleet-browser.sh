#!/bin/bash
# The fleet page's new views in headless Chromium (Debian's chromium,
# playwright-core) against the real hub: paging with totals, sort, search,
# the rollout view, fleet-wide event search and its SVG chart, acks by an
# operator (a viewer cannot), new-tab links signed in by the session
# cookie, CSV export, sign-out. Reports are cloned from a real agent's;
# 250 more hosts are written straight into the database. Screenshots in
# build/test-output/ (tests/browser/hub_fleet.mjs).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/hub_page.sh"
trap 'stop_plumb_hub; cleanup' EXIT

[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip "no node (apt-get install nodejs npm)"
[ -d "$TESTS_DIR/browser/node_modules/playwright-core" ] || skip "playwright-core not installed (make deps)"
OUT=${PLUMB_TEST_OUTPUT:-$TESTS_DIR/../build/test-output}
mkdir -p "$OUT"
BULK=250

printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\n' > "$BL/baseline.yaml"
plumb_bl check --json
expect_rc 2 "plumb check on an empty root"
cp "$T/out" "$T/template.json"
start_plumb_hub "$T/hub.db" --host-rate 0
hub_bulk_hosts "$T/hub.db" "$BULK"
tok() { "$PLUMB_HUB" --db "$T/hub.db" token add "$@" 2>/dev/null || fail "token add $*"; }
OTOK=$(tok --operator page-op)
VTOK=$(tok --viewer page-viewer)

# post HOST SERIAL COMMIT EVENTS-JSON: a report cloned from the real one
post() {
	python3 - "$T/template.json" "$1" "$2" "$3" "$4" <<'PY' > "$T/post.json"
import json, sys, time, uuid
d = json.load(open(sys.argv[1])); host, serial, commit, evs = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
d.update(host=host, id=str(uuid.uuid4()), mode="enforce")
d["baseline"].update(commit=commit, signer="ci@example.com", fingerprint="SHA256:" + "A" * 43, serial=serial)
d["events"] = [dict({"drift": ["content"], "expected": {"type": "file", "sha256": "a" * 64},
                     "actual": {"type": "file", "sha256": "b" * 64}, "at": now}, **e) for e in json.loads(evs.replace("@AGO@", ago))]
print(json.dumps(d))
PY
	local code
	code=$(curl -s -o "$T/post.out" -w '%{http_code}' -H "Authorization: Bearer $(tok "$1")" --data-binary @"$T/post.json" "$HUB_URL/v1/reports")
	[ "$code" = 201 ] || fail "report from $1: $code $(cat "$T/post.out")"
}
C42=0123456789abcdef0123456789abcdef01234567
C41=89abcdef0123456789abcdef0123456789abcdef
post web-a 42 $C42 '[{"resource": "file:/etc/sudoers", "action": "reverted"}, {"resource": "file:/etc/ssh/sshd_config", "action": "detected"}]'
post web-b 41 $C41 '[{"resource": "file:/etc/sudoers", "action": "reverted", "at": "@AGO@"}]'
post web-c 41 $C41 '[{"resource": "baseline", "action": "refused", "drift": [], "expected": null, "actual": null, "error": "tip 89ab is signed by an unknown key"}]'
post '=HYPERLINK("http://evil.example/")' 42 $C42 '[]'

cd "$TESTS_DIR/browser" || fail "no tests/browser"
timeout 240 node hub_fleet.mjs "$HUB_URL" "$OTOK" "$VTOK" "$BULK" "$OUT" > "$T/browser.log" 2>&1 ||
	fail "browser checks: $(tail -15 "$T/browser.log")"
cat "$T/browser.log"
for f in hub-fleet-paged hub-rollout hub-events hub-ack hub-newtab; do [ -s "$OUT/$f.png" ] || fail "no screenshot $f.png"; done
grep -q "audit: event .* acknowledged by operator:page-op" "$HUBLOG" || fail "the page's ack is not in the hub's log"
! grep -q -e "$OTOK" -e "$VTOK" "$HUBLOG" || fail "a token reached the hub's log"
