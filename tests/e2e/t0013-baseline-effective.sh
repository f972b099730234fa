#!/bin/bash
# The shipped example baseline's values are the effective ones, and it
# locks no one out (issue 18's harms): after `plumb apply` with local drop-ins
# planted to override it, `sshd -T` shows plumb's sshd values (sshd takes
# the first value it reads), the order systemd-sysctl applies files in ends
# with plumb's (the last value wins), and a real sshd started from that
# configuration on loopback still accepts root with a key (Debian's default
# admin path) while refusing passwords. Nothing under the host's /etc is used.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
[ -x /usr/sbin/sshd ] || skip "sshd (openssh-server) is not installed"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is missing"
NS=plumb-t0011-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
trap 'kill "${SSHD:-0}" 2>/dev/null; ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip netns exec "$NS" ip link set lo up
echo 'root:*:19000:0:99999:7:::' > "$ROOT/etc/shadow"
echo 'root:*::' > "$ROOT/etc/gshadow"

# What an image or an intruder left: drop-ins that sort where they would win
# against names chosen carelessly (10- before 50- for sshd; sysctl.conf and
# Debian's 99-protect-links.conf after 60- for sysctl).
mkdir -p "$ROOT/etc/ssh/sshd_config.d" "$ROOT/etc/sysctl.d" "$ROOT/usr/lib/sysctl.d"
printf 'PermitRootLogin yes\nPasswordAuthentication yes\n' > "$ROOT/etc/ssh/sshd_config.d/10-local.conf"
printf 'net.ipv4.ip_forward = 1\nkernel.randomize_va_space = 0\n' > "$ROOT/etc/sysctl.conf"
ln -s ../sysctl.conf "$ROOT/etc/sysctl.d/99-sysctl.conf"
printf 'fs.protected_regular = 0\n' > "$ROOT/usr/lib/sysctl.d/99-protect-links.conf"
# an upgrade from the old names: they must go
printf 'PermitRootLogin no\n' > "$ROOT/etc/ssh/sshd_config.d/50-plumb-hardening.conf"
printf 'net.ipv4.ip_forward = 0\n' > "$ROOT/etc/sysctl.d/60-plumb-net.conf"

# kernel.*, fs.* and vm.* keys go to copies of /proc/sys (never the host's).
mkdir -p "$ROOT/var/lib/dpkg"
printf 'Package: cracklib-runtime\nStatus: install ok installed\nVersion: 2.9.6-5+b1\nArchitecture: amd64\n\n' \
	> "$ROOT/var/lib/dpkg/status"
rc=0; ip netns exec "$NS" "$TESTS_DIR/lib/ksys-sandbox.sh" "$T/ksys" "$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$REPO/baselines" apply \
	>"$T/out" 2>"$T/err" || rc=$?
expect_rc 2 "apply of the example baseline"
expect_missing "$ROOT/etc/ssh/sshd_config.d/50-plumb-hardening.conf"
expect_missing "$ROOT/etc/sysctl.d/60-plumb-net.conf"

# sshd: Debian's sshd_config begins with the Include; the rest is test-only.
S=$T/sshd
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$S/rootkey"
cp "$S/rootkey.pub" "$S/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$S/config" <<C
Include $ROOT/etc/ssh/sshd_config.d/*.conf
Port $PORT
ListenAddress 127.0.0.1
HostKey $S/hostkey
PidFile $S/pid
AuthorizedKeysFile $S/authorized_keys
StrictModes no
UsePAM no
C
/usr/sbin/sshd -T -f "$S/config" > "$T/sshd-T" 2>"$T/err" || fail "sshd -t rejects the applied configuration: $(cat "$T/err")"
grep -qx 'permitrootlogin without-password' "$T/sshd-T" || fail "effective PermitRootLogin: $(grep permitrootlogin "$T/sshd-T")"
grep -qx 'passwordauthentication no' "$T/sshd-T" || fail "effective PasswordAuthentication: $(grep passwordauthentication "$T/sshd-T")"
grep -qx 'maxauthtries 4' "$T/sshd-T" || fail "effective MaxAuthTries: $(grep maxauthtries "$T/sshd-T")"
note "sshd -T: plumb's values win over a planted 10-local.conf"

/usr/sbin/sshd -D -e -f "$S/config" 2>"$S/log" &
SSHD=$!
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
ssh_root() { timeout 20 ssh -F /dev/null -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-o BatchMode=yes -o ConnectTimeout=10 "$@" root@127.0.0.1 true 2>>"$T/ssh.err"; }
ssh_root -i "$S/rootkey" -o IdentitiesOnly=yes || fail "root with a key is locked out after apply: $(tail -3 "$T/ssh.err"; tail -3 "$S/log")"
ssh_root -o PubkeyAuthentication=no -o PreferredAuthentications=password && fail "password login was accepted"
note "a real sshd on the applied configuration accepts root's key and refuses passwords"

# sysctl: the order systemd-sysctl applies the root's files in; the last
# value of each key plumb sets must be plumb's.
systemd-analyze --root="$ROOT" cat-config sysctl.d > "$T/sysctl-order" 2>&1 || fail "systemd-analyze cat-config failed: $(cat "$T/sysctl-order")"
python3 - "$T/sysctl-order" "$REPO/baselines/files/sysctl" <<'P' || fail "a sysctl value of plumb's is not the effective one"
import os, re, sys
last = {}
for line in open(sys.argv[1]):
    m = re.match(r"^\s*-?([a-z0-9_.]+)\s*=\s*(\S.*?)\s*$", line)
    if m:
        last[m.group(1)] = m.group(2)
want = {}
for f in os.listdir(sys.argv[2]):
    for line in open(os.path.join(sys.argv[2], f)):
        m = re.match(r"^\s*([a-z0-9_.]+)\s*=\s*(\S.*?)\s*$", line)
        if m:
            want[m.group(1)] = m.group(2)
bad = {k: (v, last.get(k)) for k, v in want.items() if last.get(k) != v}
for k, (w, got) in sorted(bad.items()):
    print("  %s: effective %r, plumb wants %r" % (k, got, w), file=sys.stderr)
sys.exit(1 if bad or not want else 0)
P
note "sysctl: every key plumb sets ends with plumb's value after sysctl.conf and 99-protect-links.conf"
grep -q '^enforce_for_root' "$ROOT/etc/security/pwquality.conf" && fail "pwquality would stop root from setting passwords without cracklib"
exit 0
