#!/bin/bash
# Every way a tip must be refused: unsigned, unknown key, tampered content,
# wrong namespace, expired key (also with a backdated commit), rollback,
# non-increasing serial, gpgsig hidden in the message, a NUL byte, an expired
# baseline, a symlink source. Each: exit 1, a refused event with the reason,
# the last good baseline still enforced, and the anchor unchanged.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_key good ed25519; allow ci@example.com good
mk_key stranger ed25519
mk_repo
write_cfg

# refused_with TEXT [ORACLE=bad|good]: apply refuses with TEXT; last good (B) enforced
refused_with() {
	local tip
	tip=$(head_commit)
	if [ "${2:-bad}" = bad ] && oracle "$tip"; then fail "git verify-commit accepts a tip plumb must refuse ($1)"; fi
	echo intruder > "$ROOT/etc/motd"
	run_cfg apply
	expect_rc 1 "apply of a refused tip ($1)"
	expect_err "$1"
	expect_content "$ROOT/etc/motd" "B"          # the last good baseline, enforced
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$B" ] || fail "anchor moved ($1)"
	[ "$(json_get "$STATE/last-report.json" '[e["action"] for e in d["events"] if e["resource"]=="baseline"][0]')" = refused ] \
		|| fail "no refused event ($1)"
	json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["resource"]=="baseline"][0]' | grep -qF "$1" \
		|| fail "refused event lacks the reason ($1)"
	run_cfg verify
	expect_rc 1 "verify of a refused tip ($1)"
	git -C "$REPO" update-ref refs/heads/main "$B"   # back to the good tip
}

# first run with an unsigned tip and no anchor: nothing to enforce
commit_unsigned 1 A
run_cfg apply
expect_rc 1 "unsigned first tip"
expect_err "commit is not signed"
expect_missing "$ROOT/etc/motd"
expect_missing "$STATE/trust.json"

commit_signed good 1 A
run_cfg apply; expect_rc 2 "apply A"
commit_signed good 2 B
B=$(head_commit)
run_cfg apply; expect_rc 2 "apply B"; expect_content "$ROOT/etc/motd" B

# 1. unsigned
commit_unsigned 3 C
refused_with "commit is not signed"
# 2. unknown key
commit_signed stranger 3 C
refused_with "signed by an unknown key $(fingerprint stranger)"
# 3. tampered: B's signature carried onto changed content
git -C "$REPO" cat-file commit "$B" | sed 's/^baseline 2$/baseline 2, altered/' > "$T/raw"
grep -q altered "$T/raw" || fail "could not tamper"
forge_commit "$T/raw" >/dev/null
refused_with "bad signature"
# 4. namespace other than git: sign the unsigned object with -n file
commit_unsigned 3 C
git -C "$REPO" cat-file commit HEAD > "$T/payload"
ssh-keygen -q -Y sign -n file -f "$KEYS/good" "$T/payload"
awk -v sig="$T/payload.sig" '
	/^committer / && !done { print; printf "gpgsig"; while ((getline l < sig) > 0) printf " %s\n", l; done=1; next } { print }' \
	"$T/payload" > "$T/raw"
forge_commit "$T/raw" >/dev/null
refused_with "signature namespace is 'file', not 'git'"
# 5. gpgsig lines hidden in the message of an unsigned commit
{ git -C "$REPO" cat-file commit "$B" | sed -n '1,/^$/p' | grep -v '^gpgsig\|^ '; echo; echo 'baseline 3';
  git -C "$REPO" cat-file commit "$B" | sed -n '/^gpgsig/,/END SSH SIGNATURE/p'; } > "$T/raw"
grep -q '^gpgsig' "$T/raw" || fail "could not hide gpgsig"
forge_commit "$T/raw" >/dev/null
refused_with "commit is not signed"
# 6. a NUL byte in an otherwise signed object
git -C "$REPO" cat-file commit "$B" > "$T/raw"; printf 'x\0y\n' >> "$T/raw"
forge_commit "$T/raw" >/dev/null
refused_with "commit object contains a NUL byte"
# 7. rollback to the older signed commit A
git -C "$REPO" update-ref refs/heads/main "$(head_commit "$B~1")"
refused_with "rollback: tip" good
# 8. serial not increasing
commit_signed good 2 C
refused_with "serial 2 of tip" good
# 9. a new tip whose baseline already expired
commit_signed good 3 C "expires: 2001-01-01T00:00:00Z
"
refused_with "already expired" good
# 10. a source: that is a symlink in the repository
ln -s motd "$REPO/files/link"
write_baseline 3 C "  - path: /etc/issue
    source: files/link
"
git -C "$REPO" -c user.signingkey="$KEYS/good" commit -q -S -m "baseline 3 with a symlink"
refused_with "'files/link' in commit" good
git -C "$REPO" rm -q files/link

# 11. key expired per allowed_signers, and a backdated commit signed with it
: > "$SIGNERS"; allow ci@example.com good 'valid-before="20200101"'
commit_signed good 3 C
refused_with "outside its validity window by this host's clock" good
GIT_COMMITTER_DATE="2019-06-01T00:00:00Z" GIT_AUTHOR_DATE="2019-06-01T00:00:00Z" commit_signed good 3 C
oracle "$(head_commit)" || fail "expected git to accept the backdated commit (it checks the commit date)"
refused_with "outside its validity window by this host's clock" good
note "git verify-commit accepts the backdated commit; plumb judges by its own clock and refuses it"
# a key restricted to another namespace
: > "$SIGNERS"; allow ci@example.com good 'namespaces="file"'
commit_signed good 3 C
refused_with "is not allowed to sign in namespace 'git'" good

# the operator re-anchors deliberately; an older signed commit is then accepted
: > "$SIGNERS"; allow ci@example.com good
git -C "$REPO" update-ref refs/heads/main "$(head_commit "$B~1")"
run_cfg trust reset
expect_rc 0 "trust reset"
expect_err "WARNING: rollback protection re-anchored by operator: forgot commit $B"
run_cfg apply
expect_rc 2 "apply after re-anchoring"
expect_content "$ROOT/etc/motd" A

# A remote that keeps serving refused tips must not fill the disk: what a
# refused tip brought leaves the parent's store, and the fetcher's cache is
# discarded once it holds more than source.max_size (here 3 MiB). 12
# force-pushed unsigned tips of 1 MiB of fresh junk each used to leave
# 12 MiB in each.
write_cfg "  max_size: 3M"
A2=$(head_commit)
base=$(du -sk "$STATE/objects.plumb" | cut -f1)
for i in $(seq 1 12); do
	git -C "$REPO" reset -q --hard "$A2"     # force-pushed: each tip a fresh 1 MiB on the anchor
	head -c 1048576 /dev/urandom > "$REPO/files/junk"
	commit_unsigned $((100 + i)) "evil $i"
	run_cfg apply
	expect_rc 1 "apply of refused junk tip $i"
	expect_err "is not signed"
	expect_content "$ROOT/etc/motd" A
done
store=$(du -sk "$STATE/objects.plumb" | cut -f1)
cache=$(du -sk "$STATE/cache.git" 2>/dev/null | cut -f1)
note "after 12 refused 1 MiB tips: store $store KiB (was $base), cache ${cache:-0} KiB (max_size 3 MiB)"
[ "$store" -le $((base + 256)) ] || fail "refused tips' objects stay in the store: $store KiB (was $base)"
[ "${cache:-0}" -le 7168 ] || fail "the fetcher's cache grew to $cache KiB with refused tips (max_size 3 MiB)"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$A2" ] || fail "the anchor moved during the junk tips"
# a cache of many tiny files (the fetcher's tree, another user's) is not
# walked to its end: past 100,000 entries it is discarded too
git -C "$REPO" reset -q --hard "$A2"
commit_unsigned 150 "evil files"
run_cfg apply                                    # the cache exists again
python3 -c 'import os, sys
d = os.path.join(sys.argv[1], "cache.git", "objects", "junk"); os.makedirs(d)
for i in range(100001): open(os.path.join(d, str(i)), "w").close()' "$STATE"
run_cfg apply
expect_rc 1 "apply of a refused tip with a cache of 100,001 files"
[ ! -e "$STATE/cache.git/objects/junk" ] || fail "a cache of 100,001 files was kept after a refused tip"
# and the next good tip is fetched and enforced from the pruned store
git -C "$REPO" reset -q --hard "$A2"
commit_signed good 200 "after junk"
run_cfg apply
expect_rc 2 "a good tip after the junk"
expect_content "$ROOT/etc/motd" "after junk"
