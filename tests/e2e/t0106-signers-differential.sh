#!/bin/bash
# allowed_signers and signature armor, differentially: plumb verify against
# `git verify-commit` and `ssh-keygen -Y verify -I P -n git` (OpenSSH) on
# every case of issue 14 (negation, duplicate options, over-long patterns,
# quoting, dates, padding, unusable lines, git's first-line rule, armor
# variants) plus 600 random byte mutations of allowed_signers lines (seed 14).
# Unsafe = plumb accepts where an oracle rejects: a failure. Where plumb is
# deliberately stricter (armor variants git tolerates), it says so.
. "$(dirname "$0")/../lib/lib.sh"
command -v ssh-keygen >/dev/null || skip "no ssh-keygen"
python3 "$TESTS_DIR/lib/signers_diff.py" "$PLUMB" "$T" --seed 14 --mutations 600 >"$T/diff.out" 2>&1; rc=$?
sed -n '1p;/stricter:/p' "$T/diff.out" | sed 's/^/  # /'
[ "$rc" -eq 0 ] || { grep -E '^(UNSAFE|FAIL|setup)' "$T/diff.out" | head -40 >&2; fail "the differential suite found mismatches"; }
grep -q ' 0 unsafe, 0 expectation failures' "$T/diff.out" || fail "the differential suite did not report its summary"
