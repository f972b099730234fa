#!/bin/bash
# run.sh - runs every tests/e2e/tNNNN-*.sh (or those named), each in its own
# process; exit 0 pass, 77 skip, else fail. Ends with "N passed, N failed".
cd "$(dirname "$0")" || exit 1
pass=0; failed=0; skipped=0; failures=""
tests=("$@"); [ ${#tests[@]} -eq 0 ] && tests=(t[0-9]*.sh)
for t in "${tests[@]}"; do
	start=$(date +%s)
	out=$(timeout 600 bash "$t" 2>&1); rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "ok    $t (${secs}s)";;
	77) skipped=$((skipped + 1)); echo "skip  $t: ${out##*SKIP: }";;
	*) failed=$((failed + 1)); failures="$failures $t"; echo "FAIL  $t (exit $rc, ${secs}s)"; printf '%s\n' "$out" | sed 's/^/      /';;
	esac
done
[ -n "$failures" ] && echo "failed:$failures"
echo "e2e: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
