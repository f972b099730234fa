#!/bin/bash
# Crash sweep (issue 13, item 3): plumb apply is killed (SIGKILL, by strace's
# fault injection) at the n-th call of each writing system call, for every n
# until a run completes. After every kill: each managed file holds its old or
# its new content (never torn, empty or missing), and once the next run has
# finished, every file the killed run had already reverted is named by a
# spooled report: nothing reverted goes unreported.
. "$(dirname "$0")/../lib/lib.sh"
command -v strace >/dev/null || skip "strace is missing"
NF=6
{ echo 'version: 1'; echo 'files:'
  for i in $(seq 1 $NF); do printf '  - path: /etc/f%d\n    content: "good %d\\n"\n    mode: "0644"\n' "$i" "$i"; done; } > "$BL/baseline.yaml"
# A control plane that is never there: reports stay in the spool to be read.
printf 'report:\n  url: http://127.0.0.1:9/v1/reports\n' > "$T/agent.yaml"

drift() { for i in $(seq 1 $NF); do printf 'evil %d\n' "$i" > "$ROOT/etc/f$i"; done; }
apply() { "$PLUMB" -c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" -q apply "$@"; }

check_files() { # every file old or new, never anything else
	for i in $(seq 1 $NF); do
		c=$(cat "$ROOT/etc/f$i" 2>/dev/null) || fail "$1: /etc/f$i is missing"
		[ "$c" = "good $i" ] || [ "$c" = "evil $i" ] || fail "$1: /etc/f$i is torn: '$c'"
	done
}

# reported RESOURCE: some spooled report has an event on it (reverted, or
# failed saying the run was interrupted).
reported() {
	python3 - "$STATE/spool" "$1" <<'P'
import json, os, sys
d, res = sys.argv[1], sys.argv[2]
for n in os.listdir(d):
    if not n.endswith(".json") or n == "stats.json":
        continue
    try:
        r = json.load(open(os.path.join(d, n)))
    except (OSError, ValueError):
        continue
    for e in r.get("events", []):
        if e["resource"] == res and (e["action"] == "reverted" or
                                     (e["action"] == "failed" and "interrupted" in e.get("error", ""))):
            sys.exit(0)
sys.exit(1)
P
}

kills=0 completed=0 reverted_before_report=0
for sc in write fsync fdatasync /^rename /^unlink fchown fchmod; do
	n=1
	while [ "$n" -le 400 ]; do
		drift
		rm -f "$STATE"/spool/*.json
		rc=0
		# (through sh, so bash reports no "Killed" for strace passing the signal on)
		# LeakSanitizer cannot run under ptrace: leaks are the other runs' job
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		sh -c 'strace -o /dev/null "$@"; exit $?' sh -e "inject=$sc:signal=SIGKILL:when=$n" "$PLUMB" \
			-c "$T/agent.yaml" --root "$ROOT" --state-dir "$STATE" --baseline-dir "$BL" -q apply >/dev/null 2>&1 || rc=$?
		check_files "killed at $sc #$n"
		if [ "$rc" -ne 137 ]; then
			[ "$rc" -eq 2 ] || fail "a run not killed at $sc #$n exited $rc"
			completed=$((completed + 1))
			break
		fi
		kills=$((kills + 1))
		done_by_killed=""
		for i in $(seq 1 $NF); do [ "$(cat "$ROOT/etc/f$i")" = "good $i" ] && done_by_killed="$done_by_killed $i"; done
		rc=0; apply >/dev/null 2>"$T/err" || rc=$?
		[ "$rc" -eq 2 ] || [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || [ "$rc" -eq 6 ] || fail "the run after a kill at $sc #$n exited $rc"
		check_files "after the kill at $sc #$n"
		for i in $done_by_killed; do
			reported "file:/etc/f$i" || fail "killed at $sc #$n: the revert of /etc/f$i was never reported"
			reverted_before_report=$((reverted_before_report + 1))
		done
		[ ! -e "$STATE/journal" ] || fail "the journal outlived a completed, spooled run (after $sc #$n)"
		n=$((n + 1))
	done
	[ "$n" -le 400 ] || fail "a run still made more than 400 $sc calls"
done
[ "$kills" -gt 50 ] || fail "only $kills kills: the sweep did not reach the runs' writes"
note "$kills kill points over 7 syscalls, $completed completed runs; $reverted_before_report reverts made before a kill, all reported"
exit 0
