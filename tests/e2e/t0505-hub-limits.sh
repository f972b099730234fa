#!/bin/bash
# plumb-hub under load from hostile tokens (issue 16, items 9-11): uploads
# held open stay within --max-inflight and the per-host bound (RSS measured
# after 200 held uploads), trickling requests are closed by --recv-timeout
# (one address is not locked out), and a chatty host meets --host-rate
# (429 + Retry-After). Memory bounds are asserted as properties, not timings.
# The storage quota and byte-bounded event pages run in the API suite, on
# both engines (t0501, t0502).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
trap 'stop_plumb_hub; cleanup' EXIT

cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
plumb_bl check --json
expect_rc 2 "plumb check on an empty root"
cp "$T/out" "$T/template.json"
limits() { # CASE ARGS...: the python side against the running hub
	local c=$1; shift
	timeout 300 python3 "$TESTS_DIR/lib/hub_limits_test.py" --case "$c" --hub "$PLUMB_HUB" --db "$T/hub.db" \
		--url "$HUB_URL" --pid "$HUB_PID" --template "$T/template.json" "$@" ||
		fail "$c checks failed (hub log: $(tail -3 "$HUBLOG"))"
}

# Held uploads: one token, then twenty, 200 connections each. Under ASan,
# freed buffers sit in its quarantine (up to 256 MiB) and would count as
# RSS: the quarantine is turned off here so RSS shows what the hub holds.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0 \
	start_plumb_hub "$T/hub.db" --max-inflight 16M --max-body 4M --host-rate 0
limits memory --max-inflight $((16 << 20)) --max-body $((4 << 20))
stop_plumb_hub

# Slow requests: the receive deadline, 3 s here.
start_plumb_hub "$T/hub.db" --recv-timeout 3s --host-rate 0
limits slowloris --recv-timeout 3
stop_plumb_hub

# The ingest rate of one host: 256K a minute, bodies up to 64K.
start_plumb_hub "$T/hub.db" --host-rate 256K --max-body 64K
limits rate --host-rate $((256 << 10)) --max-body $((64 << 10))
stop_plumb_hub
