#!/bin/bash
# kill -9 of plumb apply at random points, 200 times: every managed file is
# always entirely the old or entirely the new content, never partial; a final
# apply converges and leaves no temp files.
. "$(dirname "$0")/../lib/lib.sh"

ITER=${PLUMB_KILL_ITER:-200}
mkdir -p "$T/A/files" "$T/B/files"
for i in $(seq 1 8); do
	head -c 300000 /dev/urandom > "$T/A/files/f$i"
	head -c 200000 /dev/urandom > "$T/B/files/f$i"
done
for v in A B; do
	{ echo "version: 1"; echo "files:"
	  for i in $(seq 1 8); do printf '  - path: /srv/data/f%d\n    source: files/f%d\n    mode: "0640"\n' "$i" "$i"; done
	} > "$T/$v/baseline.yaml"
done
declare -A ok
for v in A B; do for i in $(seq 1 8); do ok["$(sha256sum < "$T/$v/files/f$i" | cut -d' ' -f1)"]=1; done; done

kills=0
for it in $(seq 1 "$ITER"); do
	v=$([ $((it % 2)) -eq 0 ] && echo A || echo B)
	"$PLUMB" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$T/$v" -q apply >/dev/null 2>&1 &
	pid=$!
	sleep "0.00$((RANDOM % 10))$((RANDOM % 10))"
	if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
	wait "$pid" 2>/dev/null
	for i in $(seq 1 8); do
		f=$ROOT/srv/data/f$i
		[ -e "$f" ] || continue
		h=$(sha256sum < "$f" | cut -d' ' -f1)
		[ -n "${ok[$h]:-}" ] || fail "iteration $it: /srv/data/f$i is partial ($(stat -c %s "$f") bytes)"
	done
done
note "$ITER iterations, $kills killed mid-run"
[ "$kills" -ge $((ITER / 4)) ] || fail "only $kills of $ITER runs were killed: the test did not test"
# a temp left beside a file whose old content is what the final baseline
# wants (so the file itself needs no repair) is swept too
cp "$T/A/files/f1" "$ROOT/srv/data/f1"
head -c 1000 /dev/urandom > "$ROOT/srv/data/$(printf '.plumb-%016x.tmp' 12345)"
run_plumb --baseline-dir "$T/A" apply
[ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] || fail "final apply exited $rc"
for i in $(seq 1 8); do cmp -s "$ROOT/srv/data/f$i" "$T/A/files/f$i" || fail "f$i did not converge"; done
[ -z "$(find "$ROOT" -name '.plumb-*')" ] || fail "temp files left: $(find "$ROOT" -name '.plumb-*')"
