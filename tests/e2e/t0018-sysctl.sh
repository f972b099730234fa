#!/bin/bash
# sysctl: live kernel values. Global keys against a fake /proc/sys
# (PLUMB_SYSCTL_DIR, for tests only): drift "value", reverted and read
# back; whitespace-normalized comparison; enforce: warn and audit mode never
# write; sensitive values reported by hash; a missing key fails; a symlink
# in the tree is never followed. net.* keys in a network namespace this test
# creates: the host's own values are read before and after, never written.
. "$(dirname "$0")/../lib/lib.sh"

schema_ok() { # FILE: the report validates against docs/report.schema.json
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
P=$T/proc/sys
mkdir -p "$P/kernel" "$P/vm" "$P/net/ipv4"
printf '1\n' > "$P/kernel/kptr_restrict"
printf '60\n' > "$P/vm/swappiness"
printf '32768\t60999\n' > "$P/net/ipv4/ip_local_port_range"
printf 'hunter2\n' > "$P/kernel/secret_thing"
echo 'root:x:0:0::/root:/bin/sh' > "$T/passwd-copy"
ln -s "$T/passwd-copy" "$P/kernel/linked"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
sysctl:
  - key: kernel.kptr_restrict
    value: "2"
  - key: vm.swappiness
    value: 10
    enforce: warn
  - key: net.ipv4.ip_local_port_range
    value: "32768   60999"
  - key: kernel.secret_thing
    value: "s3cret"
    sensitive: true
  - key: kernel.no_such_key
    value: "1"
  - key: kernel.linked
    value: "x"
Y
export PLUMB_SYSCTL_DIR=$P
before=$(tree_digest "$T/proc")
plumb_bl check --json
expect_rc 2 "check with drifted values"
[ "$(tree_digest "$T/proc")" = "$before" ] || fail "check wrote a value"
schema_ok "$T/out"
ev() { json_get "$T/out" "[e for e in d['events'] if e['resource']=='sysctl:$1'][0]$2"; }
[ "$(ev kernel.kptr_restrict '["drift"]')" = "['value']" ] || fail "kptr_restrict drift kind"
[ "$(ev kernel.kptr_restrict '["expected"]["value"]')" = 2 ] || fail "expected value"
[ "$(ev kernel.kptr_restrict '["actual"]["value"]')" = 1 ] || fail "actual value"
[ "$(json_get "$T/out" "[e for e in d['events'] if e['resource']=='sysctl:net.ipv4.ip_local_port_range']")" = "[]" ] \
	|| fail "a value differing only in whitespace is reported as drift"
[ "$(ev kernel.secret_thing '["actual"].get("value")')" = None ] || fail "a sensitive value left the host"
[ "$(ev kernel.secret_thing '["actual"]["sha256"]')" = "$(printf hunter2 | sha256sum | cut -d' ' -f1)" ] \
	|| fail "sensitive: no sha256 of the normalized value"
grep -q hunter2 "$T/out" && fail "the sensitive value is in the report"
[ "$(ev kernel.no_such_key '["action"]')" = failed ] || fail "a missing key must fail"
[ "$(ev kernel.no_such_key '["drift"]')" = "['missing']" ] || fail "a missing key is drift missing"
[ "$(ev kernel.linked '["action"]')" = failed ] || fail "a symlinked parameter must fail, not be followed"
plumb_bl check
expect_out "sysctl:kernel.kptr_restrict: detected value"
expect_out "sysctl:vm.swappiness: detected value"
expect_out "check: 6 resources, 3 drifted, 0 reverted, 2 failed"

# audit mode: nothing written
printf 'mode: audit\n' > "$T/agent.yaml"
plumb_bl apply -c "$T/agent.yaml"
expect_out "sysctl:kernel.kptr_restrict: detected value"
[ "$(tree_digest "$T/proc")" = "$before" ] || fail "audit mode wrote a value"

plumb_bl apply
expect_rc 6 "apply: reverted, and some failed"
expect_out "sysctl:kernel.kptr_restrict: reverted value"
expect_out "sysctl:kernel.secret_thing: reverted value"
expect_out "sysctl:vm.swappiness: detected value"
expect_content "$P/kernel/kptr_restrict" 2
expect_content "$P/kernel/secret_thing" s3cret
expect_content "$P/vm/swappiness" 60
expect_content "$T/passwd-copy" 'root:x:0:0::/root:/bin/sh'
[ -L "$P/kernel/linked" ] || fail "the symlink was replaced"
plumb_bl apply
expect_out "enforce: 6 resources, 1 drifted, 0 reverted, 2 failed"

# A value the kernel does not keep (here: a read-only file standing in for
# a parameter that rejects it) is a failure, not a revert.
printf '1\n' > "$P/kernel/kptr_restrict"; chmod 0444 "$P/kernel/kptr_restrict"
if ! ( exec 3>>"$P/kernel/kptr_restrict" ) 2>/dev/null; then
	plumb_bl apply --json
	[ "$(ev kernel.kptr_restrict '["action"]')" = failed ] || fail "an unwritable parameter is not failed"
	ev kernel.kptr_restrict '["error"]' | grep -q "cannot open sysctl 'kernel.kptr_restrict' for writing" || fail "no reason given"
else
	note "root may write a 0444 file here: the refused-write case is covered in the namespace below"
fi
unset PLUMB_SYSCTL_DIR

# net.ipv4.ip_forward in a network namespace of our own.
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
NS=plumbsysctl-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
inns() { ip netns exec "$NS" "$@"; }
host_fwd=$(cat /proc/sys/net/ipv4/ip_forward)
inns sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
[ "$(inns cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || skip "cannot set ip_forward in the namespace"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
sysctl:
  - key: net.ipv4.ip_forward
    value: "0"
Y
plumb_ns() { rc=0; inns "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
plumb_ns check
expect_rc 2 "check in the namespace"
expect_out "sysctl:net.ipv4.ip_forward: detected value"
plumb_ns apply
expect_rc 2 "apply in the namespace"
expect_out "sysctl:net.ipv4.ip_forward: reverted value"
[ "$(inns cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || fail "ip_forward not reverted in the namespace"
plumb_ns check
expect_rc 0 "compliant in the namespace"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ] || fail "the host's ip_forward changed"
# a value the kernel refuses
sed -i 's/value: "0"/value: "banana"/' "$BL/baseline.yaml"
plumb_ns apply --json
expect_rc 4 "a refused value"
[ "$(ev net.ipv4.ip_forward '["action"]')" = failed ] || fail "a refused value is not failed"
ev net.ipv4.ip_forward '["error"]' | grep -q "refused the value" || fail "no reason for the refused value: $(ev net.ipv4.ip_forward '["error"]')"
[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$host_fwd" ] || fail "the host's ip_forward changed"
