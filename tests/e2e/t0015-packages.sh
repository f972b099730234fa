#!/bin/bash
# packages: the sandbox root's own dpkg database. Tiny real packages built
# with dpkg-deb --build and installed with dpkg --root: one that must be
# absent is purged with dpkg --root (its files go), one that must be
# present and is stays, one that must be present and is not fails with a
# clear reason (installing needs apt-get on /); enforce: warn and check
# change nothing; a root without a dpkg database has nothing installed.
. "$(dirname "$0")/../lib/lib.sh"
command -v dpkg-deb >/dev/null && [ -x /usr/bin/dpkg ] || skip "dpkg is not installed"
[ "$(id -u)" -eq 0 ] || skip "dpkg --root needs root"
schema_ok() {
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
mkpkg() { # NAME VERSION: a package holding /usr/share/doc/NAME/README
	local d=$T/pkg/$1
	mkdir -p "$d/DEBIAN" "$d/usr/share/doc/$1"
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: plumb tests <t@example.com>\nDescription: plumb test package\n' \
		"$1" "$2" > "$d/DEBIAN/control"
	echo "$1" > "$d/usr/share/doc/$1/README"
	dpkg-deb --root-owner-group --build "$d" "$T/$1.deb" >/dev/null || fail "dpkg-deb --build $1"
}
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates"
touch "$ROOT/var/lib/dpkg/status" "$ROOT/var/lib/dpkg/available"
for p in plumbtest-telnetd plumbtest-keep plumbtest-warned; do
	mkpkg "$p" 1.0-1
	dpkg --root="$ROOT" -i "$T/$p.deb" >/dev/null 2>&1 || fail "dpkg --root -i $p"
done
[ -f "$ROOT/usr/share/doc/plumbtest-telnetd/README" ] || fail "test premise: package not installed"
cat > "$BL/baseline.yaml" <<'Y'
version: 1
packages:
  - name: plumbtest-telnetd
    state: absent
  - name: plumbtest-keep
    state: present
  - name: plumbtest-needed
    state: present
    sensitive: true
  - name: plumbtest-warned
    state: absent
    enforce: warn
  - name: plumbtest-never
    state: absent
Y
before=$(tree_digest "$ROOT")
plumb_bl check --json
expect_rc 2 "check"
[ "$(tree_digest "$ROOT")" = "$before" ] || fail "check changed the root"
schema_ok "$T/out"
ev() { json_get "$T/out" "[e for e in d['events'] if e['resource']=='package:$1'][0]$2"; }
[ "$(ev plumbtest-telnetd '["drift"]')" = "['present']" ] || fail "telnetd drift kinds"
[ "$(ev plumbtest-telnetd '["actual"]["status"]')" = "install ok installed" ] || fail "telnetd actual status"
[ "$(ev plumbtest-telnetd '["actual"]["version"]')" = "1.0-1" ] || fail "telnetd actual version"
[ "$(ev plumbtest-needed '["drift"]')" = "['missing']" ] || fail "needed drift kinds"
[ "$(ev plumbtest-needed '["expected"]')" = "{'sensitive': True}" ] || fail "sensitive: the package's state was reported"
plumb_bl check
expect_out "check: 5 resources, 3 drifted, 0 reverted, 0 failed"

plumb_bl apply --json
expect_rc 6 "apply: one purged, one cannot be installed"
schema_ok "$T/out"
[ "$(ev plumbtest-telnetd '["action"]')" = reverted ] || fail "telnetd not reverted: $(ev plumbtest-telnetd '')"
[ "$(ev plumbtest-needed '["action"]')" = failed ] || fail "needed must fail on a sandbox root"
ev plumbtest-needed '["error"]' | grep -qF "installing a package needs apt-get on the running system; the root is not /" \
	|| fail "no clear reason: $(ev plumbtest-needed '["error"]')"
[ "$(ev plumbtest-warned '["action"]')" = detected ] || fail "enforce: warn must only detect"
expect_missing "$ROOT/usr/share/doc/plumbtest-telnetd/README"
[ -f "$ROOT/usr/share/doc/plumbtest-warned/README" ] || fail "enforce: warn removed a package"
[ -f "$ROOT/usr/share/doc/plumbtest-keep/README" ] || fail "a wanted package was removed"
dpkg --root="$ROOT" -s plumbtest-telnetd >/dev/null 2>&1 && fail "dpkg still lists plumbtest-telnetd"

plumb_bl apply
expect_out "enforce: 5 resources, 2 drifted, 0 reverted, 1 failed"

# reinstalled behind plumb's back: purged again
dpkg --root="$ROOT" -i "$T/plumbtest-telnetd.deb" >/dev/null 2>&1
plumb_bl apply
expect_out "package:plumbtest-telnetd: reverted present"

# a root without a dpkg database: nothing is installed
rm -rf "$ROOT/var/lib/dpkg"
plumb_bl check
expect_out "check: 5 resources, 2 drifted, 0 reverted, 0 failed"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
packages:
  - name: Telnetd
    state: absent
Y
plumb_bl check
expect_rc 1 "a bad package name is refused"
grep -q "baseline.yaml:3:11: name: 'Telnetd' is not a Debian package name" "$T/err" || fail "no file:line:col"
