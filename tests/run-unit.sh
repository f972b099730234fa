#!/bin/sh
# run-unit.sh - runs each cmocka test binary given, then prints one plain
# closing line "N passed, N failed" over all of them; exits 1 on any failure.
pass=0; fail=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then fail=$((fail + 1)); echo "$t: exited $rc"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
