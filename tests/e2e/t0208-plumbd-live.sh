#!/bin/bash
# plumbd re-checks live state on a timer of its own (interval.live), with
# no file event to prompt it: a sysctl value changed behind its back (a
# fake /proc/sys tree: PLUMB_SYSCTL_DIR, for tests only) is put back within
# the interval, and the revert is reported. A key that fails the same way
# every interval (here: one the kernel lacks) is reported once, not again
# each second. Live state runs in a child of plumbd: while its systemctl
# hangs (a stand-in that sleeps 25 s: PLUMB_SYSTEMCTL, for tests only), file
# drift is still reverted at once, and SIGTERM stops plumbd and the
# stand-in within 2 s.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
P=$T/proc/sys
mkdir -p "$P/kernel"
printf '1\n' > "$P/kernel/kptr_restrict"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
sysctl:
  - key: kernel.kptr_restrict
    value: "2"
  - key: kernel.no_such_key
    value: "1"
Y
printf 'interval:\n  live: 1s\n' > "$T/agent.yaml"
export PLUMB_SYSCTL_DIR=$P
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
[ "$(cat "$P/kernel/kptr_restrict")" = 2 ] || fail "the catch-up run did not set the value"
printf '0\n' > "$P/kernel/kptr_restrict"
wait_until 5 '[ "$(cat "$P/kernel/kptr_restrict")" = 2 ]' || fail "plumbd's live timer did not revert within 5 s"
wait_until 5 'grep -q "sysctl:kernel.kptr_restrict: reverted value" "$DLOG"' || fail "the revert was not logged"
# quiet now: the failing key alone, every second; the last report stays put
sleep 1.5
before=$(stat -c %Y.%N "$STATE/last-report.json" 2>/dev/null; sha256sum < "$STATE/last-report.json")
sleep 3
after=$(stat -c %Y.%N "$STATE/last-report.json" 2>/dev/null; sha256sum < "$STATE/last-report.json")
[ "$before" = "$after" ] || fail "the same failure was reported again by every live run"
grep -q "kernel.no_such_key" "$STATE/last-report.json" || fail "the failing key was never reported"
stop_plumbd
[ "$(grep -c "sysctl:kernel.kptr_restrict: reverted value" "$DLOG")" -ge 2 ] || fail "expected the catch-up and the timer's revert"

# a systemctl that hangs once asked to (the start-up scan's answer comes at once)
cat > "$T/systemctl" <<EOF2
#!/bin/sh
[ -e "$T/hang" ] && exec sleep 25
exit 1
EOF2
chmod +x "$T/systemctl"
cat >> "$BL/baseline.yaml" <<'Y'
services:
  - unit: slow.service
    state: enabled
Y
export PLUMB_SYSTEMCTL=$T/systemctl
start_plumbd -c "$T/agent.yaml" --baseline-dir "$BL"
touch "$T/hang"
wait_until 5 'pgrep -f "sleep 25" >/dev/null' || fail "the live-state run did not reach the hanging systemctl"
for i in 1 2 3; do
	echo "intruder $i" > "$ROOT/etc/motd"
	wait_until 3 '[ "$(cat "$ROOT/etc/motd")" = hello ]' ||
		fail "drift $i of a file was not reverted while the live-state run waited for systemctl"
	sleep 0.3
done
pgrep -f "sleep 25" >/dev/null || fail "test premise: systemctl no longer hangs"
t0=$(date +%s%N); kill -TERM "$PD"; wait "$PD"; PD=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
note "3 file reverts while systemctl hung; SIGTERM then stopped plumbd in $ms ms"
[ "$ms" -lt 3000 ] || fail "SIGTERM took $ms ms while the live-state run waited for systemctl"
wait_until 3 '! pgrep -f "sleep 25" >/dev/null' || fail "the hanging systemctl outlived plumbd"
