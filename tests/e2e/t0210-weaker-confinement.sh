#!/bin/bash
# "Weaker confinement" is said where people and the hub look, not only in
# the log: the report's "confinement" object (docs/report.schema.json,
# accepted by the real plumb-hub) and `plumb status`. With the user and a
# reachable cache, nothing is said (unless the kernel lacks Landlock);
# without the user: user_missing; with a cache the user cannot reach:
# user_unreachable. plumbd's reports carry it too. last-report.json and
# the spooled copy are one rendering, byte for byte.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"
. "$TESTS_DIR/lib/hub.sh"
. "$TESTS_DIR/lib/gitsign.sh"
[ "$(id -u)" -eq 0 ] || skip "needs root (to create a user)"
command -v useradd >/dev/null || skip "useradd missing"
U=plumbw$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" || fail "useradd $U"
trap 'stop_plumbd; stop_plumb_hub; userdel "$U" 2>/dev/null; cleanup' EXIT
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
if [ "$abi" -gt 0 ]; then NOLL=; else NOLL=no_landlock; fi
weaker() { json_get "$STATE/last-report.json" '",".join(d.get("confinement", {}).get("weaker", []))'; }
joined() { local IFS=,; echo "$*"; }

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "confined"
HOST=$(hostname)
start_plumb_hub "$T/hub.db"
"$PLUMB_HUB" --db "$T/hub.db" token add "$HOST" > "$T/agent.token" 2>/dev/null || fail "token add"
chmod 600 "$T/agent.token"
VTOK=$("$PLUMB_HUB" --db "$T/hub.db" token add --viewer e2e 2>/dev/null)
# a report URL nobody answers first: the reports stay in the spool
write_cfg "user: $U
report:
  url: http://127.0.0.1:9/v1/reports
  token_file: $T/agent.token"

# As designed: nothing said; the spooled report is last-report.json itself.
run_cfg apply; expect_rc 2 "apply with the user"
[ "$(weaker)" = "$NOLL" ] || fail "confinement with the user and a reachable cache: '$(weaker)'"
spooled=$(ls "$STATE/spool" | grep -E '^[0-9]{20}-d-.*\.json$' | tail -1)
[ -n "$spooled" ] || fail "nothing spooled: $(ls "$STATE/spool")"
cmp -s "$STATE/last-report.json" "$STATE/spool/$spooled" ||
	fail "last-report.json and the spooled report differ: $(diff <(tr ',' '\n' < "$STATE/last-report.json") <(tr ',' '\n' < "$STATE/spool/$spooled") | head -5)"
run_cfg status
expect_rc 0 "status"
if [ -z "$NOLL" ]; then grep -q "weaker confinement" "$T/out" && fail "status says weaker confinement: $(cat "$T/out")"; fi

# Without the user: user_missing, in the report and in status.
userdel "$U"
echo drift > "$ROOT/etc/motd"
run_cfg apply; expect_rc 2 "apply without the user"
[ "$(weaker)" = "$(joined user_missing $NOLL)" ] || fail "confinement without the user: '$(weaker)'"
json_get "$STATE/last-report.json" 'd["confinement"]["detail"]' | grep -q "user '$U' does not exist: the git fetcher and the report sender run as root" ||
	fail "detail: $(json_get "$STATE/last-report.json" 'd["confinement"]')"
run_cfg status
expect_out "weaker confinement: user '$U' does not exist"
rid=$(json_get "$STATE/last-report.json" 'd["id"]')

# The real hub takes it.
sed -i "s|http://127.0.0.1:9/v1/reports|$HUB_URL/v1/reports|" "$CFG"
run_cfg deliver
expect_rc 0 "deliver to the real hub: $(cat "$T/out")"
[ "$(spool_count)" -eq 0 ] || fail "reports left in the spool"
code=$(curl -s -o "$T/get.json" -w '%{http_code}' -H "Authorization: Bearer $VTOK" "$HUB_URL/v1/reports/$rid")
[ "$code" = 200 ] || fail "the hub does not have report $rid ($code)"

# A cache the user cannot reach (state_dir below a 0700 directory): user_unreachable.
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" || fail "useradd $U again"
mkdir -m 0700 "$T/closed"
STATE=$T/closed/state
write_cfg "user: $U
report:
  url: $HUB_URL/v1/reports
  token_file: $T/agent.token"
echo drift1 > "$ROOT/etc/motd"
run_cfg apply; expect_rc 2 "apply with an unreachable cache"
expect_err "weaker confinement"
[ "$(weaker)" = "$(joined user_unreachable $NOLL)" ] || fail "confinement with an unreachable cache: '$(weaker)'"
json_get "$STATE/last-report.json" 'd["confinement"]["detail"]' | grep -q "cannot reach '$STATE/cache.git'" ||
	fail "detail: $(json_get "$STATE/last-report.json" 'd["confinement"]')"
wait_until 20 '[ "$(spool_count)" -eq 0 ]' || fail "the hub did not take the user_unreachable report"

# plumbd's reports say it too (its first run, without the user).
userdel "$U"
STATE=$T/state
echo drift2 > "$ROOT/etc/motd"
start_plumbd -c "$CFG"
wait_until 20 '[ "$(cat "$ROOT/etc/motd")" = confined ] && [ "$(weaker)" = "$(joined user_missing $NOLL)" ]' ||
	fail "plumbd's report lacks the confinement: '$(weaker)' $(tail -3 "$DLOG")"
stop_plumbd
exit 0
