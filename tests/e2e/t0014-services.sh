#!/bin/bash
# services: unit enablement in a sandbox root through the real systemctl
# --root (offline: no systemd is asked, the host's units are never touched):
# enabled, disabled, masked detected (drift "enabled") and repaired, a masked
# unit unmasked first; enforce: warn and check never change; a unit the root
# lacks is disabled enough, is masked when it must be, and fails with drift
# "missing" when it must be enabled; running: is "unknown" where the root's
# systemd is not reachable, never failed.
. "$(dirname "$0")/../lib/lib.sh"
[ -x /usr/bin/systemctl ] || skip "systemctl is not installed"
schema_ok() {
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
U=$ROOT/usr/lib/systemd/system
mkdir -p "$U" "$ROOT/etc/systemd/system"
unit() { printf '[Unit]\nDescription=%s\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' "$1" > "$U/$1"; }
unit rsync.service; unit ssh.service; unit telnet.service; unit cron.service; unit warned.service
unit tmpl@.service   # a template: its instances have no unit file of their own
printf '[Unit]\nDescription=target\n' > "$U/multi-user.target"
ctl() { systemctl --root="$ROOT" "$@" 2>/dev/null; }
ctl enable rsync.service; ctl enable warned.service; ctl mask cron.service
cat > "$BL/baseline.yaml" <<'Y'
version: 1
services:
  - unit: rsync.service
    state: disabled
    running: false
  - unit: ssh.service
    state: enabled
  - unit: telnet.service
    state: masked
    sensitive: true
  - unit: cron.service
    state: enabled
  - unit: warned.service
    state: disabled
    enforce: warn
  - unit: nosuch.service
    state: enabled
  - unit: gone.service
    state: disabled
  - unit: gone-masked.service
    state: masked
  - unit: tmpl@one.service
    state: enabled
Y
before=$(tree_digest "$ROOT")
plumb_bl check --json
expect_rc 2 "check"
[ "$(tree_digest "$ROOT")" = "$before" ] || fail "check changed the root"
schema_ok "$T/out"
ev() { json_get "$T/out" "[e for e in d['events'] if e['resource']=='service:$1'][0]$2"; }
[ "$(ev rsync.service '["drift"]')" = "['enabled']" ] || fail "rsync drift kinds"
[ "$(ev rsync.service '["actual"]["enablement"]')" = enabled ] || fail "rsync actual"
[ "$(ev rsync.service '["actual"]["running"]')" = unknown ] || fail "running must be unknown without a reachable systemd"
[ "$(ev cron.service '["actual"]["enablement"]')" = masked ] || fail "cron actual"
[ "$(ev telnet.service '["actual"]')" = "{'sensitive': True}" ] || fail "sensitive: the unit's state was reported"
[ "$(ev nosuch.service '["action"]')" = failed ] || fail "a missing unit must fail"
[ "$(ev nosuch.service '["drift"]')" = "['missing']" ] || fail "a missing unit is drift missing"
plumb_bl check
expect_out "service:ssh.service: detected enabled"
expect_out "service:telnet.service: detected enabled"
expect_out "check: 9 resources, 7 drifted, 0 reverted, 1 failed"
grep -q "service:gone.service" "$T/out" && fail "a unit the root lacks is disabled enough"

plumb_bl apply
expect_rc 6 "apply"
expect_out "service:rsync.service: reverted enabled"
expect_out "service:cron.service: reverted enabled"
expect_out "service:warned.service: detected enabled"
expect_out "service:gone-masked.service: reverted enabled"
[ "$(ctl is-enabled gone-masked.service)" = masked ] || fail "a unit the root lacks was not masked"
[ "$(ctl is-enabled tmpl@one.service)" = enabled ] || fail "a template's instance was not enabled"
[ "$(ctl is-enabled rsync.service)" = disabled ] || fail "rsync not disabled"
[ "$(ctl is-enabled ssh.service)" = enabled ] || fail "ssh not enabled"
[ "$(ctl is-enabled telnet.service)" = masked ] || fail "telnet not masked"
[ "$(ctl is-enabled cron.service)" = enabled ] || fail "cron not unmasked and enabled"
[ "$(ctl is-enabled warned.service)" = enabled ] || fail "enforce: warn changed a unit"
plumb_bl apply
expect_out "enforce: 9 resources, 1 drifted, 0 reverted, 1 failed"

# drift again, by hand, as an admin would
ctl enable rsync.service; ctl unmask telnet.service
plumb_bl apply
expect_out "service:rsync.service: reverted enabled"
expect_out "service:telnet.service: reverted enabled"
[ "$(ctl is-enabled telnet.service)" = masked ] || fail "telnet not masked again"

# parser: a bad state names file:line:col
cat > "$BL/baseline.yaml" <<'Y'
version: 1
services:
  - unit: rsync.service
    state: off
Y
plumb_bl check
expect_rc 1 "bad state refused"
grep -q "baseline.yaml:4:12: state: expected enabled, disabled or masked, found 'off'" "$T/err" || fail "no file:line:col"
