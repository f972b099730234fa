# hub.sh - run the real plumb-hub (and, for the fleet engine, a real
# PostgreSQL server started here) in end-to-end tests. Source after lib.sh
# and daemon.sh (for wait_until). Needs $PLUMB_HUB.
: "${PLUMB_HUB:=$(dirname "$PLUMB")/plumb-hub}"
HUBLOG=$T/hub.log

# start_plumb_hub DB ARGS...: serves DB on 127.0.0.1 (a free port); sets
# HUB_PID and HUB_URL. Waits for the port file, bounded.
start_plumb_hub() {
	local db=$1; shift
	rm -f "$T/hub.port"
	"$PLUMB_HUB" --db "$db" --listen 127.0.0.1:0 --port-file "$T/hub.port" "$@" >>"$HUBLOG" 2>&1 &
	HUB_PID=$!
	wait_until 20 '[ -s "$T/hub.port" ]' || fail "plumb-hub did not start: $(tail -5 "$HUBLOG")"
	HUB_URL=http://127.0.0.1:$(cat "$T/hub.port")
}
# stop_plumb_hub: SIGTERM, and the hub must exit 0 (under ASan, also leak-free).
stop_plumb_hub() {
	[ -n "${HUB_PID:-}" ] || return 0
	local rc=0
	kill -TERM "$HUB_PID" 2>/dev/null
	wait "$HUB_PID" 2>/dev/null || rc=$?
	HUB_PID=
	[ "$rc" -eq 0 ] || fail "plumb-hub exited $rc on SIGTERM: $(tail -20 "$HUBLOG")"
}

# pg_start: initdb + postgres as the postgres user, listening only on a
# Unix socket in a private directory; creates database "plumb" and sets
# PG_URI. Returns 1 (caller skips) where PostgreSQL cannot run here.
PG_DIR=
pg_start() {
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	[ -n "$bin" ] && [ -x "$bin/initdb" ] || { PG_WHY="no PostgreSQL server installed"; return 1; }
	PG_BIN=$bin
	id postgres >/dev/null 2>&1 || { PG_WHY="no postgres user"; return 1; }
	PG_DIR=$(mktemp -d /tmp/plumb-pg.XXXXXX)
	chown postgres: "$PG_DIR"
	runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" --auth=trust -U postgres >"$PG_DIR/initdb.log" 2>&1 ||
		{ PG_WHY="initdb failed: $(tail -2 "$PG_DIR/initdb.log")"; return 1; }
	# fsync off for tests (speed); benchmarks set PG_FSYNC=on.
	printf "listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = %s\n" "$PG_DIR" "${PG_FSYNC:-off}" >> "$PG_DIR/data/postgresql.conf"
	runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null 2>&1 ||
		{ PG_WHY="postgres did not start: $(tail -2 "$PG_DIR/server.log")"; return 1; }
	runuser -u postgres -- "$bin/createdb" -h "$PG_DIR" plumb || { PG_WHY="createdb failed"; return 1; }
	PG_URI="postgresql:///plumb?host=$PG_DIR&user=postgres"
}
pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}
# pg_sql SQL: runs one statement on the test database (psql, argv only);
# PG_DB names another database of the same server.
pg_sql() { runuser -u postgres -- "$PG_BIN/psql" -h "$PG_DIR" -d "${PG_DB:-plumb}" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# pg_createdb NAME: another database on the test server; prints its URI.
pg_createdb() {
	runuser -u postgres -- "$PG_BIN/createdb" -h "$PG_DIR" "$1" || return 1
	echo "postgresql:///$1?host=$PG_DIR&user=postgres"
}

# hub_sql DB SQL: runs one statement on the hub's database, SQLite or
# PostgreSQL (argv only, no shell command lines).
hub_sql() {
	case $1 in
	postgres*) pg_sql "$2";;
	*) python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' "$1" "$2";;
	esac
}

# hub_sql_script DB FILE: runs a file of statements (SQLite's executescript,
# or psql in one transaction) on the hub's database.
hub_sql_script() {
	case $1 in
	postgres*) PG_DB=$(echo "$1" | sed 's|^postgresql:///\([^?]*\).*|\1|') pg_sql "$(cat "$2")";;
	*) python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.commit()' "$1" "$2";;
	esac
}

# hub_query DB SQL: prints the rows of one query, one a line, columns by "|".
hub_query() {
	case $1 in
	postgres*) PG_DB=$(echo "$1" | sed 's|^postgresql:///\([^?]*\).*|\1|') pg_sql "$2";;
	*) python3 -c 'import sqlite3,sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(map(str, r)))' "$1" "$2";;
	esac
}

# hub_age_data DB DAYS: moves every stored report and event DAYS days into
# the past, as if they had been received then (retention tests).
hub_age_data() {
	local secs=$(( $2 * 86400 ))
	hub_sql "$1" "UPDATE events SET received_at = received_at - $secs" &&
		hub_sql "$1" "UPDATE reports SET received_at = received_at - $secs"
}
