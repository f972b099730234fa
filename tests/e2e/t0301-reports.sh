#!/bin/bash
# Reports reach a real HTTPS control plane on loopback: spooled before any
# send, delivered with the bearer token (never logged), heartbeats when due;
# a dead server delays them (enforcement never waits), a 503/429 is retried
# after Retry-After, a 400 goes to spool/rejected/, a silent server and a
# wrong CA keep them spooled; mTLS client certificates work.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/tls.sh"
. "$TESTS_DIR/lib/reports.sh"
trap 'stop_hub; cleanup' EXIT

mk_tls "$T/tls"; mk_tls "$T/other"
TOKEN=tok-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$TOKEN" > "$T/token"; chmod 600 "$T/token"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
cfg() { # URL [CA]
	printf 'report:\n  url: %s\n  ca_file: %s\n  token_file: %s\n  heartbeat: 1h\n%s' "$1" "${2:-$T/tls/ca.pem}" "$T/token" "${3:-}" > "$T/agent.yaml"
}
drift() { echo "drift $1" > "$ROOT/etc/motd"; }
apply_() { run_plumb -c "$T/agent.yaml" --baseline-dir "$BL" apply; }

start_hub --token "$TOKEN" --script "$T/script"
URL=https://localhost:$HUB_PORT/v1/reports
cfg "$URL"

# live delivery with the token; the token appears nowhere in plumb's output
drift 1; apply_
expect_rc 2 "apply with drift"
[ "$(hub_count)" -eq 1 ] || fail "report not delivered live ($(cat "$HUBLOG"))"
grep -q "\"auth\": \"Bearer $TOKEN\"" "$HUBLOG" || fail "bearer token not sent"
[ "$(spool_count)" -eq 0 ] || fail "delivered report left in the spool"
grep -rq "$TOKEN" "$T/out" "$T/err" "$STATE" && fail "the token leaked into output or state"
id1=$(json_get "$STATE/last-report.json" 'd["id"]')
grep -q "\"id\": \"$id1\"" "$HUBLOG" || fail "the hub got another id than the run's"
# a heartbeat when due (first one), none again within the interval
apply_; expect_rc 0 "compliant apply"
[ "$(hub_count)" -eq 2 ] || fail "no heartbeat"
apply_
[ "$(hub_count)" -eq 2 ] || fail "a heartbeat before it was due"

# the server is down for several runs: nothing lost, enforcement unaffected
stop_hub
for i in 2 3 4; do
	drift "$i"; t0=$(date +%s); apply_; t1=$(date +%s)
	expect_rc 2 "apply $i with the hub down"; expect_content "$ROOT/etc/motd" hello
	[ $((t1 - t0)) -le 8 ] || fail "apply waited $((t1 - t0)) s on a dead hub"
done
[ "$(spool_count)" -eq 3 ] || fail "expected 3 spooled reports, found $(spool_count)"
run_plumb -c "$T/agent.yaml" status; expect_out "spool: 3 report(s) waiting"
start_hub --token "$TOKEN" --script "$T/script" --port "$HUB_PORT"
run_plumb -c "$T/agent.yaml" deliver
expect_rc 0 "deliver after the hub came back"; expect_out "3 delivered, 0 rejected, 0 waiting"
[ "$(hub_count)" -eq 5 ] || fail "not all spooled reports arrived"

# 503 with Retry-After: kept, not retried before the time, then delivered
echo "503 3" > "$T/script"
drift 5; apply_
[ "$(hub_count 503)" -eq 1 ] || fail "no 503 seen"
[ "$(spool_count)" -eq 1 ] || fail "a 503 must keep the report"
run_plumb -c "$T/agent.yaml" status; expect_out "last error: HTTP 503"
drift 6; apply_
[ "$(hub_count 503)" -eq 1 ] && [ "$(hub_count)" -eq 5 ] || fail "retried before Retry-After"
sleep 3
echo "429 1" > "$T/script"
run_plumb -c "$T/agent.yaml" deliver
[ "$(hub_count 429)" -eq 1 ] || fail "no 429 seen"
sleep 1.2
run_plumb -c "$T/agent.yaml" deliver
expect_rc 0 "deliver after 429"; [ "$(hub_count)" -eq 7 ] || fail "reports after 503/429 not delivered"

# 400: rejected, kept in spool/rejected/ with the reason, never retried
echo "400" > "$T/script"
drift 7; apply_
[ "$(hub_count 400)" -eq 1 ] || fail "no 400 seen"
ls "$STATE/spool/rejected/"*.json >/dev/null 2>&1 || fail "rejected report not kept"
grep -q 'HTTP 400' "$STATE"/spool/rejected/*.reason || fail "no reason kept"
run_plumb -c "$T/agent.yaml" deliver
[ "$(hub_count 400)" -eq 1 ] || fail "a rejected report was retried"
stop_hub

# a server that accepts and never answers: apply ends within its bound
python3 "$TESTS_DIR/lib/git_https_server.py" --stall --port-file "$T/stall.port" --lifetime 60 &
SP=$!
for _ in $(seq 1 100); do [ -s "$T/stall.port" ] && break; sleep 0.05; done
cfg "https://localhost:$(cat "$T/stall.port")/v1/reports"
drift 8; t0=$(date +%s); apply_; t1=$(date +%s)
kill "$SP"; wait "$SP" 2>/dev/null
expect_rc 2 "apply against a silent hub"; expect_content "$ROOT/etc/motd" hello
[ $((t1 - t0)) -le 10 ] || fail "apply took $((t1 - t0)) s against a silent hub"
[ "$(spool_count)" -ge 1 ] || fail "report lost against a silent hub"
note "apply against a silent hub took $((t1 - t0)) s (send budget 5 s)"

# a wrong CA: not delivered, kept
start_hub --token "$TOKEN"
cfg "https://localhost:$HUB_PORT/v1/reports" "$T/other/ca.pem"
before=$(spool_count)
run_plumb -c "$T/agent.yaml" deliver
expect_rc 2 "deliver with a wrong CA (reports wait)"
[ "$(spool_count)" -eq "$before" ] || fail "reports lost with a wrong CA"
run_plumb -c "$T/agent.yaml" status; expect_out "last error: SSL peer certificate"
stop_hub

# mTLS: the hub demands a client certificate from its CA
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/client.key" -out "$T/client.csr" \
	-subj "/CN=host-42" 2>/dev/null
openssl x509 -req -in "$T/client.csr" -CA "$T/tls/ca.pem" -CAkey "$T/tls/ca.key" -CAcreateserial \
	-out "$T/client.pem" -days 2 2>/dev/null
start_hub --client-ca "$T/tls/ca.pem"
cfg "https://localhost:$HUB_PORT/v1/reports"
run_plumb -c "$T/agent.yaml" deliver
expect_rc 2 "mTLS hub without a client certificate (reports wait)"
cfg "https://localhost:$HUB_PORT/v1/reports" "$T/tls/ca.pem" "  cert_file: $T/client.pem
  key_file: $T/client.key
"
run_plumb -c "$T/agent.yaml" deliver
expect_rc 0 "deliver with a client certificate"
grep -q '"client": "host-42"' "$HUBLOG" || fail "the hub saw no client certificate"
[ "$(spool_count)" -eq 0 ] || fail "spool not empty at the end"
