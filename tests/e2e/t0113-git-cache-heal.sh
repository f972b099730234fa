#!/bin/bash
# The cache is the fetcher's and trusted for nothing (issue 13 item 5):
# enforcement reads only the parent's verified store. A damaged cache
# (truncated, zeroed or bit-flipped pack, objects/ removed) or a forged
# object (content not matching its id) is detected, the tip refused and
# reported, the cache discarded and rebuilt by the next fetch; the last
# good baseline is enforced throughout.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "one"
C1=$(head_commit)
write_cfg ""
run_cfg apply; expect_rc 2 "first apply"
expect_content "$ROOT/etc/motd" one
# the parent's own object store (objects.plumb/, one file per object id;
# it was verified.git before the parent stopped linking libgit2)
V=$STATE/objects.plumb
in_store() { [ -f "$V/objects/${1:0:2}/${1:2}" ]; }
[ "$(stat -c %u:%a "$V")" = 0:700 ] || fail "verified store is $(stat -c %U:%a "$V"), expected root's 0700"
in_store "$C1" || fail "the anchor is not in the verified store"
cp -a "$STATE" "$T/state-1"
fsck_cache() { git --git-dir="$STATE/cache.git" fsck --no-dangling >/dev/null 2>&1; }

# offset of commit C1 in the cache's pack (a byte there is the commit's)
commit_offset() { git show-index < "$1" | awk -v c="$C1" '$2 == c {print $1}'; }

damage() {
	local pack idx
	pack=$(ls "$STATE"/cache.git/objects/pack/*.pack | head -1); idx=${pack%.pack}.idx
	chmod u+w "$pack"
	case $1 in
	truncated) truncate -s $(( $(stat -c %s "$pack") / 2 )) "$pack" ;;
	zeroed) dd if=/dev/zero of="$pack" bs=1 count="$(stat -c %s "$pack")" conv=notrunc status=none ;;
	bit-flipped)
		off=$(( $(commit_offset "$idx") + 4 ))
		python3 - "$pack" "$off" <<'P'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x10]))
P
		;;
	objects-removed) rm -rf "$STATE/cache.git/objects" ;;
	esac
}

for mode in truncated zeroed bit-flipped objects-removed; do
	rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
	damage "$mode"
	echo "drift during $mode" > "$ROOT/etc/motd"
	run_cfg apply
	# the last good baseline enforced from the verified store, damaged cache or not
	expect_content "$ROOT/etc/motd" one
	if grep -q "the damaged cache was discarded" "$T/err"; then
		expect_rc 1 "apply on a $mode cache (refused)"
		[ "$(json_get "$STATE/last-report.json" '[e["action"] for e in d["events"] if e["resource"] == "baseline"][0]')" = refused ] ||
			fail "$mode: the refusal is not in the report"
		note "$mode: detected, refused, discarded: $(grep -o 'error: .*' "$T/err" | head -1 | cut -c1-140)"
	else
		# nothing damaged was needed: the fetch itself rebuilt what was missing
		[ "$rc" -eq 2 ] || fail "$mode: apply exited $rc without saying the cache was discarded: $(cat "$T/err")"
		note "$mode: the fetch rebuilt the cache in the same run"
	fi
	# the next run rebuilds the cache by a fresh fetch and is clean
	echo "drift again" > "$ROOT/etc/motd"
	run_cfg apply; expect_rc 2 "apply after the $mode cache"
	expect_content "$ROOT/etc/motd" one
	fsck_cache || fail "$mode: the cache is still damaged after the next fetch"
	run_cfg apply; expect_rc 0 "a clean run after the $mode cache"
done

# a forged object: the compromised fetcher's move. Serial 2's objects put in
# the cache as loose objects, its motd blob's content replaced by another's.
rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
commit_signed good 2 "two"
C2=$(head_commit)
G=$STATE/cache.git
for o in $(git -C "$REPO" rev-list --objects "$C2" --not "$C1" | cut -d' ' -f1); do
	t=$(git -C "$REPO" cat-file -t "$o")
	got=$(git -C "$REPO" cat-file "$t" "$o" | git --git-dir="$G" hash-object -w -t "$t" --stdin)
	[ "$got" = "$o" ] || fail "copying $o"
done
BLOB=$(git -C "$REPO" rev-parse "$C2:files/motd")
f=$G/objects/${BLOB:0:2}/${BLOB:2}
chmod u+w "$f"
python3 -c 'import sys, zlib; open(sys.argv[1], "wb").write(zlib.compress(b"blob 5\0evil\n"))' "$f"
echo "drift" > "$ROOT/etc/motd"
run_cfg apply
expect_rc 1 "apply with a forged object in the cache"
expect_err "the damaged cache was discarded"
grep -Eq "hash mismatch|forged or damaged" "$T/err" || fail "the refusal does not name the mismatch: $(cat "$T/err")"
note "forged object: $(grep -Eo '(object hash mismatch|hashes to|forged)[^;]*' "$T/err" | head -1)"
expect_content "$ROOT/etc/motd" one
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 1 ] || fail "the anchor moved on a forged object"
in_store "$C2" && fail "the forged tip reached the verified store"
grep -rq evil "$ROOT" && fail "forged content was written"
run_cfg apply; expect_rc 2 "apply after the forged cache was discarded"
expect_content "$ROOT/etc/motd" two
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 2 ] || fail "serial 2 not anchored after the rebuild"
