#!/bin/bash
# When the inotify queue overflows (events lost while plumbd was stopped),
# plumbd warns and scans everything; it tells a service manager it is ready
# and pings the watchdog; --once behaves like plumb apply.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
# a stand-in service manager: records what arrives on NOTIFY_SOCKET
notify_listen "$T/notify.sock" "$T/notify.log" 30
N=$NL
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 start_plumbd --baseline-dir "$BL"
wait_until 5 'grep -q " READY=1$" $T/notify.log' || fail "no READY=1"
wait_until 5 '[ "$(grep -c " WATCHDOG=1$" $T/notify.log)" -ge 3 ]' || fail "no watchdog pings"

# overflow: stop plumbd, make far more events than the queue holds, drift
kill -STOP "$PD"
max=$(cat /proc/sys/fs/inotify/max_queued_events)
# (distinct names: inotify merges identical consecutive events)
python3 - "$ROOT/etc" $((max + 2000)) <<'P'
import os, sys
for i in range(int(sys.argv[2])):
    open(os.path.join(sys.argv[1], "unmanaged.%d" % i), "w").close()
P
echo 'lost among the events' > "$ROOT/etc/motd"
kill -CONT "$PD"
wait_until 10 'grep -q "inotify queue overflowed" $DLOG' || fail "overflow not noticed"
wait_until 5 '[ "$(cat $ROOT/etc/motd)" = hello ]' || fail "drift not found by the fallback scan"
stop_plumbd
grep -q ' STOPPING=1$' "$T/notify.log" || fail "no STOPPING=1"
kill "$N" 2>/dev/null; wait "$N" 2>/dev/null

# --once: one apply, plumb apply's exit codes
echo drift > "$ROOT/etc/motd"
rc=0; "$PLUMBD" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" --once >"$T/out" 2>&1 || rc=$?
expect_rc 2 "plumbd --once with drift"; expect_content "$ROOT/etc/motd" hello
rc=0; "$PLUMBD" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" --once >"$T/out" 2>&1 || rc=$?
expect_rc 0 "plumbd --once when compliant"
