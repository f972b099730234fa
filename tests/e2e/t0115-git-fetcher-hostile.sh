#!/bin/bash
# Only plumb-fetch links libgit2, and the parent trusts nothing it sends
# (issue 15). plumb and plumbd link no libgit2 (ldd). A hostile fetcher (the
# test-only tests/fetcher/evil-fetch.c, put beside copies of plumb and plumbd
# as their plumb-fetch) that forges an object, sends an oversized, malformed
# or unknown frame, floods past source.max_size, sends a tree with '..' or
# '/', a valid object set whose tip is unsigned, dies mid-message or closes
# its pipe and lingers: each time the tip is refused and reported, the last
# good baseline stays enforced (drift reverted), the anchor does not move and
# nothing it sent reaches the verified store. plumbd survives it and still
# reverts drift. The same harness passing honestly shows it is not vacuous.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"
BUILD_DIR=$(dirname "$PLUMB")
EVIL=$BUILD_DIR/tests/evil-fetch
[ -x "$EVIL" ] || skip "no $EVIL (make check-e2e builds it)"
[ -x "$BUILD_DIR/plumb-fetch" ] || skip "no plumb-fetch beside $PLUMB"

# 1. libgit2 is linked by the fetcher alone
for b in plumb plumbd plumb-send; do
	ldd "$BUILD_DIR/$b" | grep -q libgit2 && fail "$b links libgit2"
done
ldd "$BUILD_DIR/plumb-fetch" | grep -q libgit2 || fail "plumb-fetch does not link libgit2 (is it the fetcher?)"
note "libgit2: only plumb-fetch links it"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "one"
C1=$(head_commit)
write_cfg "  max_size: 1M
interval:
  poll: 1s"
run_cfg apply; expect_rc 2 "first apply (the real fetcher)"
expect_content "$ROOT/etc/motd" one
cp -a "$STATE" "$T/state-1"
commit_signed good 2 "two"
C2=$(head_commit)
BLOB2=$(git -C "$REPO" rev-parse "$C2:files/motd")
V=$STATE/objects.plumb
in_store() { [ -f "$V/objects/${1:0:2}/${1:2}" ]; }

# a private copy of the programs, with the hostile fetcher as their plumb-fetch
B=$T/bin
mkdir -p "$B"
cp "$PLUMB" "$BUILD_DIR/plumbd" "$BUILD_DIR/plumb-send" "$B/"
cp "$EVIL" "$B/plumb-fetch"
cp "$BUILD_DIR/plumb-fetch" "$B/plumb-fetch.real"
evil_run() { rc=0; "$B/plumb" -c "$CFG" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

# hostile MODE TEXT: the tip is refused with TEXT, nothing of it kept
hostile() {
	rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
	echo "$1" > "$B/evil-mode"
	echo "drift during $1" > "$ROOT/etc/motd"
	evil_run apply
	expect_rc 1 "apply with a fetcher that is '$1'"
	expect_err "$2"
	expect_content "$ROOT/etc/motd" one                # the anchor, enforced
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C1" ] || fail "$1: the anchor moved"
	[ "$(json_get "$STATE/last-report.json" '[e["action"] for e in d["events"] if e["resource"]=="baseline"][0]')" = refused ] ||
		fail "$1: no refused event"
	json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["resource"]=="baseline"][0]' | grep -qF "$2" ||
		fail "$1: the refused event lacks '$2'"
	in_store "$C2" && fail "$1: the refused tip reached the verified store"
	[ -z "$(ls -A "$V/incoming")" ] || fail "$1: staged objects left in incoming/"
	grep -rq "two" "$ROOT/etc" && fail "$1: content of the refused tip was written"
	note "$1: $(grep -o 'error: .*' "$T/err" | head -1 | cut -c1-150)"
}

hostile forged "whose content hashes to"
hostile oversized "the fetcher sent a blob of 1073741824 bytes"
hostile malformed "malformed tip frame"
hostile unknown "frame of unknown kind 127"
hostile flood "bytes of trees and blobs (source.max_size)"
hostile dotdot "is empty, '.', '..' or has a '/'"
hostile slash "is empty, '.', '..' or has a '/'"
hostile unsigned "is not signed"
hostile die "died mid-message"
t0=$(date +%s%N)
hostile linger "ends without its last frame"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 5000 ] || fail "a lingering fetcher held plumb apply for $ms ms"

# the harness is not vacuous: passing everything through, the tip applies
rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
echo honest > "$B/evil-mode"
evil_run apply; expect_rc 2 "apply through the pass-through fetcher"
expect_content "$ROOT/etc/motd" two
in_store "$C2" && in_store "$BLOB2" || fail "the honest tip is not in the verified store"

# plumbd survives a forging fetcher and keeps reverting drift
rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
echo forged > "$B/evil-mode"
PLUMBD=$B/plumbd start_plumbd -c "$CFG"
wait_until 10 'grep -q "whose content hashes to" "$DLOG"' || fail "plumbd did not refuse the forged object: $(tail -3 "$DLOG")"
echo "drift under plumbd" > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat "$ROOT/etc/motd")" = one ]' || fail "plumbd did not revert drift after a forged fetch"
echo die > "$B/evil-mode"
wait_until 10 'grep -q "died mid-message" "$DLOG"' || fail "plumbd did not refuse a dying fetcher"
echo "drift again" > "$ROOT/etc/motd"
wait_until 5 '[ "$(cat "$ROOT/etc/motd")" = one ]' || fail "plumbd did not revert drift after a dying fetcher"
kill -0 "$PD" || fail "plumbd died"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C1" ] || fail "plumbd moved the anchor"
echo honest > "$B/evil-mode"
wait_until 10 '[ "$(cat "$ROOT/etc/motd")" = two ]' || fail "plumbd did not apply the honest tip afterwards"
stop_plumbd
note "plumbd: refused forged and dying fetchers, reverted drift, then applied the honest tip"
