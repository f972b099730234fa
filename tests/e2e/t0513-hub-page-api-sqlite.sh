#!/bin/bash
# The fleet page's API on SQLite, the real hub on loopback: paging,
# filters, sorting and totals over 1,200 hosts; deltas, ETag/304; CSV and
# JSON exports (formula cells defused); fleet-wide event search; events per
# hour; rollout; acks by operators and admins (viewers 403, audit trail and
# log); sessions (cookie flags, CSRF, logout, revoke). Hostile input
# throughout (tests/lib/hub_page_api_test.py).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/hub_page.sh"
trap 'stop_plumb_hub; cleanup' EXIT

page_api_suite "$T/hub.db" 1200
