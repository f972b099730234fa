# daemon.sh - run the real plumbd as a process in end-to-end tests, with
# bounded waits. Source after lib.sh. Needs $PLUMBD.
: "${PLUMBD:=$(dirname "$PLUMB")/plumbd}"
DLOG=$T/plumbd.log

# start_plumbd ARGS...: starts plumbd in the background; waits until its
# first full scan wrote the metrics file (catch-up done).
start_plumbd() {
	rm -f "$STATE/plumb.prom"
	"$PLUMBD" --root "$ROOT" --state-dir "$STATE" "$@" >>"$DLOG" 2>&1 &
	PD=$!
	wait_until 20 '[ -s "$STATE/plumb.prom" ]' || fail "plumbd did not start: $(tail -5 "$DLOG")"
}
stop_plumbd() {
	[ -n "${PD:-}" ] || return 0
	kill -TERM "$PD" 2>/dev/null
	wait "$PD" 2>/dev/null
	PD=
}
# wait_until SECONDS CONDITION: polls every 20 ms; 0 when it held in time.
wait_until() {
	local end=$(( $(date +%s%N) + $1 * 1000000000 ))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		eval "$2" && return 0
		sleep 0.02
	done
	eval "$2"
}
# notify_listen SOCK LOG SECONDS: a stand-in service manager in the
# background ($NL: its pid), each message on SOCK as "MONOTONIC MESSAGE" in LOG.
notify_listen() {
	python3 "$TESTS_DIR/lib/notify_listen.py" "$1" "$2" "$3" &
	NL=$!
	wait_until 5 "[ -S '$1' ]" || fail "notify socket $1 did not appear"
}
# watchdog_gap LOG: "PINGS LONGEST-GAP" over READY=1 and WATCHDOG=1 in LOG,
# the silence up to now included.
watchdog_gap() {
	python3 "$TESTS_DIR/lib/notify_listen.py" --now "$1"
	awk '$2 == "WATCHDOG=1" || $2 == "READY=1" || $2 == "NOW" { if (p) { g = $1 - p; if (g > m) m = g } p = $1 }
		$2 == "WATCHDOG=1" { n++ } END { printf "%d %.3f\n", n, m }' "$1"
}
# cpu_ticks PID: user+system clock ticks used so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
trap 'stop_plumbd; cleanup' EXIT
