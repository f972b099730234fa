#!/bin/bash
# The verified store (objects.plumb/) is crash-safe: plumb apply killed
# (strace --inject ... signal=KILL) at each rename while a new tip's objects
# go in, and at each unlink while the store is pruned after the new anchor
# is pinned. After every crash: with the remote gone, the anchor trust.json
# names is enforced from the store alone (the store is usable); with the
# remote back, the next apply brings the new tip and the store is whole and
# pruned to what the anchor reaches.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
command -v strace >/dev/null || skip "strace missing"

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "one"
C1=$(head_commit)
write_cfg ""
run_cfg apply; expect_rc 2 "first apply"
cp -a "$STATE" "$T/state-1"
commit_signed good 2 "two"
C2=$(head_commit)
V=$STATE/objects.plumb
CFG_OK=$CFG
CFG_GONE=$T/agent-gone.yaml
sed "s|url: .*|url: $T/no-such-repo|" "$CFG_OK" > "$CFG_GONE"
BLOB1=$(git -C "$REPO" rev-parse "$C1:files/motd")
in_store() { [ -f "$V/objects/${1:0:2}/${1:2}" ]; }

# after_crash WHAT: the store is usable alone, then heals with the remote back
after_crash() {
	local anchor serial want
	anchor=$(json_get "$STATE/trust.json" 'd["commit"]')
	serial=$(json_get "$STATE/trust.json" 'd["serial"]')
	[ "$serial" = 1 ] && want=one || want=two
	echo "drift after $1" > "$ROOT/etc/motd"
	rc=0; "$PLUMB" -c "$CFG_GONE" apply >"$T/out" 2>"$T/err" || rc=$?
	expect_rc 1 "apply with the remote gone after $1"
	expect_content "$ROOT/etc/motd" "$want"
	expect_err "still enforcing the last applied commit ${anchor:0:12}"
	run_cfg apply
	[ "$rc" -eq 2 ] || [ "$rc" -eq 0 ] || fail "apply after $1 exited $rc: $(cat "$T/err")"
	expect_content "$ROOT/etc/motd" two
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C2" ] || fail "$1: C2 not anchored after the heal"
	run_cfg verify; expect_rc 0 "verify after $1"
	[ -z "$(ls -A "$V/incoming")" ] || fail "$1: incoming/ not swept"
}

# which renames and unlinks a clean apply of C2 makes in the store (plumb
# alone: the fetcher is another process and is not traced). Kills elsewhere
# (the file repair's journal) are t0312's business.
rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
strace -o "$T/strace.log" -e trace=rename,renameat,renameat2,unlink,unlinkat "$PLUMB" -c "$CFG" apply >/dev/null 2>&1 || true
in_store "$BLOB1" && fail "the old anchor's blob was not pruned"
# the store's renames: every object of the tip (incoming/ to objects/), then the FETCHED record
renames=$(grep -E '^rename' "$T/strace.log" | grep -n . | awk -F: '/FETCHED/ {print $1; exit}')
[ -n "$renames" ] && [ "$renames" -gt 3 ] || fail "no store renames traced: $(head -3 "$T/strace.log")"
# the prune's unlinks: 38-hex object names
unlinks=$(grep -E '^unlink' "$T/strace.log" | grep -n . | grep -E '"[0-9a-f]{38}"' | cut -d: -f1 | tr '\n' ' ')
[ -n "$unlinks" ] || fail "no pruning traced"
note "a clean apply of C2: $renames store renames, prune unlinks at ${unlinks% }"

for n in $(seq 1 "$renames"); do
	rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
	rc=0
	strace -o /dev/null -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=KILL:when=$n \
		"$PLUMB" -c "$CFG" apply >/dev/null 2>&1 || rc=$?
	[ "$rc" -ge 128 ] || fail "no kill at store rename $n (rc $rc)"
	[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$C1" ] || fail "the anchor moved in a run killed at rename $n"
	after_crash "a kill at store rename $n"
done
note "killed at each of $renames store renames; each time the anchor was enforced from the store and the next apply healed it"

for n in $unlinks; do
	rm -rf "$STATE"; cp -a "$T/state-1" "$STATE"
	rc=0
	strace -o /dev/null -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=KILL:when=$n \
		"$PLUMB" -c "$CFG" apply >/dev/null 2>&1 || rc=$?
	[ "$rc" -ge 128 ] || fail "no kill at unlink $n (rc $rc)"
	after_crash "a kill at prune unlink $n"
done
note "killed at each prune unlink; each time usable and healed"
