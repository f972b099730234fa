#!/bin/bash
# modules: loaded or not, as the modules list says. This sandbox has no
# loadable modules, so the list is a fake file (PLUMB_PROC_MODULES) and
# modprobe a stand-in script (PLUMB_MODPROBE) that edits it and records its
# argv: both for tests only. Checked: drift present/missing, repair through
# modprobe -r / modprobe with the name after "--", enforce: warn and check
# never run modprobe, a failing modprobe is a failed event with its output,
# and without a modules list every module is failed saying why.
. "$(dirname "$0")/../lib/lib.sh"
schema_ok() {
	/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || { note "python3-jsonschema missing: schema not checked"; return 0; }
	/usr/bin/python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$1" >"$T/schema.out" 2>&1 \
		|| fail "report does not validate: $(cat "$T/schema.out")"
}
M=$T/modules
printf 'hfs 1 0 - Live 0x0\ncramfs 16384 0 - Live 0x0000000000000000\nusb_storage 81920 0 - Live 0x0\nfreevxfs 1 0 - Live 0x0\n' > "$M"
cat > "$T/modprobe" <<EOF2
#!/bin/sh
echo "\$*" >> "$T/modprobe.log"
[ "\$1" = -r ] && [ "\$3" = freevxfs ] && { echo "modprobe: FATAL: Module freevxfs is in use." >&2; exit 1; }
if [ "\$1" = -r ]; then grep -v "^\$3 " "$M" > "$M.new"; mv "$M.new" "$M"; else echo "\$2 1 0 - Live 0x0" >> "$M"; fi
EOF2
chmod +x "$T/modprobe"
export PLUMB_PROC_MODULES=$M PLUMB_MODPROBE=$T/modprobe
cat > "$BL/baseline.yaml" <<'Y'
version: 1
modules:
  - name: cramfs
    loaded: false
  - name: usb-storage
    loaded: false
    enforce: warn
  - name: br_netfilter
    loaded: true
  - name: freevxfs
    loaded: false
  - name: squashfs
    loaded: false
  - name: hfs
    loaded: false
    sensitive: true
Y
plumb_bl check --json
expect_rc 2 "check"
[ ! -e "$T/modprobe.log" ] || fail "check ran modprobe"
ev() { json_get "$T/out" "[e for e in d['events'] if e['resource']=='module:$1'][0]$2"; }
[ "$(ev cramfs '["drift"]')" = "['present']" ] || fail "cramfs drift"
[ "$(ev usb_storage '["drift"]')" = "['present']" ] || fail "usb-storage is usb_storage to the kernel"
[ "$(ev br_netfilter '["drift"]')" = "['missing']" ] || fail "br_netfilter drift"
[ "$(ev hfs '["actual"]')" = "{'sensitive': True}" ] || fail "sensitive: the module's state was reported"
plumb_bl apply --json
expect_rc 6 "apply"
schema_ok "$T/out"
[ "$(ev cramfs '["action"]')" = reverted ] || fail "cramfs: $(ev cramfs '')"
[ "$(ev br_netfilter '["action"]')" = reverted ] || fail "br_netfilter: $(ev br_netfilter '')"
[ "$(ev usb_storage '["action"]')" = detected ] || fail "enforce: warn must only detect"
[ "$(ev freevxfs '["action"]')" = failed ] || fail "a failing modprobe must fail"
ev freevxfs '["error"]' | grep -qF "Module freevxfs is in use" || fail "no modprobe output in the error"
grep -qx -- "-r -- cramfs" "$T/modprobe.log" || fail "modprobe argv: $(cat "$T/modprobe.log")"
grep -qx -- "-- br_netfilter" "$T/modprobe.log" || fail "modprobe argv: $(cat "$T/modprobe.log")"
grep -q usb_storage "$T/modprobe.log" && fail "modprobe ran for an enforce: warn module"
grep -q "^cramfs " "$M" && fail "cramfs still listed"
plumb_bl check
expect_out "check: 6 resources, 2 drifted, 0 reverted, 0 failed"

export PLUMB_PROC_MODULES=$T/nonexistent
plumb_bl check
expect_out "module:cramfs: failed: cannot read $T/nonexistent"
expect_out "(no loadable modules here"

cat > "$BL/baseline.yaml" <<'Y'
version: 1
modules:
  - name: "cramfs;reboot"
    loaded: false
Y
plumb_bl check
expect_rc 1 "a bad module name is refused"
grep -q "baseline.yaml:3:11: name: 'cramfs;reboot' is not a kernel module name" "$T/err" || fail "no file:line:col"
