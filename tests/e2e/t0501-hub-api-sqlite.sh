#!/bin/bash
# plumb-hub on SQLite (the embedded default): the full API suite against
# the real server on loopback, retention, restart, CLI errors.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/hub_suite.sh"
trap 'stop_plumb_hub; cleanup' EXIT

hub_suite "$T/hub.db"
[ "$(stat -c %a "$T/hub.db")" = 600 ] || fail "database is not 0600"
hub_migration "$T/v1.db"
