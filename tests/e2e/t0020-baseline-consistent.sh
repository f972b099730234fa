#!/bin/bash
# The shipped baseline says the same thing everywhere and its shell files
# are safe where Debian reads them (issue 18):
# - every key of the sysctl.d files is in baseline.yaml's sysctl: list with
#   the same value (so a run-time change is put back too), but the three
#   documented file-only keys; and no sysctl: key is missing from the files
#   (a value that would not survive a reboot);
# - /etc/profile.d's TMOUT file works under dash and bash: TMOUT is 600,
#   read-only (a user cannot lift it), and reading /etc/profile twice (a
#   nested login shell) prints no error;
# - pwquality keeps dictcheck only with cracklib-runtime required, and never
#   enforce_for_root (root must always be able to set a password);
# - pam_faillock never locks root (no even_deny_root) and the pam-configs
#   profiles are complete; PermitRootLogin stays prohibit-password, and
#   sshd_config (owned whole) says what the drop-in says, before its Include;
# - audit's -e 2 is the last rule, and every notify: exec is a no-op in a
#   root without the program (run here against an empty root).
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
B=$REPO/baselines

# sysctl: the files against the list.
python3 - "$B" > "$T/sysctl" <<'PY' || fail "sysctl files and baseline.yaml disagree: $(cat "$T/sysctl")"
import re, sys
b = sys.argv[1]
files = {}
for f in ("99-zz-plumb-net.conf", "99-zz-plumb-kernel.conf"):
    for line in open(f"{b}/files/sysctl/{f}"):
        m = re.match(r"^([a-z0-9_.]+) = (.+)$", line.strip())
        if m:
            if m.group(1) in files:
                print(f"{m.group(1)} twice in the files"); sys.exit(1)
            files[m.group(1)] = m.group(2)
live, key = {}, None
for line in open(f"{b}/baseline.yaml"):
    m = re.match(r"  - key: (\S+)$", line)
    if m: key = m.group(1); continue
    m = re.match(r'    value: "(.*)"$', line)
    if m and key: live[key] = m.group(1); key = None
file_only = {"net.core.bpf_jit_harden", "kernel.yama.ptrace_scope", "kernel.sysrq"}
bad = [k for k in files if k not in file_only and live.get(k) != files[k]]
bad += [k for k in live if k not in files]
bad += [k for k in file_only if k in live]
if len(files) < 35 or bad:
    print(f"{len(files)} keys; differ: {bad}"); sys.exit(1)
print(len(files))
PY
note "$(cat "$T/sysctl") sysctl keys: files and live list agree"

# TMOUT under dash and bash, read twice, and a user trying to lift it.
for sh in dash bash; do
	command -v $sh >/dev/null || skip "$sh is missing"
	env -i $sh -c ". '$B/files/profile/plumb-tmout.sh'; . '$B/files/profile/plumb-tmout.sh'; echo \$TMOUT" \
		>"$T/out" 2>"$T/err" || fail "$sh: the TMOUT file fails: $(cat "$T/err")"
	[ "$(cat "$T/out")" = 600 ] && [ ! -s "$T/err" ] || fail "$sh: TMOUT='$(cat "$T/out")', stderr '$(cat "$T/err")'"
	rc=0; env -i $sh -c ". '$B/files/profile/plumb-tmout.sh'; TMOUT=0; echo lifted" >"$T/out" 2>&1 || rc=$?
	[ "$rc" != 0 ] && ! grep -q lifted "$T/out" || fail "$sh: a user lifted TMOUT: $(cat "$T/out")"
	env -i $sh -c ". '$B/files/profile/plumb-umask.sh'; umask" >"$T/out" 2>&1
	[ "$(cat "$T/out")" = 0077 ] || fail "$sh: umask file gives $(cat "$T/out")"
done
env -i bash -c ". '$B/files/profile/plumb-tmout.sh'; declare -p TMOUT" >"$T/out" 2>&1
grep -q 'declare -rx TMOUT="600"' "$T/out" || fail "bash: TMOUT is not exported read-only: $(cat "$T/out")"
note "TMOUT=600 read-only under dash and bash, twice without error"

# Never stop root.
P=$B/files/security/pwquality.conf
grep -Eq '^[[:space:]]*enforce_for_root' "$P" && fail "pwquality.conf enforces for root"
if grep -Eq '^[[:space:]]*dictcheck[[:space:]]*=[[:space:]]*1' "$P"; then
	grep -A1 -- '- name: cracklib-runtime' "$B/baseline.yaml" | grep -q 'state: present' ||
		fail "dictcheck = 1 without cracklib-runtime required"
fi
grep -Eq '^[[:space:]]*even_deny_root' "$B/files/pam/faillock.conf" && fail "faillock locks root"
grep -Eq '^deny = [3-9]' "$B/files/pam/faillock.conf" || fail "faillock deny is not set"
grep -qx 'PermitRootLogin prohibit-password' "$B/files/ssh/00-plumb-hardening.conf" || fail "PermitRootLogin is not prohibit-password"
for p in "$B"/files/pam/plumb-*; do
	for k in Name Default Priority; do grep -q "^$k: " "$p" || fail "$p has no $k"; done
	grep -q "^Default: yes" "$p" || fail "$p is not enabled by pam-auth-update --package"
	grep -q "/usr/share/pam-configs/$(basename "$p")" "$B/baseline.yaml" || fail "$p is not in baseline.yaml"
done
# sudoers.d is never purged (the admins' own rules live there).
python3 - "$B/baseline.yaml" <<'PY' || fail "/etc/sudoers.d is purged: admins would lose their rules"
import re, sys
cur = None
for line in open(sys.argv[1]):
    m = re.match(r"  - path: (\S+)", line)
    if m: cur = m.group(1); continue
    if cur == "/etc/sudoers.d" and re.match(r"    purge: true", line): sys.exit(1)
PY
[ "$(grep -v '^#' "$B/files/audit/plumb.rules" | grep . | tail -1)" = "-e 2" ] || fail "-e 2 is not the last audit rule"
# sshd_config (owned whole, read by scanners) and the drop-in agree, and the
# Include comes after plumb's values (sshd keeps the first value).
python3 - "$B/files/ssh" <<'PY' || fail "sshd_config and 00-plumb-hardening.conf disagree"
import sys
def kv(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            k, v = line.split(None, 1)
            out.append((k.lower(), v))
    return out
main, drop = kv(sys.argv[1] + "/sshd_config"), kv(sys.argv[1] + "/00-plumb-hardening.conf")
first = {}
for i, (k, v) in enumerate(main):
    first.setdefault(k, (i, v))
inc = first.get("include", (None,))[0]
bad = [k for k, v in drop if k not in first or first[k][1] != v or first[k][0] > inc]
if inc is None or inc != len(main) - 1 or bad or first.get("kbdinteractiveauthentication", (0, ""))[1] != "no":
    print(bad, inc); sys.exit(1)
PY
note "root keeps its way in: pwquality, faillock, sshd, sudoers.d"

# Each notify: exec of the baseline, run the way plumb runs it (the root as
# working directory, PLUMB_ROOT set, no other environment) against a root
# without the program: it does nothing and succeeds; with PLUMB_ROOT=/ it
# would run the host's program (not run here).
mkdir -p "$T/empty"
python3 - "$B/baseline.yaml" "$T/empty" <<'PY' || fail "a notify command is not a no-op in an empty root"
import json, re, subprocess, sys
cmds = []
for line in open(sys.argv[1]):
    m = re.match(r"\s+- exec: (\[.*\])$", line)
    if m and json.loads(m.group(1)) not in cmds:
        cmds.append(json.loads(m.group(1)))
if len(cmds) < 2:
    print(f"only {len(cmds)} distinct notify commands"); sys.exit(1)
for argv in cmds:
    r = subprocess.run(argv, cwd=sys.argv[2], env={"PLUMB_ROOT": sys.argv[2]}, capture_output=True, timeout=30)
    if r.returncode != 0 or r.stdout or r.stderr:
        print(f"{argv[-1]}: exit {r.returncode}: {r.stdout!r} {r.stderr!r}"); sys.exit(1)
PY
note "notify commands are no-ops in a root without PAM or auditd"
