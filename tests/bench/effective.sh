#!/bin/bash
# effective.sh - what the effective-state lists add to one `plumb check`:
# 50 sysctl keys (a fake /proc/sys tree: the host's is never used), 20
# services (systemctl --root on a sandbox root with 20 unit files), 20
# packages (a dpkg status file of 2,000 packages), each against the same
# run without them (one small file). Best of $REPS. Sourced by bench.sh
# (effective_case) or run alone with PLUMB set.
effective_case() {
	local d=$BENCH_DIR/effective base p
	rm -rf "$d"; mkdir -p "$d/root/etc" "$d/state" "$d/proc/sys/net/ipv4/conf/all" "$d/root/usr/lib/systemd/system" \
		"$d/root/var/lib/dpkg"
	for i in $(seq 1 50); do echo 0 > "$d/proc/sys/net/ipv4/conf/all/k$i"; done
	printf '[Unit]\nDescription=t\n' > "$d/root/usr/lib/systemd/system/multi-user.target"
	for i in $(seq 1 20); do
		printf '[Unit]\nDescription=u\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n' \
			> "$d/root/usr/lib/systemd/system/u$i.service"
	done
	python3 - "$d/root/var/lib/dpkg/status" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write("Package: pkg%d\nStatus: install ok installed\nPriority: optional\nSection: misc\n"
                "Installed-Size: 100\nMaintainer: m <m@example.com>\nArchitecture: amd64\nVersion: 1.%d\n"
                "Description: package %d\n a longer description line\n a second one\n\n" % (i, i, i))
PY
	mk() { # name + lists
		mkdir -p "$d/bl-$1"
		{ echo "version: 1"; echo "files:"; echo "  - path: /etc/motd"; echo '    content: "x"'
		  case " $* " in *" sysctl "*) echo "sysctl:"; for i in $(seq 1 50); do
			printf '  - key: net.ipv4.conf.all.k%d\n    value: "0"\n' "$i"; done;; esac
		  case " $* " in *" services "*) echo "services:"; for i in $(seq 1 20); do
			printf '  - unit: u%d.service\n    state: disabled\n' "$i"; done;; esac
		  case " $* " in *" packages "*) echo "packages:"; for i in $(seq 1 20); do
			printf '  - name: pkg%d\n    state: present\n' "$((i * 97))"; done;; esac
		} > "$d/bl-$1/baseline.yaml"
	}
	echo x > "$d/root/etc/motd"; printf x > "$d/root/etc/motd"
	mk none; mk sysctl sysctl; mk services services; mk packages packages; mk all sysctl services packages
	run() { PLUMB_SYSCTL_DIR=$d/proc/sys python3 "$HERE/measure.py" "$REPS" \
		"$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl-$1" -q check; }
	PLUMB_SYSCTL_DIR=$d/proc/sys "$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl-all" -q check \
		>/dev/null || { echo "effective: the sandbox is not compliant" >&2; return 1; }
	base=$(run none)
	printf '\neffective state: what each list adds to one plumb check (best of %s; target: all three under 20 ms)\n' "$REPS"
	printf '  %-36s %8s s\n' "1 file only" "${base% *}"
	for c in sysctl services packages all; do
		p=$(run "$c")
		printf '  %-36s %8s s   adds %6.1f ms\n' "+ $c" "${p% *}" "$(awk -v a="${p% *}" -v b="${base% *}" 'BEGIN{print (a-b)*1000}')"
	done
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	: "${PLUMB:?}"
	REPS=${REPS:-5}
	BENCH_DIR=${BENCH_DIR:-/tmp/plumb-bench}
	HERE=$(cd "$(dirname "$0")" && pwd)
	effective_case
fi
