# reports.sh - a control plane on loopback for report tests. Source after
# lib.sh and tls.sh. start_hub ARGS... sets HUB_PORT; hub_count COUNTS posts.
HUBLOG=$T/hub.log
: > "$HUBLOG"
start_hub() {
	rm -f "$T/hub.port"
	python3 "$TESTS_DIR/lib/report_server.py" --cert "$T/tls/server.pem" --key "$T/tls/server.key" \
		--port-file "$T/hub.port" --log "$HUBLOG" --lifetime 200 "$@" 2>>"$T/hub.err" &
	HUB_PID=$!
	for _ in $(seq 1 100); do [ -s "$T/hub.port" ] && break; sleep 0.05; done
	[ -s "$T/hub.port" ] || fail "report server did not start: $(cat "$T/hub.err")"
	HUB_PORT=$(cat "$T/hub.port")
}
stop_hub() { [ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null; wait "$HUB_PID" 2>/dev/null; HUB_PID=; }
hub_count() { grep -c "\"status\": ${1:-200}" "$HUBLOG" || true; }
