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
# cpu_ticks PID: user+system clock ticks used so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
trap 'stop_plumbd; cleanup' EXIT
