# lib.sh - shared helpers for end-to-end tests (after git's t/test-lib.sh).
# Each test script sources this, builds a sandbox under a temp dir, runs the
# real plumb binary against it and never touches the host's /etc.
set -u

: "${PLUMB:?PLUMB must name the plumb binary}"
TESTS_DIR=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/plumb-e2e.XXXXXX)
ROOT=$T/root BL=$T/bl STATE=$T/state
mkdir -p "$ROOT/etc" "$BL" "$STATE"
chmod 0755 "$T"
cleanup() { [ -n "${KEEP_T:-}" ] && { echo "kept $T" >&2; return; }; rm -rf "$T"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$T/err" ] && sed 's/^/  stderr: /' "$T/err" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
note() { echo "  # $*"; }

# A root of its own: users and groups that the host does not have.
cat > "$ROOT/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
plumbtest:x:4242:4243::/nonexistent:/usr/sbin/nologin
PW
cat > "$ROOT/etc/group" <<'GR'
root:x:0:
shadow:x:42:
plumbtest:x:4243:
GR

# run_plumb ARGS...: runs plumb on the sandbox; sets rc, stdout in $T/out, stderr in $T/err.
run_plumb() {
	rc=0
	"$PLUMB" --root "$ROOT" --state-dir "$STATE" "$@" >"$T/out" 2>"$T/err" || rc=$?
}
# plumb_bl CMD [ARGS]: the same with the baseline dir.
plumb_bl() { local cmd=$1; shift; run_plumb --baseline-dir "$BL" "$cmd" "$@"; }

expect_rc() { [ "$rc" -eq "$1" ] || fail "${2:-plumb} exited $rc, expected $1"; }
expect_content() { [ "$(cat "$1" 2>/dev/null)" = "$2" ] || fail "$1 has '$(cat "$1" 2>/dev/null)', expected '$2'"; }
expect_mode() { [ "$(stat -c %a "$1")" = "$2" ] || fail "$1 mode $(stat -c %a "$1"), expected $2"; }
expect_owner() { [ "$(stat -c %u:%g "$1")" = "$2" ] || fail "$1 owner $(stat -c %u:%g "$1"), expected $2"; }
expect_out() { grep -qF -- "$1" "$T/out" || { sed 's/^/  stdout: /' "$T/out" >&2; fail "stdout lacks '$1'"; }; }
expect_err() { grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'"; }
expect_missing() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 exists"; }

# tree_digest DIR: one hash over every path, type, mode, owner and content.
tree_digest() {
	(cd "$1" && find . -printf '%p %y %m %U %G %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# spool_count: reports waiting in the agent's spool ($STATE/spool).
spool_count() { ls "$STATE/spool" 2>/dev/null | grep -Ec '^[0-9]{20}-[dh]-.*\.json$' || true; }

# json_get FILE EXPR: reads a value from a JSON file with python3.
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# with_fault SPEC CMD...: runs CMD (a function or program) with the
# fault-injection library preloaded (tests/fault/fault.c: PLUMB_FAULT=SPEC);
# each injected failure is logged to $T/fault.log. Skips the test when the
# library was not built.
: "${PLUMB_FAULT_LIB:=$(dirname "$PLUMB")/tests/libplumbfault.so}"
with_fault() {
	local spec=$1; shift
	[ -f "$PLUMB_FAULT_LIB" ] || skip "no fault-injection library at $PLUMB_FAULT_LIB (make builds it)"
	PLUMB_FAULT="$spec" PLUMB_FAULT_LOG="$T/fault.log" LD_PRELOAD="$PLUMB_FAULT_LIB" \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
# fault_fired PATTERN: the fault library injected a failure matching PATTERN
fault_fired() { grep -q -- "$1" "$T/fault.log" 2>/dev/null || fail "the injected fault ($1) never fired"; }
