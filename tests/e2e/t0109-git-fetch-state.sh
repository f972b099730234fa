#!/bin/bash
# Fetch state never outlives a fetch: a remote that lost the configured ref
# (branch deleted or renamed, source.ref naming a ref that does not exist) is
# refused with its own reason by plumb verify, plumb apply and plumbd --once,
# never answered with the previous fetch's tip; the anchor stays reachable in
# the cache under refs/plumb/anchor; and a tag moved to a tree and back to a
# signed commit recovers by itself, over a local path and over file://.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
write_cfg

# the refusal and, for plumbd, that it is reported once per reason: verify, apply and plumbd --once refuse with
# "the remote has no REF"; the last good baseline (motd B) stays enforced.
refused_missing() {
	run_cfg verify
	expect_rc 1 "verify with $2"
	expect_err "the remote has no $1"
	echo intruder > "$ROOT/etc/motd"
	run_cfg apply
	expect_rc 1 "apply with $2"
	expect_err "the remote has no $1"
	expect_content "$ROOT/etc/motd" B
	[ "$(json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["resource"]=="baseline" and e["action"]=="refused"][0]')" = "the remote has no $1" ] \
		|| fail "no refused event 'the remote has no $1' ($2)"
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$B" ] || fail "anchor moved ($2)"
	echo intruder > "$ROOT/etc/motd"
	rc=0; "$PLUMBD" -c "$CFG" --once >"$T/out" 2>"$T/err" || rc=$?
	expect_rc 1 "plumbd --once with $2"
	expect_err "the remote has no $1"
	expect_content "$ROOT/etc/motd" B
	json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["action"]=="refused"][0]' | grep -qxF "the remote has no $1" \
		|| fail "plumbd --once: no refused event ($2)"
}

commit_signed good 1 A
commit_signed good 2 B
B=$(head_commit)
run_cfg apply; expect_rc 2 "apply B"
run_cfg verify; expect_rc 0 "verify B"
# the fetcher pins the anchor it is told at its next fetch (the parent no
# longer writes into the fetcher's cache)
[ "$(git -C "$STATE/cache.git" rev-parse refs/plumb/anchor)" = "$B" ] || fail "anchor not kept as refs/plumb/anchor"

# 1. the branch renamed away on the remote
git -C "$REPO" branch -q -m main elsewhere
refused_missing refs/heads/main "the branch renamed"
# the anchor is still in the cache, reachable, after fetches that brought nothing
[ "$(git -C "$STATE/cache.git" rev-parse refs/plumb/anchor)" = "$B" ] || fail "anchor ref lost"
git -C "$STATE/cache.git" cat-file -e "$B^{tree}" || fail "anchor's tree gone from the cache"
# 2. deleted outright (no branch at all, HEAD dangling)
git -C "$REPO" branch -q -m elsewhere main
git -C "$REPO" update-ref -d refs/heads/main
refused_missing refs/heads/main "the branch deleted"
# back: accepted again, and a newer signed commit applies
git -C "$REPO" update-ref refs/heads/main "$B"
run_cfg verify; expect_rc 0 "verify after the branch came back"
# 3. source.ref naming a ref that does not exist
write_cfg "  ref: refs/heads/nonesuch"
refused_missing refs/heads/nonesuch "source.ref missing"
write_cfg
commit_signed good 3 C
run_cfg apply; expect_rc 2 "apply C after the refusals"
expect_content "$ROOT/etc/motd" C
note "missing refs refused with their own reason by verify, apply and plumbd --once"

# the running plumbd: the branch vanishes, one refused event, the last good
# baseline enforced; the branch comes back with a newer commit, applied
write_cfg "interval:
  poll: 1s"
start_plumbd -c "$CFG"
git -C "$REPO" update-ref -d refs/heads/main
wait_until 10 'grep -q "baseline: refused: the remote has no refs/heads/main" $DLOG' || fail "plumbd: missing ref not refused"
sleep 2.5
[ "$(grep -c 'baseline: refused: the remote has no refs/heads/main' "$DLOG")" -eq 1 ] || fail "plumbd reported the missing ref more than once"
echo intruder > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat $ROOT/etc/motd)" = C ]' || fail "plumbd: last good baseline not enforced"
git -C "$REPO" update-ref refs/heads/main "$(git -C "$STATE/cache.git" rev-parse refs/plumb/anchor)"
git -C "$REPO" reset -q --hard main
commit_signed good 4 D
wait_until 10 '[ "$(cat $ROOT/etc/motd)" = D ]' || fail "plumbd: the returned branch not followed"
stop_plumbd
note "plumbd: one refusal while the branch is gone, then follows it again"

# 4. a tag moved to a tree, then back to a signed commit: recovers by itself
sign_tag() { git -C "$REPO" -c user.signingkey="$KEYS/good" tag -s -f "$1" -m "release" "$2" >/dev/null; }
for url in "$REPO" "file://$REPO"; do
	rm -rf "$STATE"; mkdir -p "$STATE"
	URL=$url write_cfg "  ref: refs/tags/release"
	commit_signed good 10 "tag ok"
	sign_tag release HEAD
	run_cfg apply; expect_rc 2 "apply the signed tag ($url)"
	expect_content "$ROOT/etc/motd" "tag ok"
	sign_tag release "HEAD^{tree}"
	run_cfg verify; expect_rc 1 "verify a tag of a tree ($url)"
	expect_err "does not point at a commit"
	run_cfg verify; expect_rc 1 "verify a tag of a tree again ($url)"
	expect_err "does not point at a commit"
	commit_signed good 11 "tag back"
	sign_tag release HEAD
	run_cfg verify; expect_rc 0 "verify after the tag points at a signed commit again ($url)"
	run_cfg apply; expect_rc 2 "apply after the tag came back ($url)"
	expect_content "$ROOT/etc/motd" "tag back"
done
note "tag -> tree -> signed commit recovers over a path and file://, no cache surgery"
