#!/bin/bash
# plumb-send (the only program linking libcurl) splits in two before it
# speaks to the network: itself, root, keeps the spool (NoNewPrivs, seccomp,
# Landlock on spool/ only); a child as the plumb user runs libcurl with the
# token and TLS files handed over in memory (NoNewPrivs, seccomp, Landlock
# with no directory of its own). What the child cannot do is shown by the
# probe with the same call and profile. A child that dies mid-request loses
# nothing; without the user it runs as root and says "weaker confinement".
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
PROBE=${PLUMB_PROBE:-$(dirname "$PLUMB")/tests/plumb-sandbox-probe}
[ "$(id -u)" -eq 0 ] || skip "needs root (to create a user and drop to it)"
command -v useradd >/dev/null || skip "useradd missing"
U=plumbs$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" || fail "useradd $U"
trap 'stop_hub; kill ${AP:-} 2>/dev/null; wait 2>/dev/null; userdel "$U" 2>/dev/null; cleanup' EXIT
UID_U=$(id -u "$U")

mk_tls "$T/tls"
printf 'tok-e2e-sender\n' > "$T/token"; chmod 600 "$T/token"
chmod 600 "$T/tls/ca.pem"     # root's alone: the child gets it in memory
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
start_hub --token tok-e2e-sender --delay 4
printf 'user: %s\nreport:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n  token_file: %s\n' "$U" "$HUB_PORT" \
	"$T/tls/ca.pem" "$T/token" > "$T/agent.yaml"
wait_until() { local end=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -le "$end" ]; do eval "$2" && return 0; sleep 0.1; done; return 1; }
# catch AP: sets M (plumb-send, the spool keeper) and C (its network child)
catch_sender() {
	M= C=
	for _ in $(seq 1 200); do
		M=$(pgrep -P "$AP" -x plumb-send | head -1)
		[ -n "$M" ] && C=$(pgrep -P "$M" | head -1)
		[ -n "$C" ] && grep -Eq '^Seccomp:\s+2$' "/proc/$C/status" 2>/dev/null &&
			grep -Eq '^Seccomp:\s+2$' "/proc/$M/status" 2>/dev/null && return 0
		sleep 0.02
	done
	fail "plumb-send and its network child were not seen (keeper '${M}', child '${C}')"
}

echo drift > "$ROOT/etc/motd"
"$PLUMB" -c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" apply >"$T/out" 2>"$T/err" &
AP=$!
catch_sender
st=/proc/$C/status
uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4}' "$st")
[ "$uid" = "$UID_U,$UID_U,$UID_U" ] || fail "network child uids $uid, expected $UID_U"
grep -q "^Gid:.*$(id -g "$U")" "$st" || fail "network child gid"
grep -Eq '^Groups:\s*$' "$st" || fail "network child kept supplementary groups: $(grep ^Groups "$st")"
grep -Eq '^NoNewPrivs:\s+1$' "$st" || fail "network child NoNewPrivs: $(grep NoNewPrivs "$st")"
grep -Eq '^Seccomp:\s+2$' "$st" || fail "network child Seccomp: $(grep ^Seccomp: "$st")"
note "network child $C: $(grep -E '^(Uid|NoNewPrivs|Seccomp):' "$st" | tr -s '\t ' ' ' | tr '\n' ';')"
fds=$(ls -l "/proc/$C/fd" | awk 'NR > 1 {print $NF}')
echo "$fds" | grep -Eq "$STATE|$ROOT|$T/token|$T/tls" && fail "the network child holds a file of the parent: $fds"
[ "$(echo "$fds" | grep -c .)" -le 8 ] || fail "the network child holds many fds: $fds"
mst=/proc/$M/status
grep -Eq '^Uid:\s+0\s' "$mst" || fail "the spool keeper is not root: $(grep ^Uid "$mst")"
grep -Eq '^NoNewPrivs:\s+1$' "$mst" || fail "spool keeper NoNewPrivs: $(grep NoNewPrivs "$mst")"
note "spool keeper $M: $(grep -E '^(Uid|NoNewPrivs|Seccomp):' "$mst" | tr -s '\t ' ' ' | tr '\n' ';')"
ls -l "/proc/$M/fd" | awk 'NR > 1 {print $NF}' | grep -q "$STATE/lock$" && fail "plumb-send holds the state lock fd"
wait "$AP"; rc=$?; AP=
expect_rc 2 "apply with a slow control plane"
wait_until 10 '[ "$(hub_count 200)" -ge 1 ]' || fail "the confined plumb-send delivered nothing: $(cat "$T/err")"
wait_until 5 '[ "$(spool_count)" -eq 0 ]' || fail "the delivered report stayed in the spool"
# (the server answers 200 only to the right bearer token: the token reached it)

# what the network child's confinement allows (the probe: the same call, the send profile)
if [ -x "$PROBE" ]; then
	mkdir -p "$T/pdir"; chmod 0777 "$T/pdir"
	out=$("$PROBE" "send:$U" "$T/pdir" read:/etc/shadow read:"$T/token" read:"$STATE/spool" \
		write:"$T/pdir/x" write:"$STATE/spool/evil.json" write:/tmp/plumb-i15s-probe-$$ status 2>&1)
	note "$(echo "$out" | tr '\n' ';')"
	echo "$out" | grep -q "^read /etc/shadow: EACCES$" || fail "the network child could open /etc/shadow"
	echo "$out" | grep -q "^read $T/token: EACCES$" || fail "the network child could read the token file"
	echo "$out" | grep -q "^write $STATE/spool/evil.json: EACCES$" || fail "the network child could write the spool"
	echo "$out" | grep -q "^write $T/pdir/x: EACCES$" ||
		fail "the network child could write its working directory (a world-writable one)"
	abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
	if [ "$abi" -gt 0 ]; then
		echo "$out" | grep -q "^write /tmp/plumb-i15s-probe-$$: EACCES$" || fail "landlock ABI $abi, yet the network child writes /tmp"
		o2=$("$PROBE" "send:$U" "$T/pdir" read:"$ROOT/etc/motd" read:/etc/passwd 2>&1)
		[ "$o2" = "read $ROOT/etc/motd: EACCES
read /etc/passwd: EACCES" ] || fail "landlock ABI $abi, yet the network child reads outside what it needs: $o2"
	fi
	rm -f "/tmp/plumb-i15s-probe-$$"
else
	note "no sandbox probe at $PROBE: the confinement checks are skipped (make check-e2e builds it)"
fi

# a network child killed mid-request: the report stays, the keeper says so
echo drift2 > "$ROOT/etc/motd"
n200=$(hub_count 200)
"$PLUMB" -c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" apply >"$T/out" 2>"$T/err" &
AP=$!
catch_sender
sleep 0.5
kill -KILL "$C"
wait "$AP"; rc=$?; AP=
expect_rc 2 "apply whose sender was killed"
expect_err "the report sender died or hung"
[ "$(spool_count)" -ge 1 ] || fail "the report was lost when the network child died"
[ "$(hub_count 200)" -eq "$n200" ] || fail "a report was delivered although the child died"
json_get "$STATE/spool/stats.json" 'd["last_error"]' | grep -q "died or hung" || fail "stats.json lacks the error"
rc=0; "$PLUMB" -c "$T/agent.yaml" --state-dir "$STATE" deliver >"$T/out" 2>"$T/err" || rc=$?
expect_rc 0 "deliver after the killed child"
[ "$(spool_count)" -eq 0 ] || fail "the kept report was not delivered on the next pass"

# without the user: root, everything else still applied, and said
stop_hub; start_hub --token tok-e2e-sender
printf 'user: %s\nreport:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n  token_file: %s\n' "$U" "$HUB_PORT" \
	"$T/tls/ca.pem" "$T/token" > "$T/agent.yaml"
userdel "$U"
echo drift3 > "$ROOT/etc/motd"
rc=0; "$PLUMB" -c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" apply >"$T/out" 2>"$T/err" || rc=$?
expect_rc 2 "apply without the user"
expect_err "the report sender runs as root"
expect_err "weaker confinement"
wait_until 10 '[ "$(spool_count)" -eq 0 ]' || fail "no delivery without the user: $(cat "$T/err")"
