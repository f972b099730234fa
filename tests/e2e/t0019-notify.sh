#!/bin/bash
# notify: on files runs after a revert (or a new baseline's change): the
# exec: argv is exec'd as written (no shell: metacharacters stay literal),
# batched (an action asked for by two files runs once per run), not run when
# nothing changed, under check, audit mode or enforce: warn; a failing or
# slow action is a failed event with its reason; a unit of a root whose
# systemd is not reachable is failed, saying so. plumbd's real-time
# reverts notify too.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"

schema_ok() { # FILE: the report validates against docs/report.schema.json
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
LOG=$T/notify.log
cat > "$T/mark" <<EOF2
#!/bin/sh
# records one line per run: its arguments, where it ran, the root it was given
printf '%s|%s|%s\n' "\$*" "\$(pwd)" "\$PLUMB_ROOT" >> "$LOG"
EOF2
chmod +x "$T/mark"
printf '#!/bin/sh\necho "config test failed: oops" >&2\nexit 3\n' > "$T/failing"; chmod +x "$T/failing"
write_baseline() { # $1: extra entries
	cat > "$BL/baseline.yaml" <<Y
version: 1
files:
  - path: /etc/a.conf
    content: "a\n"
    notify:
      - exec: ["$T/mark", "shared; touch $T/pwned"]
  - path: /etc/b.conf
    content: "b\n"
    notify:
      - exec: ["$T/mark", "shared; touch $T/pwned"]
      - exec: ["$T/mark", "b only"]
  - path: /etc/w.conf
    content: "w\n"
    enforce: warn
    notify:
      - exec: ["$T/mark", "warn"]
$1
Y
}
write_baseline ""
runs() { [ -f "$LOG" ] && wc -l < "$LOG" || echo 0; }

plumb_bl check
expect_rc 2 "check"
[ "$(runs)" = 0 ] || fail "check ran a notify action"
printf 'mode: audit\n' > "$T/agent.yaml"
plumb_bl apply -c "$T/agent.yaml"
[ "$(runs)" = 0 ] || fail "audit mode ran a notify action"

plumb_bl apply --json
expect_rc 2 "first apply"
[ "$(runs)" = 2 ] || fail "expected 2 runs (one batched), got $(runs): $(cat "$LOG")"
grep -qxF "shared; touch $T/pwned|$ROOT|$ROOT" "$LOG" || fail "argv, cwd or PLUMB_ROOT wrong: $(cat "$LOG")"
grep -qF "b only|" "$LOG" || fail "b's own action did not run"
[ ! -e "$T/pwned" ] || fail "an argument went through a shell"
grep -q "warn" "$LOG" && fail "an enforce: warn file's action ran"
n=$(json_get "$T/out" "len([e for e in d['events'] if e['resource']=='exec:$T/mark' and e['action']=='notified'])")
[ "$n" = 2 ] || fail "expected 2 notified events, got $n"
[ "$(json_get "$T/out" "[e['expected']['command'] for e in d['events'] if e['action']=='notified'][0]")" = "['$T/mark', 'shared; touch $T/pwned']" ] \
	|| fail "the event does not carry the argv"
schema_ok "$T/out"

plumb_bl apply
expect_rc 2 "only the enforce: warn file still drifts"
grep -q notified "$T/out" && fail "a run without reverts notified"
[ "$(runs)" = 2 ] || fail "a compliant run notified"

echo drift > "$ROOT/etc/b.conf"
plumb_bl apply
expect_rc 2 "b drifted"
expect_out "exec:$T/mark: notified"
[ "$(runs)" = 4 ] || fail "b's revert should run its two actions, ran $(( $(runs) - 2 ))"

# a failing action and a slow one: failed events with reasons, bounded
write_baseline "  - path: /etc/c.conf
    content: \"c\\n\"
    notify:
      - exec: [\"$T/failing\"]
      - exec: [\"/bin/sleep\", \"30\"]
        timeout: 1
      - service: ssh.service
        action: reload"
start=$(date +%s)
plumb_bl apply --json
expect_rc 6 "a failing notify: changes and failures"
[ $(( $(date +%s) - start )) -lt 10 ] || fail "the slow action was not cut off at its timeout"
schema_ok "$T/out"
err_of() { json_get "$T/out" "[e.get('error') for e in d['events'] if e['resource']=='$1'][0]"; }
err_of "exec:$T/failing" | grep -qF "exited 3: config test failed: oops" || fail "failing action: $(err_of "exec:$T/failing")"
err_of "exec:/bin/sleep" | grep -qF "took longer than 1000 ms" || fail "slow action: $(err_of "exec:/bin/sleep")"
err_of "service:ssh.service" | grep -qF "systemd is not reachable" || fail "unit on a sandbox root: $(err_of "service:ssh.service")"
pgrep -f "/bin/sleep 30" >/dev/null && fail "the timed-out action is still running"

# plumbd: a real-time revert notifies too
write_baseline ""
plumb_bl apply >/dev/null
before=$(runs)
start_plumbd --baseline-dir "$BL"
echo intruder > "$ROOT/etc/a.conf"
wait_until 5 '[ "$(cat "$ROOT/etc/a.conf")" = a ]' || fail "plumbd did not revert a.conf"
wait_until 5 '[ "$(runs)" -gt "$before" ]' || fail "plumbd's revert did not notify"
[ "$(runs)" = $((before + 1)) ] || fail "plumbd notified $(( $(runs) - before )) times for one revert"
stop_plumbd

# plumbd inside a slow action (a 60 s deadline, an action that would take
# 30 s): the watchdog is still pinged, and SIGTERM ends the wait (and the
# action's process group) at once instead of after the action.
write_baseline "  - path: /etc/slow.conf
    content: \"s\\n\"
    notify:
      - exec: [\"/bin/sleep\", \"31\"]
        timeout: 60"
printf 's\n' > "$ROOT/etc/slow.conf"           # in place: the start-up scan changes nothing
notify_listen "$T/wd.sock" "$T/wd.log" 30
WD=$NL
NOTIFY_SOCKET=$T/wd.sock WATCHDOG_USEC=400000 start_plumbd --baseline-dir "$BL"
echo intruder > "$ROOT/etc/slow.conf"
wait_until 5 'pgrep -f "/bin/sleep 31" >/dev/null' || fail "plumbd's revert of slow.conf did not run its action"
sleep 2                                         # inside the action's wait
gap=$(watchdog_gap "$T/wd.log"); gap=${gap#* }   # the silence up to now counts too
note "watchdog during a slow notify action: longest gap $gap s (interval 0.2 s)"
awk -v g="$gap" 'BEGIN { exit !(g <= 1.0) }' || fail "watchdog gap $gap s > 1 s inside a slow notify action"
t0=$(date +%s%N); kill -TERM "$PD"; wait "$PD"; PD=
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
note "SIGTERM inside a slow notify action: stopped in $ms ms"
[ "$ms" -lt 2000 ] || fail "SIGTERM took $ms ms inside a slow notify action"
pgrep -f "/bin/sleep 31" >/dev/null && fail "the action outlived plumbd"
kill "$WD" 2>/dev/null; wait "$WD" 2>/dev/null || true
