#!/bin/bash
# make scap: scores the shipped baseline (baselines/) against an external
# standard. Builds (once, cached under build/scap/) a real Debian 12 root and
# a separate trixie scanner root with OpenSCAP 1.4 and SSG 0.1.76, scans the
# ANSSI BP-028 profiles and the standard profile with oscap-chroot before
# and after `plumb apply --root TARGET --baseline-dir baselines`, and checks
# on the applied root that nobody is locked out: sshd -t, visudo -c,
# /etc/profile under dash and bash, chpasswd as root, and a real sshd of the
# target (in a network namespace made here) that accepts root's key and
# refuses a password.
#
# It downloads (mmdebstrap from deb.debian.org) and is not part of make
# check. It runs as root and never touches the host's /etc, firewall or
# live kernel values: the firewall and net.* parameters live in a network
# namespace made here; kernel-wide sysctl keys (kernel.*, fs.*, vm.*) are
# written to copies bound over the real /proc/sys directories in a private
# mount namespace (tests/lib/ksys-sandbox.sh, baselines/README.md); every mount is made
# in a private mount namespace, so none outlives the script.
#
# Environment: SCAP_PROFILES (default: all five), SCAP_KEEP=1 keeps the run
# directory, SCAP_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$REPO/build/scap
PLUMB=${PLUMB:-$REPO/build/plumb}
MIRROR=${SCAP_MIRROR:-http://deb.debian.org/debian}
PROFILES=${SCAP_PROFILES:-anssi_bp28_minimal anssi_bp28_intermediary anssi_bp28_enhanced anssi_bp28_high standard}
DS=/usr/share/xml/scap/ssg/content/ssg-debian12-ds.xml
TARGET_PKGS=openssh-server,sudo,cron,rsyslog,nftables,systemd-sysv,libpam-pwquality,linux-image-amd64,auditd,aide,apparmor,libpam-apparmor,rsyslog-gnutls
# What the baseline itself requires (packages: present): plumb installs
# packages only on the running system, never into a --root, so the image
# has it, as an image build would.
TARGET_PKGS=$TARGET_PKGS,cracklib-runtime
NS=plumb-i18-scap-$$
WORK=$OUT/run.$$
SSHD_PID=

[ "$(id -u)" = 0 ] || { echo "make scap: must run as root (mmdebstrap, chroot, netns)" >&2; exit 1; }
for c in mmdebstrap ip unshare chroot ssh ssh-keygen python3 timeout; do
	command -v "$c" >/dev/null || { echo "make scap: $c is missing" >&2; exit 1; }
done
[ -x "$PLUMB" ] || { echo "make scap: $PLUMB is not built" >&2; exit 1; }
mkdir -p "$OUT"

cleanup() {
	set +e
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	# Mounts are made in private namespaces; this is the safety net.
	awk -v w="$WORK" -v s="$OUT/scanner-root" 'index($5, w) == 1 || index($5, s "/") == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
	if [ -z "${SCAP_KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_root NAME SUITE VARIANT INCLUDES [HOOK]: a cached root, built once.
build_root() {
	local name=$1 suite=$2 variant=$3 incl=$4 hook=${5:-}
	[ -d "$OUT/$name" ] && return 0
	echo "== building $name ($suite, $variant) with mmdebstrap" >&2
	rm -rf "$OUT/$name.part"
	local args=(--variant="$variant" --include="$incl")
	[ -n "$hook" ] && args+=(--customize-hook="$hook")
	timeout 3600 mmdebstrap "${args[@]}" "$suite" "$OUT/$name.part" "$MIRROR" >"$OUT/$name.log" 2>&1 ||
		{ tail -20 "$OUT/$name.log" >&2; rm -rf "$OUT/$name.part"; echo "make scap: building $name failed" >&2; exit 1; }
	mv "$OUT/$name.part" "$OUT/$name"
}
# chrony conflicts with systemd-timesyncd, which --variant=standard pulls in:
# installed afterwards, it replaces it.
build_root target-root bookworm standard "$TARGET_PKGS" \
	'chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y chrony'
build_root scanner-root trixie apt openscap-scanner,openscap-utils,ssg-debian

mkdir -p "$WORK/results" "$WORK/state" "$OUT/scanner-root/mnt/target" "$OUT/scanner-root/results"
TARGET=$WORK/target
echo "== copying the target root" >&2
cp -a "$OUT/target-root" "$TARGET"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up

# scan PHASE: every profile, results in $WORK/results/PROFILE-PHASE.xml.
# The scanner runs in the namespace (net.* values are the namespace's) with
# the target bound at /mnt/target and a proc of its own under it.
scan() {
	local phase=$1 p rc
	for p in $PROFILES; do
		echo "== scan $p ($phase)" >&2
		rc=0
		ip netns exec "$NS" unshare -m --propagation private timeout 1800 sh -ec '
			t=$1 s=$2 r=$3 k=$4; shift 4
			mount --bind "$t" "$s/mnt/target"
			mount -t proc proc "$s/mnt/target/proc"
			[ -z "$k" ] || for d in kernel fs vm; do mount --bind "$k/$d" "$s/mnt/target/proc/sys/$d"; done
			mount -t proc proc "$s/proc"
			mount --bind "$r" "$s/results"
			exec chroot "$s" "$@"' sh "$TARGET" "$OUT/scanner-root" "$WORK/results" "${KSYS:-}" \
			oscap-chroot /mnt/target xccdf eval --profile "xccdf_org.ssgproject.content_profile_$p" \
			--results "/results/$p-$phase.xml" "$DS" >"$WORK/results/$p-$phase.log" 2>&1 || rc=$?
		# oscap: 0 all passed, 2 some rule failed, anything else an error
		[ "$rc" = 0 ] || [ "$rc" = 2 ] || { tail "$WORK/results/$p-$phase.log" >&2; echo "make scap: oscap failed ($rc)" >&2; exit 1; }
	done
}

# Kernel-wide parameters are not the namespace's: plumb writes them to
# copies (plain files) bound over /proc/sys/{kernel,fs,vm}
# (tests/lib/ksys-sandbox.sh), so the host's kernel is never changed; the
# after-scan reads the same copies.
KSYS_DIR=$WORK/ksys
scan before
echo "== plumb apply --root $TARGET --baseline-dir baselines" >&2
plumb_apply() {
	ip netns exec "$NS" "$REPO/tests/lib/ksys-sandbox.sh" "$KSYS_DIR" \
		"$PLUMB" --root "$TARGET" --state-dir "$WORK/state" --baseline-dir "$REPO/baselines" apply
}
rc=0
plumb_apply >"$WORK/apply.out" 2>"$WORK/apply.err" || rc=$?
grep -E ': (failed|refused)' "$WORK/apply.out" >&2 || true
echo "   plumb apply exited $rc: $(tail -1 "$WORK/apply.out")" >&2
[ "$rc" = 2 ] || { cat "$WORK/apply.err" >&2; echo "make scap: plumb apply failed (exit $rc)" >&2; exit 1; }
rc=0
plumb_apply >"$WORK/apply2.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/apply2.out" >&2; echo "make scap: the second apply was not clean (exit $rc)" >&2; exit 1; }
KSYS=$KSYS_DIR
scan after

# --- nobody is locked out --------------------------------------------------
CHECKS=0
ok() { echo "ok: $*"; CHECKS=$((CHECKS + 1)); }
bad() { echo "FAIL: $*" >&2; exit 1; }
# in_target CMD...: CMD chrooted in the applied target, with a proc and /run.
in_target() {
	unshare -m --propagation private sh -ec 't=$1; shift; mount -t proc proc "$t/proc"; mount -t tmpfs tmpfs "$t/run"
		mkdir -p "$t/run/sshd"; exec chroot "$t" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"' sh "$TARGET" "$@"
}
in_target /usr/sbin/sshd -t >"$WORK/sshd-t" 2>&1 || bad "sshd -t: $(cat "$WORK/sshd-t")"
ok "sshd -t accepts the applied configuration"
in_target /usr/sbin/visudo -c >"$WORK/visudo" 2>&1 || bad "visudo -c: $(cat "$WORK/visudo")"
ok "visudo -c: $(tr '\n' ' ' < "$WORK/visudo")"
for sh in dash bash; do
	in_target "/bin/$sh" -c '. /etc/profile; echo "TMOUT=$TMOUT umask=$(umask)"' >"$WORK/profile-$sh" 2>&1 ||
		bad "/etc/profile under $sh: $(cat "$WORK/profile-$sh")"
	grep -q '^TMOUT=[1-9]' "$WORK/profile-$sh" && [ "$(wc -l < "$WORK/profile-$sh")" = 1 ] ||
		bad "/etc/profile under $sh: $(cat "$WORK/profile-$sh")"
	ok "/etc/profile under $sh: $(cat "$WORK/profile-$sh")"
done
PW="Plumb-scap-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')-x9Q"
printf 'root:%s\n' "$PW" | in_target /usr/sbin/chpasswd >"$WORK/chpasswd" 2>&1 || bad "chpasswd as root: $(cat "$WORK/chpasswd")"
ok "root sets a password with chpasswd"

# A real sshd of the target, in the namespace, on its own configuration.
S=$WORK/ssh
mkdir -p "$S" "$TARGET/root/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$S/rootkey"
install -m 0600 "$S/rootkey.pub" "$TARGET/root/.ssh/authorized_keys"
chmod 0700 "$TARGET/root/.ssh"
ip netns exec "$NS" unshare -m --propagation private sh -ec 't=$1; mount -t proc proc "$t/proc"; mount -t tmpfs tmpfs "$t/run"
	mkdir -p "$t/run/sshd"; exec chroot "$t" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/sshd -D -e -p 2222 -o ListenAddress=127.0.0.1' \
	sh "$TARGET" >"$WORK/sshd.log" 2>&1 &
SSHD_PID=$!
for _ in $(seq 50); do ip netns exec "$NS" sh -c 'exec 3<>/dev/tcp/127.0.0.1/2222' 2>/dev/null && break; sleep 0.2; done 2>/dev/null || true
sshopt=(-p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10)
ip netns exec "$NS" timeout 30 ssh "${sshopt[@]}" -i "$S/rootkey" -o IdentitiesOnly=yes root@127.0.0.1 id -u \
	>"$WORK/ssh-key" 2>&1 || bad "root with a key is refused after apply: $(cat "$WORK/ssh-key"; tail -5 "$WORK/sshd.log")"
[ "$(tail -1 "$WORK/ssh-key")" = 0 ] || bad "ssh as root: $(cat "$WORK/ssh-key")"
ok "the target's sshd accepts root's key after apply"
printf '#!/bin/sh\necho "%s"\n' "$PW" > "$S/askpass"; chmod 0700 "$S/askpass"
rc=0
ip netns exec "$NS" env SSH_ASKPASS="$S/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none timeout 30 \
	ssh -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no \
	-o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1 root@127.0.0.1 true \
	>"$WORK/ssh-pw" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q 'Permission denied' "$WORK/ssh-pw" || bad "a password login was not refused (exit $rc): $(cat "$WORK/ssh-pw")"
ok "the target's sshd refuses root's (valid) password: $(grep -o 'Permission denied.*' "$WORK/ssh-pw")"
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null || true; SSHD_PID=

# --- the figures -------------------------------------------------------------
python3 "$REPO/tests/scap/score.py" "$WORK/results" "$REPO/tests/scap/reasons.txt" $PROFILES
echo "($CHECKS lock-out checks passed; results in $WORK/results$([ -n "${SCAP_KEEP:-}" ] || echo ', removed on exit'))"
