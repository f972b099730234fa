#!/bin/bash
# plumb check/apply for people (issue 20, item 5): every drift kind shows what
# was found and what the baseline wants, --diff prints diff -u's hunks (two
# edits 35 lines apart: two hunks of context, as diff -u), sensitive files get
# no diff, a refusal is printed once (stderr), and a run without a baseline
# says so. Expected text: tests/data/cli/*.out (timestamps and hashes masked).
. "$(dirname "$0")/../lib/lib.sh"
DATA=$TESTS_DIR/data/cli
seq 1 60 > "$BL/lines"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
    mode: "0644"
    owner: "0"
    group: "0"
  - path: /etc/lines
    source: lines
  - path: /etc/gone
    state: absent
  - path: /etc/d
    type: directory
    mode: "0755"
  - path: /etc/missing
    content: "x\n"
  - path: /etc/link
    type: symlink
    target: /usr/share/zoneinfo/UTC
  - path: /etc/typ
    type: directory
  - path: /etc/secret
    content: "token\n"
    mode: "0600"
Y
printf 'hi\n' > "$ROOT/etc/motd"; chmod 0666 "$ROOT/etc/motd"; chown 1001:1002 "$ROOT/etc/motd"
seq 1 60 | sed -e 's/^5$/five/' -e 's/^40$/forty/' > "$ROOT/etc/lines"
echo x > "$ROOT/etc/gone"; mkdir -m 0700 "$ROOT/etc/d"; ln -s /nowhere "$ROOT/etc/link"; : > "$ROOT/etc/typ"
printf 'stolen\n' > "$ROOT/etc/secret"; chmod 0600 "$ROOT/etc/secret"

mask() { sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/TIME/' -e 's/sha256 [0-9a-f]{12}/sha256 HASH/g' "$T/out"; }
same() {
	mask > "$T/got"
	diff -u "$DATA/$1" "$T/got" > "$T/d" || { cat "$T/d" >&2; fail "$2: output differs from tests/data/cli/$1"; }
}

plumb_bl check
expect_rc 2 "check"
same check.out "plumb check"
plumb_bl check --diff
expect_rc 2 "check --diff"
same check-diff.out "plumb check --diff"
# what diff -u says about the same two files, hunk for hunk
diff -u "$BL/lines" "$ROOT/etc/lines" | tail -n +3 > "$T/gnu"
sed -n '/^+++ file:\/etc\/lines/,/^file:/p' "$T/out" | sed '1d;$d' > "$T/ours"
cmp -s "$T/gnu" "$T/ours" || fail "--diff of /etc/lines is not diff -u's: $(diff "$T/gnu" "$T/ours")"
[ "$(wc -l < "$T/ours")" -eq 18 ] || fail "two one-line edits 35 lines apart: $(wc -l < "$T/ours") lines, diff -u gives 18"

plumb_bl apply --diff
expect_rc 6 "apply --diff (a file is never replaced by a directory: one failure)"
same apply-diff.out "plumb apply --diff"
rm "$ROOT/etc/typ"; mkdir "$ROOT/etc/typ"
plumb_bl check
expect_rc 0 "check after apply"
same compliant.out "plumb check, compliant"
run_plumb status --diff
expect_rc 0 "status"
grep -q '^check: 8 resources, 0 drifted' "$T/out" || fail "status: $(cat "$T/out")"

# No baseline: the error once (stderr), the summary says no baseline loaded.
printf 'version: 1\nfiles:\n  - path: etc/motd\n' > "$BL/baseline.yaml"
plumb_bl check
expect_rc 1 "check of a bad baseline"
[ "$(grep -c "path must be absolute" "$T/out" "$T/err" | awk -F: '{s += $2} END {print s}')" -eq 1 ] ||
	fail "the error is not printed exactly once: stdout $(cat "$T/out") stderr $(cat "$T/err")"
expect_out "no baseline loaded"
grep -q 'baseline unsigned' "$T/out" && fail "says 'baseline unsigned' with no baseline loaded"
exit 0
