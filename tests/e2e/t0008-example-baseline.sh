#!/bin/bash
# The shipped example baseline applies cleanly to an empty sandbox root and
# is idempotent; the README's demo script runs to its end.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)

run_plumb --baseline-dir "$REPO/baselines" apply
expect_rc 2 "first apply of the example baseline"
expect_out " 0 failed"
run_plumb --baseline-dir "$REPO/baselines" apply
expect_rc 0 "second apply of the example baseline"
grep -q 'PermitRootLogin no' "$ROOT/etc/ssh/sshd_config.d/50-plumb-hardening.conf" || fail "sshd drop-in"

rc=0; PLUMB=$PLUMB bash "$REPO/packaging/demo.sh" >"$T/out" 2>"$T/err" || rc=$?
expect_rc 0 "demo.sh"
expect_out "signer      pipeline@example.com"
expect_out "enforce: 9 resources, 9 drifted, 9 reverted, 0 failed"
expect_out "reverted content (old content kept as quarantine/"
expect_out "baseline: refused: commit"
expect_out "PermitRootLogin no"
expect_err "still enforcing the last applied commit"
rm -rf "$(sed -n 's/^Clean up:  rm -rf //p' "$T/out")"
