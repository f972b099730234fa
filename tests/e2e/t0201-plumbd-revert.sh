#!/bin/bash
# The real daemon reverts drift as the kernel reports it: a write, chmod,
# chown, delete, rename-over, a managed directory replaced, and the whole
# parent directory renamed away; its own writes cause no loop; it catches up
# after a restart; it stops cleanly on SIGTERM.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/daemon.sh"

mkdir -p "$BL"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "hello\n"
    mode: "0644"
    owner: root
    group: root
  - path: /etc/ssh
    type: directory
    mode: "0755"
  - path: /etc/ssh/sshd_config
    content: "PermitRootLogin no\n"
    mode: "0600"
  - path: /etc/legacy.conf
    state: absent
  - path: /etc/localtime
    type: symlink
    target: /usr/share/zoneinfo/UTC
Y
echo drifted > "$ROOT/etc/motd"
start_plumbd --baseline-dir "$BL"
expect_content "$ROOT/etc/motd" hello                      # catch-up at start
M=$ROOT/etc/motd
ok() { wait_until 5 "$1" || fail "not reverted within 5 s: $2"; }

echo intruder > "$M";                 ok '[ "$(cat $M)" = hello ]' "write"
chmod 0666 "$M";                      ok '[ "$(stat -c %a $M)" = 644 ]' "chmod"
chown 4242:4243 "$M";                 ok '[ "$(stat -c %u:%g $M)" = 0:0 ]' "chown"
rm "$M";                              ok '[ -f $M ]' "delete"
echo other > "$T/x"; mv "$T/x" "$M";  ok '[ "$(cat $M)" = hello ]' "rename over"
ln -sf /etc/shadow "$M";              ok '[ ! -L $M ] && [ "$(cat $M)" = hello ]' "replaced by a symlink"
echo bad > "$ROOT/etc/legacy.conf";   ok '[ ! -e $ROOT/etc/legacy.conf ]' "absent file created"
ln -sfn /usr/share/zoneinfo/Europe/Paris "$ROOT/etc/localtime"
ok '[ "$(readlink $ROOT/etc/localtime)" = /usr/share/zoneinfo/UTC ]' "symlink retargeted"
chmod 0700 "$ROOT/etc/ssh";           ok '[ "$(stat -c %a $ROOT/etc/ssh)" = 755 ]' "directory chmod"
rm -r "$ROOT/etc/ssh"
ok '[ "$(cat $ROOT/etc/ssh/sshd_config 2>/dev/null)" = "PermitRootLogin no" ]' "managed directory removed"
mv "$ROOT/etc/ssh" "$T/ssh.old"; mkdir "$ROOT/etc/ssh"; echo 'PermitRootLogin yes' > "$ROOT/etc/ssh/sshd_config"
ok '[ "$(cat $ROOT/etc/ssh/sshd_config)" = "PermitRootLogin no" ]' "directory replaced by another"
mv "$ROOT/etc" "$ROOT/etc.gone"
ok '[ "$(cat $M 2>/dev/null)" = hello ] && [ -f $ROOT/etc/ssh/sshd_config ]' "parent directory renamed away"
expect_content "$ROOT/etc.gone/motd" hello          # plumb never follows the moved tree

# its own writes cause no revert loop: the log settles
sleep 1
n1=$(grep -c 'reverted' "$DLOG"); sleep 1; n2=$(grep -c 'reverted' "$DLOG")
[ "$n1" = "$n2" ] || fail "reverts keep happening with nobody writing ($n1 -> $n2)"
grep -q 'file:/etc/motd: reverted content' "$DLOG" || fail "no log line per event"
[ "$(json_get "$STATE/last-report.json" 'd["schema"]')" = plumb.report/v1 ] || fail "report"

# metrics
grep -q '^plumb_resources 5$' "$STATE/plumb.prom" || fail "metrics: resources"
grep -Eq '^plumb_reverted_total [1-9][0-9]*$' "$STATE/plumb.prom" || fail "metrics: reverted_total"

# SIGTERM: a clean stop, promptly
t0=$(date +%s%N); kill -TERM "$PD"; wait "$PD"; rc=$?; PD=
t1=$(date +%s%N)
[ "$rc" -eq 0 ] || fail "plumbd exited $rc on SIGTERM"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || fail "SIGTERM took $(( (t1 - t0) / 1000000 )) ms"
grep -q 'SIGTERM: stopping' "$DLOG" || fail "no stop message"

# drift while it is down is reverted at the next start
echo 'while down' > "$M"; chmod 0600 "$ROOT/etc/ssh/sshd_config"; echo x > "$ROOT/etc/legacy.conf"
start_plumbd --baseline-dir "$BL"
expect_content "$M" hello
expect_missing "$ROOT/etc/legacy.conf"
