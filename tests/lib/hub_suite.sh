# hub_suite.sh - the plumb-hub API suite, run against one database engine:
# hub_suite DB. Used by t0501 (SQLite) and t0502 (PostgreSQL) alike.

# viewer_get PATH: GET with the viewer token into $T/get.json; echoes the status.
viewer_get() {
	curl -s -o "$T/get.json" -w '%{http_code}' -H "Authorization: Bearer $VTOK" "$HUB_URL$1"
}

hub_suite() {
	local db=$1
	# A real report from the real agent is the template the API test clones.
	cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
  - path: /etc/issue
    content: "authorized use only\n"
    mode: "0644"
Y
	plumb_bl check --json
	expect_rc 2 "plumb check on an empty root"
	cp "$T/out" "$T/template.json"

	start_plumb_hub "$db" --max-body 64K --heartbeat 5s --max-string 16K --max-events 100 --host-quota 8M \
		--host-rate 0
	python3 "$TESTS_DIR/lib/hub_api_test.py" --hub "$PLUMB_HUB" --db "$db" --url "$HUB_URL" \
		--template "$T/template.json" --max-body 65536 --max-string 16384 --max-events 100 \
		--host-quota $((8 << 20)) || fail "API checks failed (hub log: $(tail -3 "$HUBLOG"))"
	VTOK=$("$PLUMB_HUB" --db "$db" token add --viewer suite 2>/dev/null)

	# Hosts that stop reporting turn silent after two missed heartbeats.
	wait_until 30 '[ "$(viewer_get /v1/hosts)" = 200 ] && [ "$(json_get "$T/get.json" "d[\"summary\"][\"silent\"]")" = 7 ]' ||
		fail "hosts did not turn silent: $(cat "$T/get.json")"

	# Retention deletes old reports and events; hosts and their counters stay.
	[ "$(viewer_get '/v1/events?limit=1000')" = 200 ] || fail "events query"
	[ "$(json_get "$T/get.json" 'len(d["events"])')" -gt 100 ] || fail "expected events before retention"
	local rid
	rid=$(json_get "$T/get.json" 'd["events"][0]["report"]')
	[ "$(viewer_get "/v1/reports/$rid")" = 200 ] || fail "report $rid before retention"
	hub_age_data "$db" 100 || fail "cannot age the test data"
	kill -HUP "$HUB_PID"
	wait_until 20 '[ "$(viewer_get "/v1/events?limit=1000")" = 200 ] && [ "$(json_get "$T/get.json" "len(d[\"events\"])")" = 0 ]' ||
		fail "retention did not prune events: $(head -c 300 "$T/get.json")"
	grep -q 'retention: deleted' "$HUBLOG" || fail "retention did not log what it deleted"
	[ "$(viewer_get /v1/hosts)" = 200 ] || fail "hosts after retention"
	[ "$(json_get "$T/get.json" 'len(d["hosts"])')" = 7 ] || fail "hosts lost by retention"
	[ "$(json_get "$T/get.json" '[h for h in d["hosts"] if h["host"]=="pager"][0]["counts"]["events"]')" -ge 250 ] ||
		fail "host counters lost by retention"
	[ "$(viewer_get "/v1/reports/$rid")" = 404 ] || fail "retention kept report $rid"
	# Retention gives each host its quota back.
	[ "$(hub_query "$db" "SELECT stored_bytes FROM hosts WHERE host = 'hog'")" = 0 ] ||
		fail "retention did not give the hog its quota back"
	# SQLite: pruned text leaves the file and the WAL (secure_delete, checkpoint).
	case $db in
	postgres*) ;;
	*) ! grep -q hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh "$db" "$db-wal" 2>/dev/null ||
		fail "pruned report text is still in the SQLite file or its WAL";;
	esac

	# A restart keeps everything and migrates nothing twice.
	stop_plumb_hub
	start_plumb_hub "$db"
	[ "$(viewer_get /v1/hosts)" = 200 ] || fail "hosts after restart"
	[ "$(json_get "$T/get.json" 'len(d["hosts"])')" = 7 ] || fail "hosts lost across a restart"
	stop_plumb_hub

	# CLI errors: usage is 2, a database it cannot use is 1, with a reason.
	rc=0; "$PLUMB_HUB" --db "$db" 2>"$T/err" || rc=$?
	expect_rc 2 "plumb-hub without --listen"
	rc=0; "$PLUMB_HUB" --db "$db" --listen 127.0.0.1:0 --retain 5m 2>"$T/err" || rc=$?
	expect_rc 2 "plumb-hub --retain 5m"
	local bad
	for bad in "--max-skew 2d" "--max-string 10" "--max-events 0" "--max-inflight 10K" "--recv-timeout 0s" \
		"--host-rate lots" "--host-quota -1" "--per-ip 0" "--per-ip 5000"; do
		# shellcheck disable=SC2086 # the option and its value, split on purpose
		rc=0; "$PLUMB_HUB" --db "$db" --listen 127.0.0.1:0 $bad 2>"$T/err" || rc=$?
		expect_rc 2 "plumb-hub $bad"; expect_err "${bad%% *}"
	done
	rc=0; "$PLUMB_HUB" --db "$db" --listen 127.0.0.1:0 --max-body 8M --max-inflight 4M 2>"$T/err" || rc=$?
	expect_rc 2 "--max-inflight under --max-body"; expect_err "at least --max-body"
	rc=0; "$PLUMB_HUB" --db "$db" --listen 127.0.0.1:0 --tls-crl /dev/null 2>"$T/err" || rc=$?
	expect_rc 1 "--tls-crl without --tls-client-ca"; expect_err "needs --tls-client-ca"
	rc=0; "$PLUMB_HUB" --db "$db" --listen 'nonsense' 2>"$T/err" || rc=$?
	expect_rc 1 "plumb-hub --listen nonsense"; expect_err "bad --listen"
	rc=0; "$PLUMB_HUB" --db "$db" token add 'bad host' >/dev/null 2>"$T/err" || rc=$?
	expect_rc 1 "token add with a space"; expect_err "not a valid host name"
	hub_sql "$db" "UPDATE plumb_schema SET version = 99"
	rc=0; "$PLUMB_HUB" --db "$db" token list >/dev/null 2>"$T/err" || rc=$?
	expect_rc 1 "a database from a newer hub"; expect_err "newer than this plumb-hub"
}

# hub_migration DB: a database as schema version 1 left it (one host, one
# report, one event) is brought to the current schema by a starting hub,
# keeps its data, and takes report ids per host from then on. DB must not
# exist yet (SQLite) or be empty (PostgreSQL).
hub_migration() {
	local db=$1 serial=INTEGER\ PRIMARY\ KEY\ AUTOINCREMENT
	case $db in postgres*) serial=BIGSERIAL\ PRIMARY\ KEY;; esac
	sed -e "s/@SERIAL@/$serial/" -e "s/@NOW@/$(date +%s)/g" "$TESTS_DIR/data/hub/schema-v1.sql" > "$T/v1.sql"
	hub_sql_script "$db" "$T/v1.sql" || fail "cannot make a version 1 database"
	start_plumb_hub "$db"
	VTOK=$("$PLUMB_HUB" --db "$db" token add --viewer migration 2>/dev/null)
	[ "$(hub_query "$db" "SELECT MAX(version) FROM plumb_schema")" = 5 ] || fail "the schema was not migrated to version 5"
	[ "$(viewer_get /v1/reports/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa)" = 200 ] || fail "the old report is gone after migration"
	[ "$(json_get "$T/get.json" 'd["old"]')" = report ] || fail "the old report changed in migration"
	[ "$(viewer_get '/v1/events?host=old1')" = 200 ] && [ "$(json_get "$T/get.json" 'len(d["events"])')" = 1 ] ||
		fail "the old event is gone after migration"
	[ "$(viewer_get /v1/hosts)" = 200 ] && [ "$(json_get "$T/get.json" '[h["status"] for h in d["hosts"] if h["host"] == "old1"]')" = "['compliant']" ] ||
		fail "the old host is not listed as compliant: $(cat "$T/get.json")"
	[ "$(hub_query "$db" "SELECT stored_bytes FROM hosts WHERE host = 'old1'")" = 16 ] || fail "stored bytes not counted in migration"
	# the old report's id, from another host, is that host's own
	local tok
	tok=$("$PLUMB_HUB" --db "$db" token add new1 2>/dev/null)
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["host"]="new1"; d["id"]="aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"; d["mode"]="enforce"; print(json.dumps(d))' \
		"$T/template.json" > "$T/new1.json"
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" --data-binary @"$T/new1.json" "$HUB_URL/v1/reports")" = 201 ] ||
		fail "an old id from another host was not stored after migration"
	[ "$(viewer_get '/v1/reports/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa?host=old1')" = 200 ] &&
		[ "$(json_get "$T/get.json" 'd["old"]')" = report ] || fail "the old host's report was shadowed"
	stop_plumb_hub
}
