#!/bin/bash
# Signed baselines from a real git repository, for every key type: plumb's
# verdict agrees with `git verify-commit`, the fingerprint with ssh-keygen,
# and apply enforces the verified tree and records the anchor.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_repo
serial=0
for kt in "ed25519" "ecdsa 256" "ecdsa 384" "ecdsa 521" "rsa 3072"; do
	set -- $kt
	name=$1${2:-}
	mk_key "$name" "$1" "${2:-}"
	allow "$name@example.com" "$name"
	serial=$((serial + 1))
	commit_signed "$name" "$serial" "signed by $name"
	c=$(head_commit)
	oracle "$c" || fail "git verify-commit rejects the $name fixture"
	write_cfg
	run_cfg verify
	expect_rc 0 "verify ($name)"
	expect_out "commit      $c"
	expect_out "signer      $name@example.com"
	expect_out "fingerprint $(fingerprint "$name")"
	expect_out "serial      $serial"
	run_cfg apply
	expect_rc 2 "apply ($name)"
	expect_content "$ROOT/etc/motd" "signed by $name"
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$c" ] || fail "anchor not recorded for $name"
	[ "$(json_get "$STATE/last-report.json" 'd["baseline"]["signer"]')" = "$name@example.com" ] || fail "report signer"
	[ "$(json_get "$STATE/last-report.json" 'd["baseline"]["commit"]')" = "$c" ] || fail "report commit"
	[ "$(json_get "$STATE/last-report.json" 'd["baseline"]["fingerprint"]')" = "$(fingerprint "$name")" ] || fail "report fingerprint"
done
note "5 key types verified, applied, anchored"

# unchanged tip: compliant, exit 0, anchor unchanged
run_cfg apply
expect_rc 0 "apply of an unchanged tip"
# drift is reverted from the verified tree
echo intruder > "$ROOT/etc/motd"
run_cfg apply
expect_rc 2 "revert from the signed tree"
expect_content "$ROOT/etc/motd" "signed by rsa3072"
# check uses the git source too and changes nothing
echo intruder > "$ROOT/etc/motd"
run_cfg check
expect_rc 2 "check"
expect_content "$ROOT/etc/motd" intruder
# the cache is bare: nothing checked out anywhere under state_dir
[ -z "$(find "$STATE" -name baseline.yaml)" ] || fail "a working tree was written"

# a fetch killed mid-way may leave a ref lock: the next fetch still works
touch "$STATE/cache.git/refs/plumb/fetched.lock"
commit_signed ed25519 6 "after a stale lock"
run_cfg apply
expect_rc 2 "apply after a stale fetch lock"
expect_content "$ROOT/etc/motd" "after a stale lock"
# file:// URLs work like paths
URL=file://$REPO write_cfg
run_cfg verify
expect_rc 0 "verify over file://"
