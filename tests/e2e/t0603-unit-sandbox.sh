#!/bin/bash
# plumbd.service must not forbid what a baseline manages (issue 20, item 3:
# ProtectHome=read-only made every /root/.ssh repair fail with EROFS). systemd
# is not PID 1 here, so this reads the unit's sandbox directives, maps each
# to the paths it makes read-only, private or invisible, and checks them
# against every path of the example baseline plus the usual managed places
# (/root, /home, /boot, /usr/local, /tmp, /dev/shm). It also checks that the
# scratch firewall namespace stays allowed and the score is what README says.
. "$(dirname "$0")/../lib/lib.sh"
SRC=$(cd "$TESTS_DIR/.." && pwd)
UNIT=$SRC/packaging/systemd/plumbd.service

# directive VALUE..., last assignment wins (as systemd does for these).
val() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }

blocked=""
case $(val ProtectSystem) in
""|no|false) ;;
yes|true) blocked="$blocked /usr /boot /efi";;
full) blocked="$blocked /usr /boot /efi /etc";;
*) blocked="$blocked /";;
esac
case $(val ProtectHome) in ""|no|false) ;; *) blocked="$blocked /home /root /run/user";; esac
case $(val PrivateTmp) in ""|no|false) ;; *) blocked="$blocked /tmp /var/tmp";; esac
case $(val PrivateDevices) in ""|no|false) ;; *) blocked="$blocked /dev";; esac
case $(val DevicePolicy) in ""|auto) ;; *) blocked="$blocked /dev";; esac
case $(val ProcSubset) in ""|all) ;; *) blocked="$blocked /proc";; esac
for d in ReadOnlyPaths InaccessiblePaths TemporaryFileSystem BindReadOnlyPaths; do
	for p in $(sed -n "s/^$d=//p" "$UNIT"); do blocked="$blocked ${p#-}"; done
done
grep -qE '^(RootDirectory|RootImage|DynamicUser|User)=' "$UNIT" && fail "plumbd.service runs outside the host's root or not as root"

paths=$(sed -n 's/^ *- path: *//p' "$SRC/baselines/baseline.yaml")
[ "$(echo "$paths" | wc -l)" -ge 20 ] || fail "read only $(echo "$paths" | wc -l) paths from the example baseline"
paths="$paths /root/.ssh/authorized_keys /home/alice/.ssh/authorized_keys /boot/grub/grub.cfg
/usr/local/bin/site-tool /usr/bin/passwd /tmp /var/tmp /dev/shm /run/user/1000 /var/lib/app/app.conf"
n=0
for p in $paths; do
	for b in $blocked; do
		case $p/ in "${b%/}"/*) fail "plumbd.service blocks $p (a directive covers $b)";; esac
	done
	n=$((n + 1))
done
note "$n managed paths, none under a protected prefix (blocked: ${blocked:-none})"

# What must stay allowed: the firewall's scratch namespace, the setuid bit a
# baseline may set, the capabilities repairs need.
rn=$(val RestrictNamespaces)
case " $rn " in *" net "*|" no "|"  ") ;; *) fail "RestrictNamespaces=$rn forbids src/fw_common.c's unshare(CLONE_NEWNET) (the firewall ruleset check)";; esac
grep -q 'unshare(CLONE_NEWNET)' "$SRC/src/fw_common.c" || fail "src/fw_common.c no longer unshares CLONE_NEWNET: update RestrictNamespaces and this test"
[ "$(cat "$SRC"/src/*.c "$SRC"/agent/*.c | grep -c "unshare(")" -eq 1 ] || fail "a new unshare() in src/: does RestrictNamespaces=$rn allow it?"
case $(val RestrictSUIDSGID) in ""|no) ;; *) fail "RestrictSUIDSGID forbids the setuid bits a baseline sets";; esac
caps=$(val CapabilityBoundingSet)
# sysctl: entries write /proc/sys, modules: entries run modprobe -r
case $(val ProtectKernelTunables) in ""|no) ;; *) fail "ProtectKernelTunables makes /proc/sys read-only: sysctl: repairs fail";; esac
case $(val ProtectKernelModules) in ""|no) ;; *) fail "ProtectKernelModules forbids modules: repairs";; esac
sed -n 's/^SystemCallFilter=~//p' "$UNIT" | grep -qw '@module' && fail "SystemCallFilter denies @module: modules: repairs fail"
for c in CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYS_MODULE; do
	case " $caps " in *" $c "*) ;; *) fail "CapabilityBoundingSet lacks $c";; esac
done
sed -n 's/^SystemCallFilter=~//p' "$UNIT" | grep -qwE '@process|@chown|@privileged|@file-system' &&
	fail "SystemCallFilter denies a group plumbd needs (unshare, chown, openat2)"
for k in UMask=0077 NoNewPrivileges=yes SystemCallFilter=@system-service SystemCallArchitectures=native; do
	grep -qx "$k" "$UNIT" || fail "plumbd.service lacks $k"
done

if command -v systemd-analyze >/dev/null; then
	cp "$UNIT" "$T/plumbd.service"
	(cd "$T" && systemd-analyze verify plumbd.service) 2>&1 | grep -v 'is not executable\|man plumbd\|not found' > "$T/verify" || true
	[ -s "$T/verify" ] && fail "systemd-analyze verify: $(cat "$T/verify")"
	if (cd "$T" && systemd-analyze security --offline=yes plumbd.service) > "$T/sec" 2>&1; then
		score=$(sed -n 's/.*Overall exposure level for plumbd.service: \([0-9.]*\).*/\1/p' "$T/sec")
		note "systemd-analyze security --offline=yes: plumbd $score"
		grep -q "plumbd.service.*$score" "$SRC/README.md" || fail "README does not record plumbd's score $score"
		awk -v s="$score" 'BEGIN { exit !(s <= 5.0) }' || fail "plumbd's exposure $score grew past 5.0"
	fi
fi

# Where systemd is PID 1: the same directives on a transient service that
# writes below /root and /tmp (a directory of its own, removed after).
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemd-run >/dev/null && [ "$(id -u)" -eq 0 ]; then
	props=()
	while IFS= read -r l; do props+=(-p "$l"); done < <(sed -n '/^\[Service\]/,/^\[Install\]/p' "$UNIT" |
		grep -E '^[A-Z][A-Za-z]+=' | grep -vE '^(Type|ExecStart|ExecReload|Restart|RestartSec|WatchdogSec|TimeoutStopSec|StateDirectory|StateDirectoryMode)=')
	d=/root/.plumb-t0603-$$
	mkdir -m 0700 "$d"
	trap 'rm -rf "$d"; cleanup' EXIT
	timeout 60 systemd-run --quiet --wait --collect --pipe "${props[@]}" \
		/bin/sh -c "echo ok > '$d/authorized_keys' && chown 0:0 '$d/authorized_keys' && chmod 0600 '$d/authorized_keys'" \
		>"$T/run.out" 2>&1 || fail "a transient service with plumbd's sandbox cannot write below /root: $(cat "$T/run.out")"
	[ "$(cat "$d/authorized_keys")" = ok ] || fail "the write below /root did not reach the host's /root"
	note "systemd-run with the unit's sandbox: wrote below /root"
else
	note "systemd is not PID 1 here: the directives were checked by reading them (systemd-run part skipped)"
fi
exit 0
