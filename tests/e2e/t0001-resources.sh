#!/bin/bash
# Every resource kind drifts and is repaired; exit codes; idempotence;
# check changes nothing; status and --json.
. "$(dirname "$0")/../lib/lib.sh"

mkdir -p "$BL/files"
printf 'Port 22\nPermitRootLogin no\n' > "$BL/files/sshd_config"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
serial: 1
files:
  - path: /etc/motd
    content: "Authorized use only\n"
    mode: "0644"
    owner: root
    group: root
  - path: /etc/ssh
    type: directory
    mode: "0755"
  - path: /etc/ssh/sshd_config
    source: files/sshd_config
    mode: "0600"
  - path: /etc/shadow
    mode: "0640"
    owner: root
    group: shadow
  - path: /etc/legacy.conf
    state: absent
  - path: /etc/localtime
    type: symlink
    target: /usr/share/zoneinfo/UTC
  - path: /var/lib/app/data
    type: directory
    mode: "0750"
    owner: plumbtest
    group: plumbtest
Y
echo 'root:*:19000:0:99999:7:::' > "$ROOT/etc/shadow"; chmod 0666 "$ROOT/etc/shadow"
echo 'old' > "$ROOT/etc/legacy.conf"
ln -s /usr/share/zoneinfo/Europe/Paris "$ROOT/etc/localtime"

before=$(tree_digest "$ROOT")
plumb_bl check
expect_rc 2 "check with drift"
[ "$(tree_digest "$ROOT")" = "$before" ] || fail "check changed the root"
expect_out "file:/etc/motd: detected missing"
expect_out "file:/etc/shadow: detected mode,group"
expect_out "file:/etc/legacy.conf: detected present"
expect_out "file:/etc/localtime: detected target"
expect_out "check: 7 resources, 7 drifted, 0 reverted, 0 failed"

plumb_bl apply
expect_rc 2 "first apply"
expect_out "enforce: 7 resources, 7 drifted, 7 reverted, 0 failed"
expect_content "$ROOT/etc/motd" "Authorized use only"
expect_mode "$ROOT/etc/motd" 644
expect_content "$ROOT/etc/ssh/sshd_config" "$(cat "$BL/files/sshd_config")"
expect_mode "$ROOT/etc/ssh/sshd_config" 600
expect_mode "$ROOT/etc/shadow" 640
expect_owner "$ROOT/etc/shadow" 0:42
expect_content "$ROOT/etc/shadow" 'root:*:19000:0:99999:7:::'
expect_missing "$ROOT/etc/legacy.conf"
[ "$(readlink "$ROOT/etc/localtime")" = /usr/share/zoneinfo/UTC ] || fail "localtime target"
expect_mode "$ROOT/var/lib/app/data" 750
expect_owner "$ROOT/var/lib/app/data" 4242:4243
# the removed file was kept in the quarantine, root-only
q=$(ls "$STATE/quarantine")
[ "$(cat "$STATE/quarantine/$q")" = old ] || fail "legacy.conf not quarantined"
expect_mode "$STATE/quarantine" 700
expect_mode "$STATE" 711          # searchable only: the fetch user reaches its cache.git

# idempotent
plumb_bl apply
expect_rc 0 "second apply"
expect_out "enforce: 7 resources, 0 drifted, 0 reverted, 0 failed"
plumb_bl check
expect_rc 0 "check when compliant"

# drift again: content, mode, owner, type, deletion
echo 'hacked' > "$ROOT/etc/motd"
chmod 0666 "$ROOT/etc/ssh/sshd_config"
chown 4242 "$ROOT/etc/shadow"
rm "$ROOT/etc/localtime"; echo 'not a link' > "$ROOT/etc/localtime"
rm -r "$ROOT/var/lib/app/data"
plumb_bl apply --json
expect_rc 2 "apply after drift"
[ "$(json_get "$T/out" 'd["schema"]')" = plumb.report/v1 ] || fail "schema"
[ "$(json_get "$T/out" 'd["summary"]["reverted"]')" = 5 ] || fail "reverted count"
[ "$(json_get "$T/out" 'd["baseline"]["signer"]')" = None ] || fail "signer must be null"
[ "$(json_get "$T/out" 'd["baseline"]["serial"]')" = 1 ] || fail "serial"
[ "$(json_get "$T/out" '[e["drift"] for e in d["events"] if e["resource"]=="file:/etc/motd"][0]')" = "['content']" ] || fail "motd drift kinds"
[ "$(json_get "$T/out" '[e["drift"] for e in d["events"] if e["resource"]=="file:/etc/localtime"][0]')" = "['type']" ] || fail "localtime drift kinds"
[ "$(json_get "$T/out" '[e["actual"]["sha256"] for e in d["events"] if e["resource"]=="file:/etc/motd"][0]')" = "$(printf 'hacked\n' | sha256sum | cut -d' ' -f1)" ] || fail "actual sha256"
[ "$(json_get "$T/out" '[e["actual"]["diff"] for e in d["events"] if e["resource"]=="file:/etc/motd"][0]')" = "$(printf '@@ -1 +1 @@\n-Authorized use only\n+hacked')" ] || fail "motd diff"
expect_content "$ROOT/etc/motd" "Authorized use only"
expect_mode "$ROOT/etc/ssh/sshd_config" 600
expect_owner "$ROOT/etc/shadow" 0:42
[ -L "$ROOT/etc/localtime" ] || fail "localtime not a symlink again"
[ -d "$ROOT/var/lib/app/data" ] || fail "directory not recreated"

# status shows the last run; --json gives the report
run_plumb status
expect_rc 0 status
expect_out "enforce: 7 resources, 5 drifted, 5 reverted, 0 failed"
run_plumb status --json
expect_rc 0 "status --json"
[ "$(json_get "$T/out" 'd["summary"]["drifted"]')" = 5 ] || fail "status json"
# no temp files left behind anywhere
[ -z "$(find "$ROOT" -name '.plumb-*')" ] || fail "temp files left"

# A large baseline runs in chunks of files (1,024 at a time): drift on both
# sides of every chunk boundary is found and reverted, each event once and
# in path order, and a notify: action shared by files in different chunks
# still runs once for the run.
printf '#!/bin/sh\necho run >> "%s"\n' "$T/notified" > "$T/mark"; chmod +x "$T/mark"
{
	printf 'version: 1\nfiles:\n'
	for i in $(seq -w 0 2599); do
		printf '  - path: /srv/many/f%s\n    content: "c%s\\n"\n' "$i" "$i"
		case $i in 0000|1023|1024|2047|2048|2599) printf '    notify:\n      - exec: ["%s"]\n' "$T/mark";; esac
	done
} > "$BL/baseline.yaml"
plumb_bl apply
expect_rc 2 "apply of 2,600 files"
rm -f "$T/notified"
for i in 0000 1023 1024 2047 2048 2599; do echo intruder > "$ROOT/srv/many/f$i"; done
plumb_bl apply --json
expect_rc 2 "apply after drift across chunk boundaries"
[ "$(json_get "$T/out" 'd["summary"]["resources"]')" = 2600 ] || fail "not every file was looked at"
[ "$(json_get "$T/out" '",".join(e["resource"][len("file:/srv/many/f"):] for e in d["events"] if e["action"] == "reverted")')" = \
	"0000,1023,1024,2047,2048,2599" ] || fail "reverts across chunks: $(json_get "$T/out" '[e["resource"] for e in d["events"]]')"
[ "$(wc -l < "$T/notified")" = 1 ] || fail "the shared notify action ran $(wc -l < "$T/notified") times, not once"
for i in 0000 1023 1024 2047 2048 2599; do expect_content "$ROOT/srv/many/f$i" "c$i"; done
