#!/bin/bash
# Another writer fights plumb over a file: plumb backs off (no hot loop, low
# CPU), reports it as contested with a count, keeps the other resources
# enforced, and restores the file once the writer stops.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/contested.conf
    content: "plumb's\n"
  - path: /etc/motd
    content: "hello\n"
Y
start_plumbd --baseline-dir "$BL"
c0=$(cpu_ticks "$PD"); t0=$(date +%s)
# a writer loop: 8 s, every 5 ms (bounded)
python3 - "$ROOT/etc/contested.conf" <<'P' &
import sys, time
end = time.time() + 8
while time.time() < end:
    with open(sys.argv[1], "w") as f:
        f.write("the other writer's\n")
    time.sleep(0.005)
P
W=$!
sleep 3
echo intruder > "$ROOT/etc/motd"      # other resources stay enforced meanwhile
wait_until 5 '[ "$(cat $ROOT/etc/motd)" = hello ]' || fail "motd not reverted during the contest"
wait "$W"
c1=$(cpu_ticks "$PD"); t1=$(date +%s)
hz=$(getconf CLK_TCK)
pct=$(( (c1 - c0) * 100 / hz / (t1 - t0) ))
note "plumbd used ${pct}% of one CPU while the writer wrote every 5 ms for 8 s"
[ "$pct" -lt 40 ] || fail "plumbd used ${pct}% CPU during the contest: a hot loop"
grep -q 'file:/etc/contested.conf: contested' "$DLOG" || fail "no contested event logged"
n=$(grep -c 'file:/etc/contested.conf: contested' "$DLOG")
r=$(grep -c 'file:/etc/contested.conf: reverted' "$DLOG")
note "$r reverts and $n contested reports over the contest"
[ "$r" -lt 200 ] || fail "$r reverts: plumb did not back off"
[ "$n" -lt 20 ] || fail "$n contested reports: a flood"
# the writer stopped: the file comes back within the largest backoff
wait_until 70 '[ "$(cat $ROOT/etc/contested.conf)" = "plumb'"'"'s" ]' || fail "not restored after the writer stopped"
