#!/bin/bash
# The real agent reports to the real hub: plumbd reverts drift in a sandbox
# root, plumb-send delivers the reports over HTTP on loopback with the
# host's agent token, and the hub's read API shows the host, the reverted
# event with its expected/actual, and warn-only drift as "drifting".
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/tls.sh"
trap 'stop_plumbd; stop_plumb_hub; cleanup' EXIT

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
    mode: "0644"
  - path: /etc/issue.net
    content: "authorized use only\n"
    enforce: warn
Y
echo "authorized use only" > "$ROOT/etc/issue.net"
HOST=$(hostname)
start_plumb_hub "$T/hub.db"
"$PLUMB_HUB" --db "$T/hub.db" token add "$HOST" > "$T/agent.token" 2>/dev/null || fail "token add"
chmod 600 "$T/agent.token"
VTOK=$("$PLUMB_HUB" --db "$T/hub.db" token add --viewer e2e 2>/dev/null)
printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n  heartbeat: 1h\n' "$HUB_URL" "$T/agent.token" > "$T/agent.yaml"

hub_get() { curl -s -o "$T/get.json" -w '%{http_code}' -H "Authorization: Bearer $VTOK" "$HUB_URL$1"; }
host_field() { json_get "$T/get.json" "[h for h in d['hosts'] if h['host'] == '$HOST'][0]$1"; }

start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
# The catch-up at start created /etc/motd: its report reaches the hub.
wait_until 20 '[ "$(hub_get "/v1/events?action=reverted&resource=file:/etc/motd")" = 200 ] && [ "$(json_get "$T/get.json" "len(d[\"events\"])")" -ge 1 ]' ||
	fail "the catch-up revert did not reach the hub: $(tail -3 "$DLOG") $(tail -3 "$HUBLOG")"
[ "$(json_get "$T/get.json" 'd["events"][0]["host"]')" = "$HOST" ] || fail "event host"
[ "$(json_get "$T/get.json" 'd["events"][0]["drift"]')" = "['missing']" ] || fail "catch-up drift kind"

# Real-time drift: reverted in the sandbox, visible in the hub.
echo intruder > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat "$ROOT/etc/motd")" = hello ]' || fail "not reverted"
wait_until 20 '[ "$(hub_get "/v1/events?action=reverted&resource=file:/etc/motd")" = 200 ] && [ "$(json_get "$T/get.json" "len(d[\"events\"])")" -ge 2 ]' ||
	fail "the revert did not reach the hub"
[ "$(json_get "$T/get.json" 'd["events"][0]["drift"]')" = "['content']" ] || fail "content drift kind"
json_get "$T/get.json" 'd["events"][0]["actual"]["diff"]' | grep -q '^+intruder' || fail "the hub lacks the diff"
[ "$(hub_get /v1/hosts)" = 200 ] || fail "hosts"
# Everything reverted, but from an unsigned directory: not "compliant" (issue 16).
[ "$(host_field '["status"]')" = unprotected ] || fail "host after a revert: $(host_field '["status"]')"
host_field '["reason"]' | grep -q 'no signed baseline' || fail "unprotected without its reason: $(host_field '["reason"]')"
[ "$(host_field '["baseline"]["signer"]')" = None ] || fail "unsigned dir baseline has no signer"

# Drift plumb must not repair (enforce: warn) leaves the host drifting.
echo "tampered" > "$ROOT/etc/issue.net"
wait_until 60 '[ "$(hub_get /v1/hosts)" = 200 ] && [ "$(host_field "[\"status\"]")" = drifting ]' ||
	fail "warn-only drift did not make the host drifting: $(cat "$T/get.json")"
expect_content "$ROOT/etc/issue.net" tampered
[ "$(hub_get "/v1/events?action=detected&resource=file:/etc/issue.net")" = 200 ] || fail "events"
[ "$(json_get "$T/get.json" 'len(d["events"])')" -ge 1 ] || fail "the detected event is missing"
rid=$(json_get "$T/get.json" 'd["events"][0]["report"]')
[ "$(hub_get "/v1/reports/$rid")" = 200 ] || fail "the report itself"
[ "$(json_get "$T/get.json" 'd["host"]')" = "$HOST" ] || fail "report host"
# Nothing is left undelivered in the agent's spool.
wait_until 20 '[ "$(spool_count)" = 0 ]' || fail "reports left in the spool: $(ls "$STATE/spool")"

# Over HTTPS, as in production: the same database behind --tls-cert/--tls-key,
# the agent verifying the hub against its CA.
stop_plumb_hub
mk_tls "$T/tls"
start_plumb_hub "$T/hub.db" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key"
HTTPS=https://localhost:$(cat "$T/hub.port")
printf 'report:\n  url: %s/v1/reports\n  token_file: %s\n  ca_file: %s\n' "$HTTPS" "$T/agent.token" "$T/tls/ca.pem" > "$T/agent.yaml"
echo "over tls" > "$ROOT/etc/motd"
plumb_bl apply -c "$T/agent.yaml"
expect_rc 2 "plumb apply reporting over HTTPS"
wait_until 20 '[ "$(spool_count)" = 0 ]' || fail "not delivered over HTTPS: $(ls "$STATE/spool") $(tail -3 "$HUBLOG")"
n=$(curl -s --cacert "$T/tls/ca.pem" -H "Authorization: Bearer $VTOK" "$HTTPS/v1/events?resource=file:/etc/motd&action=reverted" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))')
[ "$n" -ge 3 ] || fail "the HTTPS report is not in the hub ($n reverted motd events)"
# Plain HTTP to the TLS port gets nowhere.
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$T/hub.port")/healthz")" != 200 ] || fail "plain HTTP served on the TLS port"

# Client certificates instead of tokens (--tls-client-ca): the subject CN is
# the host. The agent reports with its certificate and no token; a
# certificate for another host, one from another CA, and one not meant for
# TLS clients are refused; tokens keep working beside certificates.
stop_plumb_hub
mk_tls "$T/clients"
mk_client_cert "$T/clients" "$HOST"
mk_client_cert "$T/clients" other-host
mk_client_cert "$T/clients" "$HOST-server" serverAuth
mk_client_cert "$T/clients" "$HOST-noeku" none
mk_client_cert "$T/clients" "$HOST-anyeku" "clientAuth, anyExtendedKeyUsage"
mk_client_cert "$T/clients" "$HOST-2"
mk_crl "$T/clients" "$T/clients/crl.pem" || fail "cannot make an empty CRL"
mk_tls "$T/rogue"; mk_client_cert "$T/rogue" "$HOST"
start_plumb_hub "$T/hub.db" --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" --tls-client-ca "$T/clients/ca.pem" \
	--tls-crl "$T/clients/crl.pem"
HTTPS=https://localhost:$(cat "$T/hub.port")
printf 'report:\n  url: %s/v1/reports\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n' "$HTTPS" "$T/tls/ca.pem" \
	"$T/clients/client-$HOST.pem" "$T/clients/client-$HOST.key" > "$T/agent.yaml"
echo "over mtls" > "$ROOT/etc/motd"
plumb_bl apply -c "$T/agent.yaml"
expect_rc 2 "plumb apply reporting with a client certificate"
wait_until 20 '[ "$(spool_count)" = 0 ]' || fail "not delivered with a client certificate: $(ls "$STATE/spool") $(tail -3 "$HUBLOG")"
post_cert() { # DIR CN: status of a POST of the last report with that client certificate
	curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls/ca.pem" --cert "$1/client-$2.pem" --key "$1/client-$2.key" \
		--data-binary @"$STATE/last-report.json" "$HTTPS/v1/reports"
}
python3 -c 'import json,sys,uuid; d=json.load(open(sys.argv[1])); d["id"]=str(uuid.uuid4()); json.dump(d,open(sys.argv[1],"w"))' "$STATE/last-report.json"
[ "$(post_cert "$T/clients" other-host)" = 403 ] || fail "a certificate for another host was not refused with 403"
[ "$(post_cert "$T/rogue" "$HOST")" = 401 ] || fail "a certificate from another CA was not refused with 401"
[ "$(post_cert "$T/clients" "$HOST-server")" = 401 ] || fail "a certificate not meant for clients was not refused with 401"
[ "$(post_cert "$T/clients" "$HOST")" = 201 ] || fail "the host's own certificate was refused"
# clientAuth exactly (issue 16.8): no extendedKeyUsage, or anyExtendedKeyUsage, is no agent.
[ "$(post_cert "$T/clients" "$HOST-noeku")" = 401 ] || fail "a certificate without extendedKeyUsage was not refused with 401"
[ "$(post_cert "$T/clients" "$HOST-anyeku")" = 401 ] || fail "a certificate with anyExtendedKeyUsage was not refused with 401"
# --tls-crl revokes one certificate, read again on SIGHUP; the others keep working.
mk_crl "$T/clients" "$T/clients/crl.new" "$T/clients/client-$HOST.pem" || fail "cannot make the CRL"
mv "$T/clients/crl.new" "$T/clients/crl.pem"
kill -HUP "$HUB_PID"
wait_until 20 '[ "$(post_cert "$T/clients" "$HOST")" = 401 ]' || fail "a revoked certificate still reports after SIGHUP"
grep -q "reload: CRLs read" "$HUBLOG" || fail "the reload was not logged"
python3 -c 'import json,sys,uuid; d=json.load(open(sys.argv[1])); d["id"]=str(uuid.uuid4()); d["host"]=sys.argv[2]; json.dump(d,open(sys.argv[1],"w"))' "$STATE/last-report.json" "$HOST-2"
[ "$(post_cert "$T/clients" "$HOST-2")" = 201 ] || fail "a certificate the CRL does not list was refused"
# A CRL the client CA did not sign is refused at start, and kept out on reload.
mk_crl "$T/rogue" "$T/rogue/crl.pem" || fail "cannot make the rogue CRL"
cp "$T/rogue/crl.pem" "$T/clients/crl.pem"
kill -HUP "$HUB_PID"
wait_until 20 'grep -q "not signed by --tls-client-ca; the CRLs in force stay" "$HUBLOG"' || fail "a foreign CRL was not refused on reload"
[ "$(post_cert "$T/clients" "$HOST")" = 401 ] || fail "a refused reload dropped the CRL in force"
rc=0; "$PLUMB_HUB" --db "$T/hub.db" --listen 127.0.0.1:0 --tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" \
	--tls-client-ca "$T/clients/ca.pem" --tls-crl "$T/rogue/crl.pem" 2>"$T/err" || rc=$?
expect_rc 1 "--tls-crl signed by another CA"; expect_err "not signed by --tls-client-ca"
# a certificate never reads
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls/ca.pem" --cert "$T/clients/client-$HOST-2.pem" \
	--key "$T/clients/client-$HOST-2.key" "$HTTPS/v1/hosts")" = 403 ] || fail "a client certificate could read"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls/ca.pem" -H "Authorization: Bearer $VTOK" "$HTTPS/v1/hosts")" = 200 ] ||
	fail "viewer tokens stopped working with --tls-client-ca"
rc=0; "$PLUMB_HUB" --db "$T/hub.db" --listen 127.0.0.1:0 --tls-client-ca "$T/clients/ca.pem" 2>"$T/err" || rc=$?
expect_rc 1 "--tls-client-ca without TLS"; expect_err "needs --tls-cert"
