# hub_page.sh - the fleet page's API suite (tests/lib/hub_page_api_test.py)
# against one database engine: page_api_suite DB [BULK]. Used by t0513
# (SQLite) and t0514 (PostgreSQL). Source after hub.sh.

# hub_bulk_hosts DB N: writes N hosts (fleet-00000 ...) straight into the
# hub's database, as ingest would leave them: every 7th drifting, every
# 50th silent (a day without a report), the rest compliant on serial 42.
hub_bulk_hosts() {
	local name now
	now=$(date +%s)
	case $1 in
	postgres*) name="'fleet-' || LPAD(CAST(i AS TEXT), 5, '0')";;
	*) name="printf('fleet-%05d', i)";;
	esac
	# one statement, both engines: a recursive count, no command line per row
	hub_sql "$1" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1)
	  INSERT INTO hosts (host, first_seen, last_seen, last_finished, commit_id, serial, signer, mode,
	    agent_version, unresolved, reports, events, base_rank)
	  SELECT $name, $now - 86400, CASE WHEN i % 50 = 0 THEN $now - 86400 ELSE $now - 60 END, $now,
	    '0123456789abcdef0123456789abcdef01234567', 42, 'ci@example.com', 'enforce', '0.1.0',
	    CASE WHEN i % 7 = 0 THEN 1 ELSE 0 END, 1, 0, CASE WHEN i % 7 = 0 THEN 1 ELSE 5 END FROM n" ||
		fail "cannot write $2 hosts into $1"
}

page_api_suite() {
	local db=$1 bulk=${2:-1200}
	cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
Y
	plumb_bl check --json
	expect_rc 2 "plumb check on an empty root"
	cp "$T/out" "$T/template.json"
	start_plumb_hub "$db" --host-rate 0
	hub_bulk_hosts "$db" "$bulk"
	python3 "$TESTS_DIR/lib/hub_page_api_test.py" --hub "$PLUMB_HUB" --db "$db" --url "$HUB_URL" \
		--template "$T/template.json" --bulk "$bulk" --log "$HUBLOG" ||
		fail "page API checks failed (hub log: $(tail -3 "$HUBLOG"))"
	stop_plumb_hub
}
