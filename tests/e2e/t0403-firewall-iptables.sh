#!/bin/bash
# The iptables backend, only in a network namespace this test creates: the
# owned filter table is created, its drift (rule added, deleted, policy
# changed) detected with a rule-level diff and reverted; the foreign nat
# table stays untouched; a bad ruleset leaves the live table as it was.
. "$(dirname "$0")/../lib/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v iptables-save >/dev/null || skip "iptables is not installed"
NS=plumbipt-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
inns() { ip netns exec "$NS" "$@"; }
plumb_ns() { rc=0; inns "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
norm() { inns iptables-save -t "$1" | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]$/[0:0]/'; }

inns iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE       # standing in for Docker's
nat_before=$(norm nat)
mkdir -p "$BL/firewall"
cat > "$BL/firewall/rules.v4" <<'R'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
R
cat > "$BL/baseline.yaml" <<'Y'
version: 1
firewall:
  backend: iptables
  tables: [filter]
  ruleset: firewall/rules.v4
Y
plumb_ns check; expect_rc 2 "check before"; expect_out "firewall:iptables:filter: detected rules"
plumb_ns apply; expect_rc 2 "apply"; expect_out "firewall:iptables:filter: reverted rules"
want=$(norm filter)
echo "$want" | grep -q -- '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT' || fail "ruleset not in force"
plumb_ns check; expect_rc 0 "compliant"

inns iptables -A INPUT -p tcp --dport 23 -j ACCEPT
plumb_ns check --json
json_get "$T/out" '[e["actual"]["diff"] for e in d["events"]][0]' | grep -q '^+-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT' \
	|| fail "no rule-level diff for an added rule"
plumb_ns apply; expect_rc 2 "revert an added rule"; [ "$(norm filter)" = "$want" ] || fail "added rule not reverted"
inns iptables -D INPUT -p tcp --dport 22 -j ACCEPT
plumb_ns apply; expect_rc 2 "revert a deleted rule"; [ "$(norm filter)" = "$want" ] || fail "deleted rule not restored"
inns iptables -P INPUT ACCEPT
plumb_ns apply; expect_rc 2 "revert a policy"; [ "$(norm filter)" = "$want" ] || fail "policy not restored"
[ "$(norm nat)" = "$nat_before" ] || fail "the foreign nat table was touched"

inns iptables -A INPUT -p udp --dport 53 -j ACCEPT
live=$(norm filter)
printf '*filter\n-A INPUT -p tcp --dport nonsense -j ACCEPT\nCOMMIT\n' > "$BL/firewall/rules.v4"
plumb_ns apply; expect_rc 4 "bad ruleset"; expect_out "the ruleset does not load"
[ "$(norm filter)" = "$live" ] || fail "a bad ruleset changed the live table"
printf '*filter\nCOMMIT\n*nat\nCOMMIT\n' > "$BL/firewall/rules.v4"
plumb_ns apply; expect_rc 4 "unowned table"; expect_out "defines table 'nat', which firewall.tables does not own"
[ "$(norm nat)" = "$nat_before" ] || fail "the foreign nat table was touched"
