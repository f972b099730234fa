#!/bin/sh
# ksys-sandbox.sh DIR CMD [ARG...]: runs CMD with the host-wide sysctl
# directories /proc/sys/kernel, /proc/sys/fs and /proc/sys/vm replaced by
# copies (plain files under DIR, made from the live values on first use) in
# a private mount namespace of its own. A test or a demo can then apply a
# baseline's kernel.*, fs.* and vm.* keys without changing the host's
# kernel; net.* stays the real one of the caller's network namespace (run it
# under `ip netns exec`). The copies outlive CMD, so a later run (or a
# scanner bound to them) sees what CMD wrote. CMD keeps this process's pid.
set -eu
[ $# -ge 2 ] || { echo "usage: ksys-sandbox.sh DIR CMD [ARG...]" >&2; exit 2; }
d=$1
shift
if [ ! -e "$d/.made" ]; then
	mkdir -p "$d"
	for top in kernel fs vm; do
		(cd /proc/sys && find "$top" -xdev -type f -perm -u+r) | while IFS= read -r f; do
			mkdir -p "$d/${f%/*}"
			cat "/proc/sys/$f" > "$d/$f" 2>/dev/null || rm -f "$d/$f"
		done
	done
	: > "$d/.made"
fi
exec unshare -m --propagation private sh -ec 'd=$1; shift
	for t in kernel fs vm; do mount --bind "$d/$t" "/proc/sys/$t"; done
	exec "$@"' ksys-sandbox "$d" "$@"
