#!/bin/bash
# sysctl under --root another tree: a kernel-wide key (outside net.*) of the
# running kernel is this machine's, not the root's, so `plumb apply --root
# IMAGE` checks it and never writes it: the event fails saying why, the
# host's value is unchanged (read before and after; restored by the trap if
# the guard ever failed). The same baseline against a fake /proc/sys tree is
# written (that tree is not the kernel). The example baseline carries 38
# such keys; this is what keeps a `make scap`-style or image-building run
# from hardening (or breaking) the build machine's kernel.
. "$(dirname "$0")/../lib/lib.sh"
KEY=kernel.printk_ratelimit F=/proc/sys/kernel/printk_ratelimit
[ -w "$F" ] || skip "$F is not writable here (a container?)"
old=$(cat "$F")
want=$((old + 1))
trap 'echo "$old" > "$F" 2>/dev/null; cleanup' EXIT
cat > "$BL/baseline.yaml" <<Y
version: 1
sysctl:
  - key: $KEY
    value: "$want"
Y
run_plumb --baseline-dir "$BL" apply --json
[ "$(cat "$F")" = "$old" ] || fail "plumb apply --root $ROOT wrote the host's $KEY: $old -> $(cat "$F")"
[ "$rc" -ne 0 ] || fail "apply exited 0 with a key it would not write"
python3 - "$T/out" "$KEY" <<'P' || fail "the event does not say why: $(cat "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
ev = [e for e in d["events"] if e["resource"] == "sysctl:" + sys.argv[2]]
assert len(ev) == 1 and ev[0]["action"] == "failed", ev
assert "not written" in ev[0]["error"] and "--root" in ev[0]["error"], ev[0]
P
note "kernel-wide key on the running kernel under --root: failed, not written, host value kept"

# plumb check reports the drift the same way, writing nothing.
run_plumb --baseline-dir "$BL" check
[ "$rc" -eq 2 ] || fail "check exited $rc, expected 2 (drift)"
[ "$(cat "$F")" = "$old" ] || fail "plumb check wrote $KEY"

# A tree that is not the kernel (PLUMB_SYSCTL_DIR, for tests) is written.
mkdir -p "$T/proc/sys/kernel"; echo "$old" > "$T/proc/sys/kernel/printk_ratelimit"
PLUMB_SYSCTL_DIR=$T/proc/sys run_plumb --baseline-dir "$BL" apply
[ "$(cat "$T/proc/sys/kernel/printk_ratelimit")" = "$want" ] || fail "the fake tree was not written (rc $rc)"
[ "$(cat "$F")" = "$old" ] || fail "the host's $KEY changed"
note "a fake tree under --root is written; the host's value never moved"
