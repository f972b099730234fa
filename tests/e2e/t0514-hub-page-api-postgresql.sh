#!/bin/bash
# The fleet page's API on PostgreSQL (a real server this test starts on a
# Unix socket): the same suite as t0513.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/hub_page.sh"
trap 'stop_plumb_hub; pg_stop; cleanup' EXIT

pg_start || skip "PostgreSQL cannot run here: $PG_WHY"
page_api_suite "$PG_URI" 1200
