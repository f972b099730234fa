#!/bin/bash
# plumb-hub --alerts FILE: each class of bad file (YAML syntax, unknown key,
# bad type, bad URL, missing field, unknown receiver in a route, bad status,
# an unreadable or group-readable secret file, a missing file) stops the hub
# before it serves anything: exit 1, "FILE:line:col: what" on stderr, no port
# file, no schema made. SIGHUP reads the file again: an invalid one is
# refused and the receivers in force stay (alerts still delivered to them);
# a valid one replaces them.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/alerts.sh"
trap 'stop_plumb_hub; stop_receiver; cleanup' EXIT
printf 'k\n' > "$T/sec"; chmod 644 "$T/sec"
bad() { # NAME EXPECTED-PREFIX-AFTER-FILE TEXT
	printf '%s' "$3" > "$T/$1.yml"
	rc=0
	"$PLUMB_HUB" --db "$T/$1.db" --listen 127.0.0.1:0 --port-file "$T/$1.port" --alerts "$T/$1.yml" \
		>"$T/$1.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "$1: exit $rc, want 1: $(cat "$T/$1.out")"
	grep -qF "$T/$1.yml:$2" "$T/$1.out" || fail "$1: want '$T/$1.yml:$2' in: $(cat "$T/$1.out")"
	[ ! -e "$T/$1.port" ] || fail "$1: the hub started"
	[ ! -e "$T/$1.db" ] || fail "$1: the database was opened before the alerts file was checked"
}
bad syntax '2:' $'receivers:\n  - name: [a\n'
bad unknown '1:1: unknown key' $'receiverz: []\n'
bad type '3:11: type' $'receivers:\n  - name: a\n    type: pager\n    url: http://127.0.0.1:1\n'
bad url '4:5: url' $'receivers:\n  - name: a\n    type: webhook\n    url: file:///etc/passwd\n'
bad missing '2:5: receiver a: needs a url' $'receivers:\n  - name: a\n    type: webhook\n'
bad route '4:15: receiver: no receiver' $'receivers:\n  - {name: a, type: slack, url: "http://x"}\nroutes:\n  - receiver: b\n'
bad status '5:14: status' $'receivers:\n  - {name: a, type: slack, url: "http://x"}\nroutes:\n  - receiver: a\n    status: [on-fire]\n'
bad secret '2:47: secret_file' "receivers:
  - {name: a, type: webhook, url: \"http://x\", secret_file: $T/sec}
"
grep -q 'readable by group or others' "$T/secret.out" || fail "secret mode not named: $(cat "$T/secret.out")"
rc=0; "$PLUMB_HUB" --db "$T/x.db" --listen 127.0.0.1:0 --alerts "$T/nonexistent.yml" >"$T/nofile.out" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "nonexistent.yml" "$T/nofile.out" || fail "a missing file: exit $rc: $(cat "$T/nofile.out")"

# the shipped example parses (its secret file pointed at one made here)
printf 'k\n' > "$T/ex.secret"; chmod 600 "$T/ex.secret"
sed "s|/etc/plumb-hub/webhook.secret|$T/ex.secret|" "$TESTS_DIR/../packaging/alerts.yml" > "$T/example.yml"
"$PLUMB_HUB" --db "$T/ex.db" --listen 127.0.0.1:0 --port-file "$T/ex.port" --alerts "$T/example.yml" >"$T/ex.log" 2>&1 &
EX=$!
wait_until 20 '[ -s "$T/ex.port" ]' || fail "packaging/alerts.yml refused: $(cat "$T/ex.log")"
kill -TERM "$EX"; wait "$EX" || fail "the example hub did not exit 0"

# SIGHUP: invalid keeps the old receivers, valid replaces them
DB=$T/hub.db
A=$("$PLUMB_HUB" --db "$DB" token add web1) || fail "token add"
start_receiver "$T/rcv.log"
printf 'receivers:\n  - {name: one, type: webhook, url: "%s/one"}\n' "$RCV_URL" > "$T/alerts.yml"
start_plumb_hub "$DB" --alerts "$T/alerts.yml"
printf 'receivers:\n  - {name: two, type: webhook, url: "%s/two", bogus: 1}\n' "$RCV_URL" > "$T/alerts.yml"
kill -HUP "$HUB_PID"
wait_until 10 'grep -q "reload: .*alerts.yml:2:.*bogus.*the alerts configuration in force stays" "$HUBLOG"' ||
	fail "an invalid reload was not refused: $(tail -3 "$HUBLOG")"
make_report "$T/d.json" web1 file:/etc/motd:detected
[ "$(post_report "$HUB_URL" "$A" "$T/d.json")" = 201 ] || fail "report"
wait_until 10 'grep -q "\"/one\"" "$T/rcv.log" 2>/dev/null' || fail "the old receiver did not get the alert"
printf 'receivers:\n  - {name: two, type: webhook, url: "%s/two"}\n' "$RCV_URL" > "$T/alerts.yml"
kill -HUP "$HUB_PID"
wait_until 10 'grep -q "reload: alerts read from" "$HUBLOG"' || fail "a valid reload was not taken"
make_report "$T/c.json" web1
[ "$(post_report "$HUB_URL" "$A" "$T/c.json")" = 201 ] || fail "report"
wait_until 10 'grep -q "\"/two\"" "$T/rcv.log"' || fail "the new receiver did not get the resolve"
note "9 bad files refused with file:line:col; SIGHUP keeps the old config on a bad file"
exit 0
