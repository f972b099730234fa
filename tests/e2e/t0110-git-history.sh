#!/bin/bash
# Signed history: every commit on the first-parent path from the anchor
# (exclusive) to the tip must be signed by an allowed key valid now. A signed
# tip on top of an unsigned commit, of one signed by an unknown key or by an
# expired key, and a signed merge whose first-parent path reaches the anchor
# only through unsigned commits (or not at all) are refused, naming the first
# offending commit, by plumb verify, plumb apply and plumbd --once. A merge's
# second parent needs no signature (its signer vouches for what it merges).
# The walk is bounded (10000 commits, then `plumb trust reset`); with no
# anchor only the tip is checked.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
: "${PLUMBD:=$(dirname "$PLUMB")/plumbd}"

mk_key good ed25519; allow ci@example.com good
mk_key old ed25519; allow old@example.com old 'valid-before="20200101"'
mk_key stranger ed25519
mk_repo
write_cfg
short() { echo "${1:0:12}"; }
sign_with() { git -C "$REPO" -c user.signingkey="$KEYS/$1" "${@:2}"; }

commit_signed good 1 A
A=$(head_commit)
run_cfg apply; expect_rc 2 "apply A"
cp -a "$STATE" "$T/state-A"   # every case below starts anchored at A

# refused_history BAD TEXT WHAT: verify, apply and plumbd --once refuse the
# tip naming commit BAD with TEXT; A stays enforced and anchored.
refused_history() {
	local tip; tip=$(head_commit)
	rm -rf "$STATE"; cp -a "$T/state-A" "$STATE"
	oracle "$tip" || fail "git verify-commit rejects the signed tip ($3)"
	run_cfg verify
	expect_rc 1 "verify ($3)"
	expect_err "commit $(short "$1") (" ; expect_err "$2"
	echo intruder > "$ROOT/etc/motd"
	run_cfg apply
	expect_rc 1 "apply ($3)"
	expect_err "commit $(short "$1") ("; expect_err "$2"
	expect_content "$ROOT/etc/motd" A
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$A" ] || fail "anchor moved ($3)"
	json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["resource"]=="baseline" and e["action"]=="refused"][0]' |
		grep -qF "commit $(short "$1") (" || fail "no refused event naming $(short "$1") ($3)"
	echo intruder > "$ROOT/etc/motd"
	rc=0; "$PLUMBD" -c "$CFG" --once >"$T/out" 2>"$T/err" || rc=$?
	expect_rc 1 "plumbd --once ($3)"
	expect_err "commit $(short "$1") ("
	expect_content "$ROOT/etc/motd" A
	git -C "$REPO" update-ref refs/heads/main "$A"
	git -C "$REPO" reset -q --hard "$A"
}

# 1. an unsigned commit changes /etc/motd; the pipeline signs on top
commit_unsigned 2 "written by nobody"
U=$(head_commit)
commit_signed good 3 "written by nobody"
refused_history "$U" "commit is not signed" "signed on top of an unsigned commit"
# the same two commits deep: the refusal names the first (oldest) offender
commit_unsigned 2 "first unsigned"; U1=$(head_commit)
commit_unsigned 3 "second unsigned"
commit_signed good 4 "second unsigned"
refused_history "$U1" "1 of 3 after the last applied $(short "$A")" "two unsigned commits deep"
# 2. through a commit signed by an unknown key
commit_signed stranger 2 "by a stranger"; S=$(head_commit)
commit_signed good 3 "by a stranger"
refused_history "$S" "signed by an unknown key $(fingerprint stranger)" "through an unknown key"
# 3. through a commit signed by a key outside its validity window (by this host's clock)
commit_signed old 2 "by a retired key"; O=$(head_commit)
commit_signed good 3 "by a retired key"
refused_history "$O" "outside its validity window by this host's clock" "through an expired key"
# 4. a signed merge whose first parent reaches the anchor through an unsigned commit
git -C "$REPO" checkout -q -b side "$A"
commit_signed good 2 "side"; SIDE=$(head_commit)
git -C "$REPO" checkout -q main
commit_unsigned 2 "unsigned mainline"; U=$(head_commit)
M=$(sign_with good commit-tree -S -p "$U" -p "$SIDE" -m "signed merge" "$(git -C "$REPO" rev-parse "$SIDE^{tree}")")
git -C "$REPO" update-ref refs/heads/main "$M"
refused_history "$U" "commit is not signed" "signed merge over an unsigned first parent"
# 5. a signed merge whose first parent does not reach the anchor at all
R=$(git -C "$REPO" commit-tree -m "unsigned root" "$(git -C "$REPO" rev-parse "$SIDE^{tree}")")
M=$(sign_with good commit-tree -S -p "$R" -p "$A" -m "signed merge" "$(git -C "$REPO" rev-parse "$SIDE^{tree}")")
git -C "$REPO" update-ref refs/heads/main "$M"
oracle "$M" || fail "oracle rejects the signed merge"
rm -rf "$STATE"; cp -a "$T/state-A" "$STATE"
run_cfg apply
expect_rc 1 "signed merge bypassing the anchor"
expect_err "only through a merge's second parent"
expect_content "$ROOT/etc/motd" A
git -C "$REPO" update-ref refs/heads/main "$A"
note "unsigned, unknown-key, expired-key intermediates and first-parent bypasses refused"

# 6. signed first-parent history with an unsigned second parent is accepted
git -C "$REPO" checkout -q -b contrib "$A"
commit_unsigned 2 "contributed"; CU=$(head_commit)
git -C "$REPO" checkout -q main; git -C "$REPO" reset -q --hard "$A"
commit_signed good 2 "mainline"
sign_with good merge -q -S --no-edit "$CU" >/dev/null 2>&1 || true
write_baseline 3 "merged"; sign_with good commit -q -S -m "baseline 3"
[ "$(git -C "$REPO" rev-list --count --merges HEAD)" = 1 ] || fail "no merge built"
run_cfg verify; expect_rc 0 "verify signed first-parent history over a merge"
run_cfg apply; expect_rc 2 "apply signed first-parent history over a merge"
expect_content "$ROOT/etc/motd" merged
ANCHOR=$(head_commit)

# 7. the walk is bounded: 10001 commits past the anchor, then a signed tip
{
	for i in $(seq 1 10001); do
		printf 'commit refs/heads/main\ncommitter pipeline <pipeline@example.com> %d +0000\ndata 2\n%d\n' $((1700000000 + i)) $((i % 10))
		[ "$i" -eq 1 ] && printf 'from %s\n' "$ANCHOR"
		echo
	done
} | git -C "$REPO" fast-import --quiet
commit_signed good 4 "far away"
run_cfg verify
expect_rc 1 "verify past the history bound"
expect_err "more than 10000 first-parent commits past the last applied commit $(short "$ANCHOR")"
expect_err "plumb trust reset"
run_cfg apply
expect_rc 1 "apply past the history bound"
expect_content "$ROOT/etc/motd" merged
FAR=$(head_commit)
# ... but a rollback with a long history of its own is called a rollback, and no reset is advised
{
	for i in $(seq 1 10001); do
		printf 'commit refs/heads/orphan\ncommitter pipeline <pipeline@example.com> %d +0000\ndata 2\n%d\n\n' $((1600000000 + i)) $((i % 10))
	done
} | git -C "$REPO" fast-import --quiet
git -C "$REPO" update-ref refs/heads/main refs/heads/orphan
commit_signed good 9 "unrelated"
run_cfg verify
expect_rc 1 "verify of a long unrelated history"
expect_err "rollback: tip $(short "$(head_commit)") does not descend from the last applied commit $(short "$ANCHOR")"
grep -q "trust reset" "$T/err" && fail "a reset advised for a rollback"
git -C "$REPO" update-ref refs/heads/main "$FAR"; git -C "$REPO" reset -q --hard "$FAR"
# the operator re-anchors deliberately: with no anchor only the tip is checked
run_cfg trust reset; expect_rc 0 "trust reset"
run_cfg apply; expect_rc 2 "apply after trust reset"
expect_content "$ROOT/etc/motd" "far away"
note "a 10001-commit walk refused with its reason; trust reset re-anchors"

# 8. first run (no anchor): only the tip is checked, unsigned history below it is not
rm -rf "$STATE"; mkdir -p "$STATE"
commit_unsigned 5 "unsigned below"
commit_signed good 6 "signed first tip"
run_cfg apply; expect_rc 2 "first run: the tip alone"
expect_content "$ROOT/etc/motd" "signed first tip"
