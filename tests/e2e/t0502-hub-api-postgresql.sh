#!/bin/bash
# plumb-hub on PostgreSQL (the fleet engine): the same API suite against a
# real PostgreSQL server this test starts (Unix socket only) and stops.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/hub_suite.sh"
trap 'stop_plumb_hub; pg_stop; cleanup' EXIT

pg_start || skip "PostgreSQL cannot run here: $PG_WHY"
hub_suite "$PG_URI"
hub_migration "$(pg_createdb plumb_v1)" || fail "cannot create a second database"
