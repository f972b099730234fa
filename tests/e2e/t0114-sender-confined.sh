#!/bin/bash
# plumb-send (the only program linking libcurl) confines itself before it
# speaks to the network: NoNewPrivs, a seccomp filter, and Landlock where
# the kernel has it (only its spool written; config, token and CA read).
# It still runs as root: the spool is root's (docs/PRIVSEP.md).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_hub; kill ${AP:-} 2>/dev/null; wait 2>/dev/null; cleanup' EXIT

mk_tls "$T/tls"
printf 'tok-e2e-sender\n' > "$T/token"; chmod 600 "$T/token"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
start_hub --token tok-e2e-sender --delay 4
printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n  token_file: %s\n' "$HUB_PORT" \
	"$T/tls/ca.pem" "$T/token" > "$T/agent.yaml"
echo drift > "$ROOT/etc/motd"
"$PLUMB" -c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" apply >"$T/out" 2>"$T/err" &
AP=$!
S=
for _ in $(seq 1 150); do
	S=$(pgrep -P "$AP" -x plumb-send | head -1)
	[ -n "$S" ] && grep -Eq '^Seccomp:\s+2$' "/proc/$S/status" 2>/dev/null && break
	sleep 0.02
done
[ -n "$S" ] || fail "plumb-send was not seen"
st=/proc/$S/status
grep -Eq '^NoNewPrivs:\s+1$' "$st" || fail "plumb-send NoNewPrivs: $(grep NoNewPrivs "$st")"
grep -Eq '^Seccomp:\s+2$' "$st" || fail "plumb-send Seccomp: $(grep ^Seccomp: "$st")"
note "plumb-send $S: $(grep -E '^(Uid|NoNewPrivs|Seccomp):' "$st" | tr -s '\t ' ' ' | tr '\n' ';') (uid 0: not dropped yet)"
ls -l "/proc/$S/fd" | awk 'NR > 1 {print $NF}' | grep -q "$STATE/lock" && fail "plumb-send holds the state lock fd"
wait "$AP"; rc=$?; AP=
expect_rc 2 "apply with a slow control plane"
wait_until() { local end=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -le "$end" ]; do eval "$2" && return 0; sleep 0.1; done; return 1; }
wait_until 10 '[ "$(hub_count 200)" -ge 1 ]' || fail "the confined plumb-send delivered nothing: $(cat "$T/err")"
[ "$(spool_count)" -eq 0 ] || fail "the delivered report stayed in the spool"
