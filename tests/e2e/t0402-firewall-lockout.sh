#!/bin/bash
# The lock-out guard: a new signed baseline whose firewall cuts the host off
# from its git remote is rolled back (previous tables restored, rolled-back
# events, exit 1), the anchor does not move, the commit stays refused, and a
# newer good baseline is accepted. Then the same under plumbd, whose loop
# probes without waiting: drift is reverted and the watchdog pinged while
# the probe hangs (the new firewall drops the git server's packets), and
# the rollback follows the probe's end. All inside a network namespace the test
# creates, with the git server on that namespace's own loopback.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/daemon.sh"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
command -v nft >/dev/null || skip "nft (nftables) is not installed"
NS=plumblock-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace here"
inns() { ip netns exec "$NS" "$@"; }
trap 'stop_plumbd; kill $SRV $N 2>/dev/null; ip netns del "$NS" 2>/dev/null; cleanup' EXIT
inns ip link set lo up

mk_key good ed25519; allow ci@example.com good
mk_repo; mk_tls "$T/tls"
git -C "$REPO" commit -q --allow-empty -m init
git init -q --bare "$T/srv/baselines.git"
# not through the inns function: $! must be the server itself (ip netns exec execs it)
ip netns exec "$NS" python3 "$TESTS_DIR/lib/git_https_server.py" --root "$T/srv" --cert "$T/tls/server.pem" \
	--key "$T/tls/server.key" --port-file "$T/port" --lifetime 180 >"$T/srv.log" 2>&1 &
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

# --- plumbd: the guard's probe is a fetch the loop waits for, not a call ---
good=$(inns nft list table inet plumb)
C3=$(head_commit)
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 8s
interval:
  poll: 1s"
notify_listen "$T/notify.sock" "$T/notify.log" 60
N=$NL
rm -f "$STATE/plumb.prom"
# not through inns: $! must be plumbd itself (ip netns exec and env exec it)
ip netns exec "$NS" env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=400000 \
	"$PLUMBD" -c "$CFG" >>"$DLOG" 2>&1 &
PD=$!
wait_until 20 '[ -s "$STATE/plumb.prom" ]' || fail "plumbd did not start: $(tail -5 "$DLOG")"
expect_content "$ROOT/etc/motd" "serial 3"

publish 4 "tcp dport $PORT drop"            # the probe's packets vanish: it hangs to its deadline
C4=$(head_commit)
wait_until 10 "grep -q 'probing the git remote through the new firewall of commit ${C4:0:12}' \"\$DLOG\"" ||
	fail "plumbd did not probe commit 4's firewall: $(tail -5 "$DLOG")"
inns nft list table inet plumb | grep -q "tcp dport $PORT drop" || fail "commit 4's firewall is not in force"
# while the probe hangs: drift of commit 4's files is reverted, again and again
for i in 1 2 3; do
	echo "intruder $i" > "$ROOT/etc/motd"
	wait_until 3 '[ "$(cat "$ROOT/etc/motd")" = "serial 4" ]' || fail "drift $i not reverted while the probe hung"
	! grep -q "cut this host off" "$DLOG" || fail "drift $i was reverted only after the probe ended"
	sleep 0.5
done
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C3" ] || fail "the anchor moved before the probe answered"
# the probe's end decides: rolled back, refused, back to the anchor
wait_until 15 "[ \"\$(json_get '$STATE/lockout.json' 'd[\"commit\"]')\" = $C4 ]" ||
	fail "the probe's failure did not roll commit 4 back: $(tail -5 "$DLOG")"
grep -q "firewall:nftables:inet plumb: rolled-back" "$DLOG" || fail "no rolled-back event from plumbd"
[ "$(inns nft list table inet plumb)" = "$good" ] || fail "plumbd did not restore the previous tables"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C3" ] || fail "the anchor moved to a rolled-back commit"
wait_until 5 '[ "$(cat "$ROOT/etc/motd")" = "serial 3" ]' || fail "plumbd did not go back to the anchor's files"
wait_until 5 'grep -q "was rolled back: its firewall cut this host off" "$DLOG"' ||
	fail "the next fetch of the rolled-back commit was not refused"
gap=$(watchdog_gap "$T/notify.log")
note "watchdog while the probe hung: ${gap% *} pings, longest gap ${gap#* } s (interval 0.2 s)"
awk -v g="${gap#* }" 'BEGIN { exit !(g <= 1.0) }' || fail "watchdog gap ${gap#* } s > 1 s during the probe"

publish 5 "tcp dport 11 reject"              # reachable: anchored once the probe answers
C5=$(head_commit)
wait_until 15 "[ \"\$(json_get '$STATE/trust.json' 'd[\"commit\"]')\" = $C5 ]" ||
	fail "plumbd did not anchor commit 5 after its probe: $(tail -5 "$DLOG")"
grep -q "the git remote still answers through the firewall of commit ${C5:0:12}" "$DLOG" ||
	fail "commit 5 was anchored without a probe"
inns nft list table inet plumb | grep -q 'tcp dport 11 reject' || fail "commit 5's firewall is not in force"
expect_content "$ROOT/etc/motd" "serial 5"
stop_plumbd
