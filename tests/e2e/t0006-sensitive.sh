#!/bin/bash
# Sensitive content (marked, or not world-readable by its desired mode) never
# appears in reports: hashes and sizes only. Its drifted copy is kept only
# in the root-only quarantine.
. "$(dirname "$0")/../lib/lib.sh"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/shadow
    content: "root:DESIREDHASH:19000::::::\n"
    mode: "0640"
    group: shadow
  - path: /etc/app/token
    content: "DESIREDTOKEN\n"
    mode: "0644"
    sensitive: true
Y
mkdir -p "$ROOT/etc/app"
echo 'root:INTRUDERHASH:19000::::::' > "$ROOT/etc/shadow"
echo 'INTRUDERTOKEN' > "$ROOT/etc/app/token"
plumb_bl apply --json
expect_rc 2 apply
for s in DESIREDHASH INTRUDERHASH DESIREDTOKEN INTRUDERTOKEN; do
	grep -q "$s" "$T/out" && fail "report contains '$s'"
	grep -q "$s" "$STATE/last-report.json" && fail "saved report contains '$s'"
done
[ "$(json_get "$T/out" '[e["expected"]["sensitive"] for e in d["events"] if e["resource"]=="file:/etc/shadow"][0]')" = True ] || fail "shadow not marked sensitive"
[ "$(json_get "$T/out" '[e["actual"]["sha256"] for e in d["events"] if e["resource"]=="file:/etc/app/token"][0]')" = "$(printf 'INTRUDERTOKEN\n' | sha256sum | cut -d' ' -f1)" ] || fail "hash of drifted token"
grep -q '"diff"' "$T/out" && fail "a sensitive file got a text diff"
grep -rq INTRUDERTOKEN "$STATE/quarantine" || fail "drifted token not quarantined"
[ "$(stat -c %a "$STATE/quarantine")" = 700 ] || fail "quarantine not 0700"
for f in "$STATE"/quarantine/*; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f not 0600"; done
