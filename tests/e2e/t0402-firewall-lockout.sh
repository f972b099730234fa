#!/bin/bash
# The lock-out guard: a new signed baseline whose firewall cuts the host off
# from its git remote is rolled back (previous tables restored, rolled-back
# events, exit 1), the anchor does not move, the commit stays refused, and a
# newer good baseline is accepted. All inside a network namespace the test
# creates, with the git server on that namespace's own loopback.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
NS=plumblock-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
inns() { ip netns exec "$NS" "$@"; }
trap 'kill $SRV 2>/dev/null; ip netns del "$NS" 2>/dev/null; cleanup' EXIT
inns ip link set lo up

mk_key good ed25519; allow ci@example.com good
mk_repo; mk_tls "$T/tls"
git -C "$REPO" commit -q --allow-empty -m init
git init -q --bare "$T/srv/baselines.git"
# not through the inns function: $! must be the server itself (ip netns exec execs it)
ip netns exec "$NS" python3 "$TESTS_DIR/lib/git_https_server.py" --root "$T/srv" --cert "$T/tls/server.pem" \
	--key "$T/tls/server.key" --port-file "$T/port" --lifetime 120 >"$T/srv.log" 2>&1 &
SRV=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
PORT=$(cat "$T/port")

publish() { # SERIAL OUTPUT-RULE
	mkdir -p "$REPO/firewall"
	printf 'table inet plumb {\n\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n\t\t%s\n\t}\n}\n' "$2" \
		> "$REPO/firewall/plumb.nft"
	write_baseline "$1" "serial $1" 'firewall:
  backend: nftables
  tables: ["inet plumb"]
  ruleset: firewall/plumb.nft
'
	git -C "$REPO" -c user.signingkey="$KEYS/good" commit -q -S -m "baseline $1"
	git -C "$REPO" push -q -f "$T/srv/baselines.git" main
}
URL=https://localhost:$PORT/baselines.git
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 5s"
run_ns() { rc=0; inns "$PLUMB" -c "$CFG" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

publish 1 "tcp dport 9 reject"
run_ns apply
expect_rc 2 "apply baseline 1"
good=$(inns nft list table inet plumb)
C1=$(head_commit)

publish 2 "tcp dport $PORT reject with tcp reset"        # cuts off the git server
C2=$(head_commit)
run_ns apply
expect_rc 1 "apply of a baseline that locks the host out"
expect_err "cut this host off from its git remote"
expect_out "firewall:nftables:inet plumb: rolled-back rules"
[ "$(inns nft list table inet plumb)" = "$good" ] || fail "the previous tables were not restored"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C1" ] || fail "the anchor moved to a rolled-back commit"
[ "$(json_get "$STATE/lockout.json" 'd["commit"]')" = "$C2" ] || fail "the rolled-back commit was not recorded"

run_ns apply
expect_rc 1 "the rolled-back commit again"
expect_err "was rolled back: its firewall cut this host off"
[ "$(inns nft list table inet plumb)" = "$good" ] || fail "a refused baseline touched the firewall"

publish 3 "tcp dport 10 reject"
run_ns apply
expect_rc 2 "a newer good baseline"
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 3 ] || fail "the newer baseline was not anchored"
inns nft list table inet plumb | grep -q 'tcp dport 10 reject' || fail "the newer firewall is not in force"
