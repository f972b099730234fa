#!/bin/bash
# bench.sh - `make bench`: plumb check's wall time and peak RSS on generated
# trees, as ratios to openssl dgst -sha256 (one process, and xargs -P2) and
# cat over the same files, measured in the same run with warm caches.
# Best of $REPS runs each. Trees are kept in $BENCH_DIR between runs.
set -euo pipefail
: "${PLUMB:?}"
REPS=${REPS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/plumb-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BENCH_DIR"

# best_of CMD...: prints "seconds peak_rss_kib" of the fastest of $REPS runs.
best_of() { python3 "$HERE/measure.py" "$REPS" "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; }

tree() { # name nfiles bytes nbig
	local d=$BENCH_DIR/$1
	if [ ! -f "$d/list0" ]; then
		echo "generating $1 ($2 files, $3 bytes)..." >&2
		rm -rf "$d"; mkdir -p "$d"
		python3 "$HERE/gentree.py" "$d" "$2" "$3" "$4"
	fi
	echo "$d"
}

run_case() { # title dir
	local d=$2 files bytes o1 o2 c p
	files=$(tr -cd '\0' < "$d/list0" | wc -c)
	bytes=$(du -sb "$d/root" | cut -f1)
	# warm the page cache for both trees
	cat "$d/list0" | xargs -0 cat > /dev/null; find "$d/bl" -type f -print0 | xargs -0 cat > /dev/null
	o1=$(best_of sh -c "xargs -0 -n 100000 openssl dgst -sha256 < '$d/list0'")
	o2=$(best_of sh -c "xargs -0 -n $(( (files + 1) / 2 )) -P2 openssl dgst -sha256 < '$d/list0'")
	c=$(best_of sh -c "xargs -0 cat < '$d/list0'")
	mkdir -p "$d/state"
	p=$(best_of "$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q check)
	"$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q check >/dev/null \
		|| { echo "plumb check did not find the tree compliant" >&2; exit 1; }
	printf '\n%s: %s files, %s MiB\n' "$1" "$files" $((bytes >> 20))
	printf '  %-34s %8s s  %8s KiB\n' "openssl dgst -sha256 (1 process)" ${o1% *} ${o1#* } \
		"openssl dgst -sha256 (xargs -P2)" ${o2% *} ${o2#* } "cat" ${c% *} ${c#* } \
		"plumb check" ${p% *} ${p#* }
	printf '  plumb / openssl 1 process: %s   plumb / openssl -P2: %s   plumb / cat: %s   peak RSS %s MiB\n' \
		"$(ratio ${p% *} ${o1% *})" "$(ratio ${p% *} ${o2% *})" "$(ratio ${p% *} ${c% *})" \
		"$(awk -v k=${p#* } 'BEGIN{printf "%.1f", k/1024}')"
}

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "plumb check compares each managed file with its source (size, then bytes); both trees are read."
run_case "small tree (config-sized files)" "$(tree small 2000 8000000 0)"
run_case "large tree (with large binaries)" "$(tree large 20000 1073741824 10)"
