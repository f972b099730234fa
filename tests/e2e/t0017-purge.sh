#!/bin/bash
# purge: true on a directory: entries the baseline does not name are drift
# "unmanaged"; apply quarantines and removes files and symlinks, removes an
# empty subdirectory, never a tree, never follows a symlink. The case of the
# issue: a planted sshd_config.d/10-local.conf with PermitRootLogin yes wins
# over plumb's 50- file (sshd takes the first value it reads) until purged.
. "$(dirname "$0")/../lib/lib.sh"

schema_ok() { # FILE: the report validates against docs/report.schema.json
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
mkdir -p "$ROOT/etc/ssh/sshd_config.d" "$BL/files"
D=$ROOT/etc/ssh/sshd_config.d
printf 'PermitRootLogin no\nPasswordAuthentication no\n' > "$BL/files/50-plumb.conf"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/ssh/sshd_config.d
    type: directory
    mode: "0755"
    purge: true
  - path: /etc/ssh/sshd_config.d/50-plumb.conf
    source: files/50-plumb.conf
    mode: "0644"
  - path: /etc/ssh/sshd_config.d/keep/inner.conf
    content: "# managed below a subdirectory\n"
Y
plumb_bl apply
expect_rc 2 "first apply"
plumb_bl check
expect_rc 0 "compliant after the first apply"

# The attack: a drop-in that sorts first.
printf 'PermitRootLogin yes\n' > "$D/10-local.conf"
sshd_says() { # what sshd would run with, reading the sandbox's drop-ins
	printf 'Include %s/*.conf\nHostKey %s/hostkey\n' "$D" "$T" > "$T/sshd_config"
	timeout 10 /usr/sbin/sshd -T -f "$T/sshd_config" 2>/dev/null | sed -n 's/^permitrootlogin //p'
}
if [ -x /usr/sbin/sshd ] && ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" >/dev/null 2>&1; then
	[ "$(sshd_says)" = yes ] || fail "the planted drop-in does not win over plumb's file (test premise)"
	have_sshd=1
else
	note "no sshd here: the effective-config check is skipped, the purge is still tested"
	have_sshd=0
fi

# More that is not named: a symlink (to a file outside, never followed), an
# empty subdirectory, a subdirectory with content, plumb's temp name shape.
echo 'outside' > "$T/outside"
ln -s "$T/outside" "$D/20-link.conf"
mkdir "$D/empty.d" "$D/tree.d"
echo 'x' > "$D/tree.d/file"

plumb_bl check --json
expect_rc 2 "check finds unmanaged entries"
schema_ok "$T/out"
ev='[e for e in d["events"] if e["resource"]=="file:/etc/ssh/sshd_config.d"][0]'
[ "$(json_get "$T/out" "$ev[\"drift\"]")" = "['unmanaged']" ] || fail "drift kind is not unmanaged"
[ "$(json_get "$T/out" "sorted($ev[\"actual\"][\"unmanaged\"])")" = "['10-local.conf', '20-link.conf', 'empty.d/', 'tree.d/']" ] \
	|| fail "unmanaged names in the report: $(json_get "$T/out" "$ev[\"actual\"]")"
[ -f "$D/10-local.conf" ] || fail "check removed something"
plumb_bl check
expect_out "file:/etc/ssh/sshd_config.d: detected unmanaged"

# enforce: warn reports, never removes
sed 's/    purge: true/    purge: true\n    enforce: warn/' "$BL/baseline.yaml" > "$T/warn.yaml"
cp "$BL/baseline.yaml" "$T/enforce.yaml"; cp "$T/warn.yaml" "$BL/baseline.yaml"
plumb_bl apply
expect_rc 2 "apply under enforce: warn"
expect_out "file:/etc/ssh/sshd_config.d: detected unmanaged"
[ -f "$D/10-local.conf" ] || fail "enforce: warn removed an entry"
cp "$T/enforce.yaml" "$BL/baseline.yaml"

plumb_bl apply --json
expect_rc 4 "apply: purged, but a tree is left (a failed resource)"
schema_ok "$T/out"
expect_missing "$D/10-local.conf"
expect_missing "$D/20-link.conf"
expect_missing "$D/empty.d"
[ -f "$D/tree.d/file" ] || fail "a directory tree was removed"
[ "$(cat "$T/outside")" = outside ] || fail "the symlink's target was touched"
[ -f "$D/50-plumb.conf" ] && [ -f "$D/keep/inner.conf" ] || fail "a managed entry was removed"
[ "$(json_get "$T/out" "$ev[\"action\"]")" = failed ] || fail "a tree left behind must make the event failed"
json_get "$T/out" "$ev[\"error\"]" | grep -q "'tree.d': a directory that is not empty" || fail "error does not name the tree"
# the planted content was kept in the quarantine
grep -rqx 'PermitRootLogin yes' "$STATE/quarantine" || fail "10-local.conf not quarantined"
if [ "$have_sshd" = 1 ]; then
	[ "$(sshd_says)" = no ] || fail "after the purge sshd still reads PermitRootLogin $(sshd_says)"
fi

rm -r "$D/tree.d"
plumb_bl apply
expect_rc 0 "compliant once the tree is gone"
[ -z "$(find "$ROOT" -name '.plumb-*')" ] || fail "temp files left"

# purge is only for directories: file:line:col
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/motd
    content: "x"
    purge: true
Y
plumb_bl check
expect_rc 1 "purge on a file is refused"
grep -q "baseline.yaml:3:5: '/etc/motd': purge is only for type: directory" "$T/err" || fail "no file:line:col for purge on a file"

# plumbd: a drop-in planted in a purged directory goes within seconds
# (inotify on the directory), and is kept in the quarantine.
. "$TESTS_DIR/lib/daemon.sh"
cp "$T/enforce.yaml" "$BL/baseline.yaml"
start_plumbd --baseline-dir "$BL"
printf 'PermitRootLogin yes\n' > "$D/05-again.conf"
wait_until 5 '[ ! -e "$D/05-again.conf" ]' || fail "plumbd did not purge a planted drop-in within 5 s"
[ -f "$D/50-plumb.conf" ] || fail "plumbd removed a managed file"
stop_plumbd
grep -q "file:/etc/ssh/sshd_config.d: reverted unmanaged" "$DLOG" || fail "plumbd did not log the purge: $(tail -3 "$DLOG")"
