#!/bin/bash
# Logs as journald and log shippers read them (issue 20, item 4): with stderr
# the stream JOURNAL_STREAM names, each line starts with its syslog priority
# (<3> error, <4> warning) so `journalctl -p warning` sees refusals; an
# inherited JOURNAL_STREAM that is not stderr changes nothing; log.format:
# json gives one JSON object a line; a bad log.format is a config error.
. "$(dirname "$0")/../lib/lib.sh"
printf 'version: 1\nfiles:\n  - path: etc/motd\n' > "$BL/baseline.yaml"

# stderr is a file here; JOURNAL_STREAM names its device and inode, as
# systemd does for a service's stream.
: > "$T/err"
js=$(stat -c '%d:%i' "$T/err")
rc=0; JOURNAL_STREAM=$js "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" check >"$T/out" 2>>"$T/err" || rc=$?
expect_rc 1 "check of a bad baseline"
grep -qx "<3>error: $BL/baseline.yaml:3:11: path 'etc/motd': path must be absolute" "$T/err" ||
	fail "no <3> priority prefix under JOURNAL_STREAM: $(cat "$T/err")"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "the error is logged more than once"

# A warning: an expired baseline.
printf 'version: 1\nexpires: 2001-01-01T00:00:00Z\nfiles: []\n' > "$BL/baseline.yaml"
: > "$T/err"; js=$(stat -c '%d:%i' "$T/err")
rc=0; JOURNAL_STREAM=$js "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" check >"$T/out" 2>>"$T/err" || rc=$?
grep -q '^<4>warning: ' "$T/err" || fail "no <4> prefix on a warning: $(cat "$T/err")"

# Inherited, not ours: plain lines.
printf 'version: 1\nfiles:\n  - path: etc/motd\n' > "$BL/baseline.yaml"
rc=0; JOURNAL_STREAM=1:2 "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" check >"$T/out" 2>"$T/err" || rc=$?
grep -q '^plumb: error: ' "$T/err" || fail "a JOURNAL_STREAM that is not stderr changed the format: $(cat "$T/err")"

# log.format: json
printf 'log:\n  format: json\n' > "$T/json.yaml"
rc=0; "$PLUMB" -c "$T/json.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" check >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "check, log.format json"
python3 - "$T/err" <<'P' || fail "log.format json: $(cat "$T/err")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["level"] == "error" and o["ident"] == "plumb" and "path must be absolute" in o["msg"], o
assert o["ts"].endswith("Z"), o
P
printf 'log:\n  format: xml\n' > "$T/bad.yaml"
rc=0; "$PLUMB" -c "$T/bad.yaml" check-config >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "log.format xml"
expect_err "log.format: 'text' or 'json', not 'xml'"
exit 0
