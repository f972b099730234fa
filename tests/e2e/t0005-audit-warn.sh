#!/bin/bash
# mode: audit never writes; enforce: warn resources are reported, never
# repaired, also in enforce mode.
. "$(dirname "$0")/../lib/lib.sh"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
  - path: /etc/issue.net
    content: "Authorized use only\n"
    enforce: warn
Y
echo drift > "$ROOT/etc/issue.net"
printf 'mode: audit\n' > "$T/agent.yaml"
before=$(tree_digest "$ROOT")
plumb_bl apply -c "$T/agent.yaml"
expect_rc 2 "audit apply"
expect_out "file:/etc/motd: detected missing"
expect_out "audit: 2 resources, 2 drifted, 0 reverted, 0 failed"
[ "$(tree_digest "$ROOT")" = "$before" ] || fail "audit mode changed the root"
expect_missing "$STATE/quarantine"

plumb_bl apply
expect_rc 2 "enforce apply"
expect_out "file:/etc/motd: reverted missing"
expect_out "file:/etc/issue.net: detected content"
expect_content "$ROOT/etc/issue.net" drift
plumb_bl apply
expect_rc 2 "warn drift stays reported"
expect_out "file:/etc/issue.net: detected content"
