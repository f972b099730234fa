#!/bin/bash
# run.sh - runs every tests/e2e/tNNNN-*.sh (or those named), each in its own
# process; exit 0 pass, 77 skip, else fail. Ends with "N passed, N failed".
# E2E_JOBS=N runs N scripts at once (default 1); every script names its
# users, namespaces, ports and temp dirs uniquely, so they may overlap.
cd "$(dirname "$0")" || exit 1
pass=0; failed=0; skipped=0; failures=""
tests=("$@"); [ ${#tests[@]} -eq 0 ] && tests=(t[0-9]*.sh)
jobs=${E2E_JOBS:-1}
case $jobs in ''|*[!0-9]*|0) echo "run.sh: E2E_JOBS must be a positive number" >&2; exit 2;; esac
outdir=$(mktemp -d "${TMPDIR:-/tmp}/plumb-e2e-run.XXXXXX") || exit 1
trap 'rm -rf "$outdir"' EXIT

one() { # one script: its output and "rc secs" into outdir
	local t=$1 start rc
	start=$(date +%s)
	timeout 600 bash "$t" > "$outdir/$t.out" 2>&1; rc=$?
	echo "$rc $(( $(date +%s) - start ))" > "$outdir/$t.rc"
}

report() { # prints a finished script's line and counts it
	local t=$1 rc secs out
	read -r rc secs < "$outdir/$t.rc"
	out=$(cat "$outdir/$t.out")
	case $rc in
	0) pass=$((pass + 1)); echo "ok    $t (${secs}s)";;
	77) skipped=$((skipped + 1)); echo "skip  $t: ${out##*SKIP: }";;
	*) failed=$((failed + 1)); failures="$failures $t"; echo "FAIL  $t (exit $rc, ${secs}s)"; printf '%s\n' "$out" | sed 's/^/      /';;
	esac
}

# Scripts are started in order, at most $jobs at a time; their lines are
# printed in the same order, each as soon as it and all before it are done.
next=0; shown=0; running=0
while [ "$shown" -lt ${#tests[@]} ]; do
	while [ "$running" -lt "$jobs" ] && [ "$next" -lt ${#tests[@]} ]; do
		one "${tests[$next]}" &
		next=$((next + 1)); running=$((running + 1))
	done
	wait -n 2>/dev/null
	running=0
	for ((i = shown; i < next; i++)); do [ -e "$outdir/${tests[$i]}.rc" ] || running=$((running + 1)); done
	while [ "$shown" -lt "$next" ] && [ -e "$outdir/${tests[$shown]}.rc" ]; do
		report "${tests[$shown]}"; shown=$((shown + 1))
	done
done
[ -n "$failures" ] && echo "failed:$failures"
echo "e2e: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
