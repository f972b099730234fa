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
start_plumb_hub "$T/hub.db" --max-string 64K
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

# More hosts, posted from the real report: one compliant, one whose name is
# markup, one refused, one unprotected, one whose names carry bidi and C1
# controls, one with a 50,000-character signer.
post_as() { # HOST TOKEN KIND
	python3 - "$T/out.json" "$1" "$3" <<'PY' > "$T/post.json"
import json, sys, uuid
d = json.load(open(sys.argv[1])); host, kind = sys.argv[2], sys.argv[3]
d["host"] = host; d["id"] = str(uuid.uuid4()); d["events"] = []; d["mode"] = "enforce"
d["baseline"].update(commit="0123456789abcdef0123456789abcdef01234567", signer="ci@example.com",
                     fingerprint="SHA256:" + "A" * 43)
ev = {"resource": "baseline", "drift": [], "action": "refused", "expected": None, "actual": None,
      "at": d["finished_at"], "error": "tip 89ab is signed by an unknown key"}
if kind == "refused":
    d["events"] = [ev]
elif kind == "unprotected":
    d["baseline"].update(commit=None, signer=None, fingerprint=None)
elif kind == "bidi":
    d["events"] = [{"resource": "file:/etc/\u202edwssap", "drift": ["content"], "action": "reverted",
                    "expected": {"type": "file", "sha256": "a" * 64},
                    "actual": {"type": "file", "sha256": "b" * 64, "diff": "-ok.png\n+gnp\u202e.exe\n"},
                    "at": d["finished_at"], "error": "C1\u0085here, zero\u200bwidth"}]
elif kind == "long":
    d["baseline"]["signer"] = "L" * 50000
print(json.dumps(d))
PY
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" --data-binary @"$T/post.json" "$HUB_URL/v1/reports"
}
run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" check --json; cp "$T/out" "$T/out.json"
[ "$(post_as web-ok "$(tok web-ok)" ok)" = 201 ] || fail "post web-ok"
EVIL='<img/src=x/onerror=alert(1)><b>bold</b>'
[ "$(post_as "$EVIL" "$(tok "$EVIL")" ok)" = 201 ] || fail "post the markup host"
[ "$(post_as web-refused "$(tok web-refused)" refused)" = 201 ] || fail "post web-refused"
[ "$(post_as web-unsigned "$(tok web-unsigned)" unprotected)" = 201 ] || fail "post web-unsigned"
BIDI=$(printf 'bidi-\u202etxt.exe')
[ "$(post_as "$BIDI" "$(tok "$BIDI")" bidi)" = 201 ] || fail "post the bidi host"
[ "$(post_as web-long "$(tok web-long)" long)" = 201 ] || fail "post web-long"

cd "$TESTS_DIR/browser" || fail "no tests/browser"
timeout 180 node hub_page.mjs "$HUB_URL" "$VTOK" "$HOST" web-ok "$EVIL" "$OUT" "$BIDI" > "$T/browser.log" 2>&1 ||
	fail "browser checks: $(tail -15 "$T/browser.log")"
cat "$T/browser.log"
for f in hub-fleet hub-event hub-login hub-bidi hub-long; do [ -s "$OUT/$f.png" ] || fail "no screenshot $f.png"; done
