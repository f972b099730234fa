#!/bin/bash
# The example baseline's PAM changes work on a real PAM stack (issue 18):
# a root whose /usr is the host's (an overlay: the host's /usr is never
# written) and whose /etc/pam.d, /var/lib/pam and debconf state are copies
# of the host's. `plumb apply` installs the pam-configs profiles and its
# notify runs pam-auth-update --package chrooted there. Then, with the
# host's own pam_unix, pam_faillock and su:
# - common-auth has faillock preauth before pam_unix and authfail after it,
#   common-account faillock, common-session pam_umask (su - gives 0077);
# - root sets passwords with chpasswd (pwquality and pwhistory never stop
#   root);
# - a user who fails su three times is locked, even with the right
#   password; root is never locked: after four failures root's password
#   still works;
# - faillock.conf edited to lock root (even_deny_root) is put back.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
for p in /usr/sbin/pam-auth-update /usr/bin/su /usr/sbin/chpasswd /usr/lib/x86_64-linux-gnu/security/pam_faillock.so; do
	[ -e "$p" ] || skip "$p is missing"
done
[ -f /etc/pam.d/common-auth ] && [ -d /var/lib/pam ] && [ -f /etc/debconf.conf ] || skip "no Debian PAM configuration on the host"
[ -L /bin ] || skip "the host's / is not merged-/usr"
NS=plumb-t0021-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip netns exec "$NS" ip link set lo up

cat > "$T/inner.sh" <<'S'
# Runs in a private mount namespace: the overlay and the mounts end with it.
T=$1 R=$1/root REPO=$2 TESTS=$3 PLUMB=$4
mkdir -p "$R/usr" "$T/up" "$T/wk"
mount -t overlay overlay -o "lowerdir=/usr,upperdir=$T/up,workdir=$T/wk" "$R/usr" || { echo "SKIP: no overlayfs"; exit 77; }
for l in bin sbin lib lib64; do ln -sfn "usr/$l" "$R/$l"; done
mkdir -p "$R/var/lib/dpkg" "$R/var/cache" "$R/proc" "$R/dev" "$R/run" "$R/tmp" "$R/root"
cp -a /etc/pam.d /etc/security /etc/nsswitch.conf /etc/ld.so.cache /etc/environment /etc/debconf.conf "$R/etc/"
cp -a /var/lib/pam "$R/var/lib/"
cp -a /var/cache/debconf "$R/var/cache/"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
cat > "$R/etc/passwd" <<P
root:x:0:0:root:/root:/bin/sh
alice:x:4301:4301::/tmp:/bin/sh
bob:x:4302:4302::/tmp:/bin/sh
P
printf 'root:x:0:\nshadow:x:42:\nalice:x:4301:\nbob:x:4302:\n' > "$R/etc/group"
printf 'root:*:19000:0:99999:7:::\nalice:*:19000:0:99999:7:::\nbob:*:19000:0:99999:7:::\n' > "$R/etc/shadow"
printf 'root:*::\nshadow:*::\nalice:!::\nbob:!::\n' > "$R/etc/gshadow"
printf 'Package: cracklib-runtime\nStatus: install ok installed\nVersion: 2.9.6-5+b1\nArchitecture: amd64\n\n' \
	> "$R/var/lib/dpkg/status"
apply() { "$TESTS/lib/ksys-sandbox.sh" "$T/ksys" "$PLUMB" --root "$R" --state-dir "$T/state" --baseline-dir "$REPO/baselines" apply; }
apply > "$T/apply1.out" 2>&1; echo "apply1=$?"
apply > "$T/apply2.out" 2>&1; echo "apply2=$?"
for f in auth account password session; do grep -v '^#' "$R/etc/pam.d/common-$f" | grep . > "$T/common-$f"; done
printf 'root:Root-pw-1234567!\nalice:Alice-pw-1234567!\nbob:Bob-pw-1234567!x\n' | chroot "$R" /usr/sbin/chpasswd > "$T/chpasswd" 2>&1
echo "chpasswd=$?"
for i in 1 2 3; do echo wrong-password | chroot --userspec=4301:4301 "$R" /usr/bin/su bob -c true > /dev/null 2>&1; done
echo 'Bob-pw-1234567!x' | chroot --userspec=4301:4301 "$R" /usr/bin/su bob -c 'echo BOB-IN' > "$T/su-bob" 2>&1
echo "su-bob=$?"
for i in 1 2 3 4; do echo wrong-password | chroot --userspec=4301:4301 "$R" /usr/bin/su root -c true > /dev/null 2>&1; done
echo 'Root-pw-1234567!' | chroot --userspec=4301:4301 "$R" /usr/bin/su root -c 'echo ROOT-IN' > "$T/su-root" 2>&1
echo "su-root=$?"
chroot "$R" /usr/bin/su - alice -c umask > "$T/umask" 2>&1
# an intruder lets faillock lock root: the next apply puts it back
echo 'even_deny_root' >> "$R/etc/security/faillock.conf"
apply > "$T/apply3.out" 2>&1; echo "apply3=$?"
grep -c "^even_deny_root" "$R/etc/security/faillock.conf" > "$T/deny-root" || true
# the host's /usr is untouched: everything plumb wrote there is in the overlay
(cd "$T/up" && find . -type f | sort) > "$T/upper"
S
rc=0
ip netns exec "$NS" unshare -m --propagation private bash "$T/inner.sh" "$T" "$REPO" "$TESTS_DIR" "$PLUMB" > "$T/res" 2>"$T/err" || rc=$?
[ "$rc" = 77 ] && skip "no overlayfs"
grep -q '^SKIP' "$T/res" && skip "$(cat "$T/res")"
r() { sed -n "s/^$1=//p" "$T/res"; }
[ "$(r apply1)" = 2 ] || fail "first apply exited $(r apply1): $(grep -E 'failed' "$T/apply1.out")"
grep -q 'exec:/bin/sh: notified' "$T/apply1.out" || fail "pam-auth-update was not notified: $(grep exec: "$T/apply1.out")"
[ "$(r apply2)" = 0 ] || fail "second apply exited $(r apply2): $(cat "$T/apply2.out")"
note "plumb apply + pam-auth-update --package: $(tail -1 "$T/apply1.out")"

# The stacks pam-auth-update wrote from plumb's profiles.
order() { # FILE PATTERN...: each pattern matches a later line than the one before
	local f=$1 last=0 n; shift
	for p in "$@"; do
		n=$(grep -n -- "$p" "$f" | head -1 | cut -d: -f1)
		[ -n "$n" ] && [ "$n" -gt "$last" ] || { sed 's/^/  /' "$f" >&2; fail "$(basename "$f"): '$p' missing or out of order"; }
		last=$n
	done
}
order "$T/common-auth" 'pam_faillock.so preauth' 'pam_unix.so' 'default=die.*pam_faillock.so authfail' 'pam_deny.so' 'pam_permit.so'
order "$T/common-account" 'pam_unix.so' 'required.*pam_faillock.so'
order "$T/common-password" 'pam_pwhistory.so' 'pam_unix.so'
order "$T/common-session" 'pam_unix.so'
grep -q 'pam_umask.so' "$T/common-session" || fail "common-session has no pam_umask"
if grep -q pam_pwquality "$T/common-password"; then order "$T/common-password" 'pam_pwquality.so' 'pam_pwhistory.so' 'pam_unix.so'; fi
note "common-auth: faillock preauth, pam_unix, authfail; pwhistory before pam_unix; pam_umask"

[ "$(r chpasswd)" = 0 ] || fail "root cannot set passwords: $(cat "$T/chpasswd")"
[ "$(r su-bob)" != 0 ] && ! grep -q BOB-IN "$T/su-bob" || fail "bob got in after 3 failures: $(cat "$T/su-bob")"
grep -qi 'locked' "$T/su-bob" || fail "bob's refusal does not say locked: $(cat "$T/su-bob")"
[ "$(r su-root)" = 0 ] && grep -q ROOT-IN "$T/su-root" || fail "root was locked out after 4 failures: $(cat "$T/su-root")"
note "bob locked after 3 failures ($(grep -io 'account is locked[^.]*' "$T/su-bob")); root never"
[ "$(cat "$T/umask")" = 0077 ] || fail "su - alice: umask $(cat "$T/umask")"
[ "$(r apply3)" = 2 ] || fail "apply after the faillock.conf edit exited $(r apply3)"
[ "$(cat "$T/deny-root")" = 0 ] || fail "even_deny_root survived the apply"
grep -qx './share/pam-configs/plumb-faillock' "$T/upper" || fail "plumb's profile is not in the overlay: $(cat "$T/upper")"
[ ! -e /usr/share/pam-configs/plumb-faillock ] || fail "the host's /usr got plumb's profile"
note "umask 0077 in su - sessions; an even_deny_root edit is reverted; the host's /usr untouched"
