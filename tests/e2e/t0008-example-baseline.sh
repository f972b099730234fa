#!/bin/bash
# The shipped example baseline (baselines/): applies cleanly to a fresh root
# (a base system's account files only) inside a network namespace of its
# own, is idempotent, and every path it manages is covered: each one is
# drifted the way an intruder would, and the next apply puts it back
# exactly (content, mode, owner, type, target, absence). The owned
# firewall table is drifted and restored too.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
NS=plumb-t0008-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip netns exec "$NS" ip link set lo up
# kernel.*, fs.* and vm.* sysctl keys: copies of /proc/sys (ksys-sandbox.sh), never the host's.
nsplumb() { rc=0; ip netns exec "$NS" "$TESTS_DIR/lib/ksys-sandbox.sh" "$T/ksys" "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$REPO/baselines" "$@" >"$T/out" 2>"$T/err" || rc=$?; }

# A base system's account files, with the modes a careless image has.
echo 'root:*:19000:0:99999:7:::' > "$ROOT/etc/shadow"
echo 'root:*::' > "$ROOT/etc/gshadow"
chmod 0666 "$ROOT/etc/shadow" "$ROOT/etc/gshadow"
# The image's package database: what the baseline needs is installed.
mkdir -p "$ROOT/var/lib/dpkg"
printf 'Package: cracklib-runtime\nStatus: install ok installed\nVersion: 2.9.6-5+b1\nArchitecture: amd64\n\n' \
	> "$ROOT/var/lib/dpkg/status"

nsplumb apply
expect_rc 2 "first apply of the example baseline"
expect_out " 0 failed"
nsplumb apply
expect_rc 0 "second apply of the example baseline (idempotent)"

# Every entry of baseline.yaml, as "path<TAB>kind<TAB>value<TAB>mode<TAB>owner<TAB>group".
python3 - "$REPO/baselines/baseline.yaml" > "$T/entries" <<'PY'
import re, sys
entries, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"  - path: (\S+)", line)
    if m:
        cur = {"path": m.group(1)}; entries.append(cur); continue
    m = re.match(r"    (\w+): (.*)", line)
    if cur is not None and m:
        cur[m.group(1)] = m.group(2).strip().strip('"')
    elif not line.startswith(" "):
        cur = None
for e in entries:
    if e.get("state") == "absent": kind, val = "absent", "-"
    elif e.get("type") == "directory": kind, val = "dir", "-"
    elif e.get("type") == "symlink": kind, val = "symlink", e["target"]
    elif "source" in e: kind, val = "source", e["source"]
    elif "content" in e: kind, val = "content", e["content"] or "<empty>"
    else: kind, val = "meta", "-"
    print("\t".join([e["path"], kind, val, e.get("mode", "-"), e.get("owner", "-"), e.get("group", "-")]))
PY
n=$(wc -l < "$T/entries")
[ "$n" -ge 45 ] || fail "parsed only $n entries from baseline.yaml"
[ "$(grep -Ec $'\t(source|content)\t' "$T/entries")" -ge 27 ] || fail "fewer than 27 files with managed content"

# Drift every path.
while IFS=$'\t' read -r path kind val mode owner group; do
	p=$ROOT$path
	case $kind in
	source|content) echo "tampered" >> "$p"; chmod 0666 "$p"; chown 4242:4243 "$p";;
	meta) chmod 0666 "$p";;
	dir) chmod 0777 "$p"; chown 4242 "$p";;
	symlink) ln -sfn /tmp/elsewhere "$p";;
	absent) echo "planted" > "$p";;
	esac
done < "$T/entries"
nsplumb apply
expect_rc 2 "apply after drifting every path"
expect_out " 0 failed"
while IFS=$'\t' read -r path kind val mode owner group; do
	p=$ROOT$path
	grep -qF "file:$path: reverted" "$T/out" || fail "$path: drift not reported as reverted"
	case $kind in
	source) cmp -s "$p" "$REPO/baselines/$val" || fail "$path differs from baselines/$val";;
	content) [ "$val" = "<empty>" ] && val=; [ "$(cat "$p")" = "$(printf '%b' "$val")" ] || fail "$path content";;
	symlink) [ "$(readlink "$p")" = "$val" ] || fail "$path target is $(readlink "$p")";;
	absent) expect_missing "$p";;
	dir) [ -d "$p" ] && [ ! -L "$p" ] || fail "$path is not a directory";;
	esac
	if [ "$mode" != "-" ]; then expect_mode "$p" "$(printf '%o' "$((8#$mode))")"; fi
	if [ "$owner" = root ]; then [ "$(stat -c %u "$p")" = 0 ] || fail "$path owner"; fi
done < "$T/entries"
note "$n paths drifted and restored"
expect_out "exec:/bin/sh: notified"
nsplumb apply
expect_rc 0 "idempotent after the repair"

# The owned firewall table: a rule added by hand is taken out again.
ip netns exec "$NS" nft add rule inet plumb input tcp dport 23 accept
nsplumb check
expect_rc 2 "check sees the added rule"
expect_out "firewall:nftables:inet plumb"
nsplumb apply
expect_rc 2 "apply restores the table"
ip netns exec "$NS" nft list table inet plumb > "$T/nft"
grep -q 'dport 23' "$T/nft" && fail "the hand-added rule survived"
grep -q 'policy drop' "$T/nft" || fail "default-deny input is not in place"
grep -q 'tcp dport 22' "$T/nft" || fail "SSH is not allowed"

# Effective state: a drop-in planted where sshd reads it first is purged,
# and so are ones planted among the sysctl, audit and pam_limits drop-ins;
# the live net.* parameters of the namespace and the kernel-wide ones (in
# the copies) are put back; a package that must not be installed is
# reported, the one the baseline needs is judged present from the image's
# package database.
echo 'PermitRootLogin yes' > "$ROOT/etc/ssh/sshd_config.d/10-local.conf"
echo 'kernel.kptr_restrict = 0' > "$ROOT/etc/sysctl.d/zzzz-local.conf"
echo '-D' > "$ROOT/etc/audit/rules.d/zz-local.rules"
echo '* hard core unlimited' > "$ROOT/etc/security/limits.d/zz-local.conf"
ip netns exec "$NS" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv4/tcp_syncookies'
echo 0 > "$T/ksys/kernel/kptr_restrict"
echo 0 > "$T/ksys/fs/protected_regular"
for p in $(grep -o 'key: [a-z0-9_.]*' "$REPO/baselines/baseline.yaml" | cut -d' ' -f2); do
	case $p in net.*) ;; *) [ -f "$T/ksys/${p//.//}" ] || fail "$p: not in the sandbox copy of /proc/sys";; esac
done
nsplumb apply
expect_rc 2 "apply after the effective-state drift"
for d in /etc/ssh/sshd_config.d /etc/sysctl.d /etc/audit/rules.d /etc/security/limits.d; do
	expect_out "file:$d: reverted unmanaged"
done
expect_out "sysctl:net.ipv4.ip_forward: reverted value"
expect_out "sysctl:net.ipv4.tcp_syncookies: reverted value"
expect_out "sysctl:kernel.kptr_restrict: reverted value"
expect_out "sysctl:fs.protected_regular: reverted value"
expect_missing "$ROOT/etc/ssh/sshd_config.d/10-local.conf"
expect_missing "$ROOT/etc/sysctl.d/zzzz-local.conf"
expect_missing "$ROOT/etc/audit/rules.d/zz-local.rules"
expect_missing "$ROOT/etc/security/limits.d/zz-local.conf"
[ "$(ip netns exec "$NS" cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || fail "ip_forward not reverted in the namespace"
[ "$(cat "$T/ksys/kernel/kptr_restrict")" = 2 ] || fail "kernel.kptr_restrict not reverted in the copy"
nsplumb apply
expect_rc 0 "idempotent after the effective-state repair"
