#!/bin/bash
# Every bad baseline of the parser's data set is refused by the real binary
# with file:line:col, exit 1, a refused event, and nothing changed.
. "$(dirname "$0")/../lib/lib.sh"

echo 'drifted' > "$ROOT/etc/motd"
before=$(tree_digest "$ROOT")
n=0
for f in "$TESTS_DIR"/data/baseline/bad-*.yaml; do
	cp "$f" "$BL/baseline.yaml"
	plumb_bl apply
	expect_rc 1 "apply with $(basename "$f")"
	want=$(head -n1 "$f" | sed 's/^# expect: //')
	grep -qF -- "$want" "$T/err" || fail "$(basename "$f"): stderr lacks '$want'"
	grep -qF -- "$BL/baseline.yaml" "$T/err" || fail "$(basename "$f"): error does not name the file"
	[ "$(tree_digest "$ROOT")" = "$before" ] || fail "$(basename "$f") changed the root"
	run_plumb status --json
	[ "$(json_get "$T/out" 'd["events"][0]["action"]')" = refused ] || fail "no refused event for $(basename "$f")"
	n=$((n + 1))
done
note "$n bad baselines refused"
[ "$n" -ge 40 ] || fail "too few bad cases ($n)"

# a source: that does not exist, escapes by symlink, or is a directory
mkdir -p "$BL/files"
ln -s /etc/hostname "$BL/files/link"
mkdir -p "$BL/files/dir"
for src in files/nope files/link files/dir; do
	printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "a"\n  - path: /etc/x\n    source: %s\n' "$src" > "$BL/baseline.yaml"
	plumb_bl apply
	expect_rc 1 "source $src"
	expect_err "baseline.yaml:5:5: source of '/etc/x'"
	[ "$(tree_digest "$ROOT")" = "$before" ] || fail "source $src: root changed"
done
# the baseline file itself missing
rm "$BL/baseline.yaml"
plumb_bl check
expect_rc 1 "missing baseline"
expect_err "'baseline.yaml' does not exist in '$BL'"
