#!/bin/bash
# Fetch over https from a real git http-backend behind TLS on loopback: the
# right CA verifies and applies; a wrong CA is refused; a server that accepts
# and never answers is cut off by the watchdog within the configured bound.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
command -v openssl >/dev/null || skip "openssl missing"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "over https"
git clone -q --bare "$REPO" "$T/srv/baselines.git"
mk_tls "$T/tls"; mk_tls "$T/other"

start_server() { # ARGS... ; sets PORT, SRV_PID
	rm -f "$T/port"
	python3 "$TESTS_DIR/lib/git_https_server.py" --port-file "$T/port" --lifetime 120 "$@" 2>"$T/server.log" &
	SRV_PID=$!
	for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	[ -s "$T/port" ] || fail "server did not start: $(cat "$T/server.log")"
	PORT=$(cat "$T/port")
}
stop_server() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; }

start_server --root "$T/srv" --cert "$T/tls/server.pem" --key "$T/tls/server.key"
URL=https://localhost:$PORT/baselines.git
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 20s"
run_cfg verify
expect_rc 0 "verify over https"
expect_out "signer      ci@example.com"
run_cfg apply
expect_rc 2 "apply over https"
expect_content "$ROOT/etc/motd" "over https"
grep -q 'git-upload-pack' "$T/server.log" || fail "the server saw no fetch"

# the branch deleted on the server: refused with its own reason, not the old tip
cp -a "$STATE" "$T/state-1"
SRV=$T/srv/baselines.git
C1=$(git -C "$SRV" rev-parse refs/heads/main)
git -C "$SRV" update-ref -d refs/heads/main
run_cfg verify
expect_rc 1 "verify over https without the branch"
expect_err "the remote has no refs/heads/main"
git -C "$SRV" update-ref refs/heads/main "$C1"
# a tag moved to a tree and back to a signed commit recovers over https too
sign_tag() { git -C "$REPO" -c user.signingkey="$KEYS/good" tag -s -f release -m release "$1" >/dev/null; git -C "$REPO" push -q -f "$SRV" refs/tags/release; }
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 20s
  ref: refs/tags/release"
commit_signed good 2 "tagged over https"; git -C "$REPO" push -q "$SRV" main
sign_tag HEAD
run_cfg apply; expect_rc 2 "apply a signed tag over https"
sign_tag "HEAD^{tree}"
run_cfg verify; expect_rc 1 "a tag of a tree over https"
commit_signed good 3 "tag back over https"; git -C "$REPO" push -q "$SRV" main
sign_tag HEAD
run_cfg apply; expect_rc 2 "apply after the tag came back over https"
expect_content "$ROOT/etc/motd" "tag back over https"
# with no anchor (verify only, as audit hosts run), a new tip still fetches
# only what is new: the previous tip is kept as a negotiation hint
rm -rf "$STATE"; mkdir -p "$STATE"
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 20s"
run_cfg verify; expect_rc 0 "verify with no anchor"
commit_signed good 4 "one more"; git -C "$REPO" push -q "$SRV" main
run_cfg verify; expect_rc 0 "verify the next tip with no anchor"
newest=$(ls -t "$STATE"/cache.git/objects/pack/*.idx | head -1)
got=$(git show-index < "$newest" | wc -l)
all=$(git -C "$SRV" rev-list --objects --all | wc -l)
[ "$got" -lt 10 ] || fail "the second fetch brought $got objects of $all: the whole history again"
note "second fetch with no anchor: $got objects (repository: $all)"
rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"   # back to baseline 1 for the cases below

# the wrong CA: refused, nothing new applied, the anchor kept
write_cfg "  ca_file: $T/other/ca.pem
  timeout: 20s"
run_cfg apply
expect_rc 1 "wrong CA"
expect_err "fetch from 'https://localhost:$PORT/baselines.git' failed"
expect_err "the SSL certificate is invalid"
expect_content "$ROOT/etc/motd" "over https"
stop_server

# a server that accepts and never answers: cut off at source.timeout
start_server --stall
URL=https://localhost:$PORT/baselines.git
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 3s"
t0=$(date +%s)
run_cfg verify
t1=$(date +%s)
stop_server
expect_rc 1 "stalled server"
expect_err "timed out after 3 s"
[ $((t1 - t0)) -le 10 ] || fail "a stalled fetch took $((t1 - t0)) s with a 3 s bound"
note "stalled fetch ended after $((t1 - t0)) s (bound 3 s)"
