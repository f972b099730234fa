#!/bin/bash
# The CLI's contract: usage errors, version, check-config, config errors with
# file:line:col, a missing -c file, status before any run.
. "$(dirname "$0")/../lib/lib.sh"

rc=0; "$PLUMB" version >"$T/out" 2>&1 || rc=$?
expect_rc 0 version; expect_out "plumb 0."
rc=0; "$PLUMB" >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "no command"; expect_err "usage: plumb"
rc=0; "$PLUMB" frobnicate >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "unknown command"; expect_err "unknown command 'frobnicate'"
rc=0; "$PLUMB" --bogus check >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "unknown option"
run_plumb status
expect_rc 1 "status before any run"; expect_err "no run recorded yet"

printf 'mode: enforce\ninterval:\n  full_scan: 45m\n' > "$T/bad.yaml"
run_plumb -c "$T/bad.yaml" check-config
expect_rc 1 "bad config"; expect_err "interval.full_scan: at most 30m"
printf 'mode: enforce\nsource:\n  url: x\n  colour: red\n' > "$T/bad2.yaml"
run_plumb -c "$T/bad2.yaml" check
expect_rc 1 "unknown key"; expect_err "$T/bad2.yaml:4:3: unknown key 'source.colour'"
run_plumb -c "$T/nope.yaml" check
expect_rc 1 "missing -c"; expect_err "cannot open configuration '$T/nope.yaml'"
printf 'mode: audit\nstate_dir: /var/lib/plumb\n' > "$T/good.yaml"
run_plumb -c "$T/good.yaml" check-config
expect_rc 0 "good config"; expect_out "configuration OK: $T/good.yaml"
# no source at all
printf 'mode: enforce\n' > "$T/nosrc.yaml"
run_plumb -c "$T/nosrc.yaml" check
expect_rc 1 "no source"; expect_err "no baseline source"
# the root must exist
rc=0; "$PLUMB" --root "$T/no-such-root" --state-dir "$STATE" --baseline-dir "$BL" check >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "missing root"; expect_err "cannot open root '$T/no-such-root'"
