#!/bin/bash
# Owned nftables tables, only in a network namespace this test creates
# (never the host's firewall): missing table created; rule added, deleted,
# changed; table deleted; chain policy changed: all detected with a
# rule-level diff and reverted in one transaction. A foreign table (standing
# in for Docker's) stays byte-for-byte untouched; a bad ruleset, or one that
# defines a table it does not own, leaves the live table as it was.
. "$(dirname "$0")/../lib/lib.sh"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
NS=plumbtest-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
# plumbd runs under `ip netns exec`, which may fork: $! is then ip's pid,
# not plumbd's. Stop it by its own state dir, whatever happens.
stop_nsd() { pkill -TERM -f -- "--state-dir $STATE" 2>/dev/null; for _ in $(seq 1 50); do pgrep -f -- "--state-dir $STATE" >/dev/null || break; sleep 0.1; done; pkill -KILL -f -- "--state-dir $STATE" 2>/dev/null; true; }
trap 'stop_nsd; ip netns del "$NS" 2>/dev/null; cleanup' EXIT
host_before=$(nft list ruleset 2>/dev/null | sha256sum)
inns() { ip netns exec "$NS" "$@"; }
plumb_ns() { rc=0; inns "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

inns nft -f - <<'N'
table inet docker {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "docker0" accept
	}
}
N
docker_before=$(inns nft list table inet docker)
mkdir -p "$BL/firewall"
cat > "$BL/firewall/plumb.nft" <<'N'
table inet plumb {
	chain input {
		type filter hook input priority 0; policy drop;
		ct state established,related accept
		iifname "lo" accept
		tcp dport 22 accept
	}
}
N
cat > "$BL/baseline.yaml" <<'Y'
version: 1
firewall:
  backend: nftables
  tables: ["inet plumb"]
  ruleset: firewall/plumb.nft
Y
plumb_ns check
expect_rc 2 "check with the table missing"; expect_out "firewall:nftables:inet plumb: detected missing"
plumb_ns apply
expect_rc 2 "apply creates the table"; expect_out "firewall:nftables:inet plumb: reverted missing"
want=$(inns nft list table inet plumb)
cp "$BL/firewall/plumb.nft" "$T/good.nft"
plumb_ns check; expect_rc 0 "compliant"

revert() { # WHAT KIND: apply after a drift; the table is back, and the report says so
	plumb_ns apply --json
	expect_rc 2 "apply after: $1"
	[ "$(json_get "$T/out" '[e["drift"] for e in d["events"] if e["resource"]=="firewall:nftables:inet plumb"][0]')" = "['$2']" ] \
		|| fail "$1: drift kinds"
	[ "$(inns nft list table inet plumb)" = "$want" ] || fail "$1: not reverted"
}
inns nft add rule inet plumb input tcp dport 23 accept
plumb_ns check --json
json_get "$T/out" '[e["actual"]["diff"] for e in d["events"]][0]' | grep -q '^+.*tcp dport 23 accept' \
	|| fail "no rule-level diff for an added rule"
revert "rule added" rules
h=$(inns nft -a list chain inet plumb input | sed -n 's/.*tcp dport 22 accept # handle \([0-9]*\)/\1/p')
inns nft delete rule inet plumb input handle "$h";                     revert "rule deleted" rules
h=$(inns nft -a list chain inet plumb input | sed -n 's/.*tcp dport 22 accept # handle \([0-9]*\)/\1/p')
inns nft replace rule inet plumb input handle "$h" tcp dport 2222 accept; revert "rule changed" rules
inns nft delete table inet plumb;                                       revert "table deleted" missing
inns nft chain inet plumb input '{ policy accept; }';                   revert "chain policy changed" rules
[ "$(inns nft list table inet docker)" = "$docker_before" ] || fail "the foreign table was touched"

# a ruleset that does not load: failed, live table untouched
inns nft add rule inet plumb input tcp dport 23 accept
live=$(inns nft list table inet plumb)
echo 'table inet plumb { chain input { type filter hook input priority 0; tcp dport nonsense; } }' > "$BL/firewall/plumb.nft"
plumb_ns apply
expect_rc 4 "apply with a bad ruleset"; expect_out "the ruleset does not load"
[ "$(inns nft list table inet plumb)" = "$live" ] || fail "a bad ruleset changed the live table"
# a ruleset that defines a table it does not own
printf 'table inet plumb { }\ntable ip other { }\n' > "$BL/firewall/plumb.nft"
plumb_ns apply
expect_rc 4 "apply with an unowned table"; expect_out "defines table 'ip other', which firewall.tables does not own"
[ "$(inns nft list table inet plumb)" = "$live" ] || fail "an unowned table changed the live table"
inns nft list table ip other >/dev/null 2>&1 && fail "an unowned table was created"
[ "$(inns nft list table inet docker)" = "$docker_before" ] || fail "the foreign table was touched"
# plumbd re-checks the owned tables on its short firewall timer
cp "$T/good.nft" "$BL/firewall/plumb.nft"
# ... and puts the table right in its catch-up scan at start, before it
# says it is ready (the first full scan includes the firewall).
inns nft delete table inet plumb
inns "${PLUMBD:-$(dirname "$PLUMB")/plumbd}" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" >"$T/d.log" 2>&1 &
PD=$!
for _ in $(seq 1 100); do [ -s "$STATE/plumb.prom" ] && break; sleep 0.05; done
[ "$(inns nft list table inet plumb 2>/dev/null)" = "$want" ] || fail "plumbd's catch-up scan did not restore the table"
inns nft add rule inet plumb input tcp dport 6666 accept
ok=0; for _ in $(seq 1 300); do [ "$(inns nft list table inet plumb)" = "$want" ] && { ok=1; break; }; sleep 0.1; done
stop_nsd; wait "$PD" 2>/dev/null
[ "$ok" = 1 ] || fail "plumbd did not revert the firewall within 30 s: $(tail -3 "$T/d.log")"
grep -q 'firewall:nftables:inet plumb: reverted rules' "$T/d.log" || fail "plumbd logged no firewall revert"
[ "$(inns nft list table inet docker)" = "$docker_before" ] || fail "the foreign table was touched"
[ "$(nft list ruleset 2>/dev/null | sha256sum)" = "$host_before" ] || fail "the host's ruleset changed"
