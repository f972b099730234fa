#!/bin/bash
# The git fetcher runs as its own user, with no_new_privs, a seccomp filter
# and (where the kernel has it) Landlock; it holds no fd of the parent; the
# cache is that user's. What it cannot do is shown by a probe that confines
# itself with the fetcher's own call (plumb_sandbox_enter, fetch profile).
# Without the user it still fetches, as root, and says so.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/tls.sh"
PROBE=${PLUMB_PROBE:-$(dirname "$PLUMB")/tests/plumb-sandbox-probe}
[ "$(id -u)" -eq 0 ] || skip "needs root (to create a user and drop to it)"
command -v useradd >/dev/null || skip "useradd missing"
[ -x "$PROBE" ] || skip "no sandbox probe at $PROBE (make builds it)"
command -v openssl >/dev/null || skip "openssl missing"

U=plumbt$$
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U" || fail "useradd $U"
trap 'kill ${SRV:-} ${VP:-} 2>/dev/null; wait 2>/dev/null; userdel "$U" 2>/dev/null; cleanup' EXIT
UID_U=$(id -u "$U")

mk_key good ed25519; allow ci@example.com good
mk_repo
commit_signed good 1 "confined"
write_cfg "user: $U"
run_cfg apply; expect_rc 2 "apply with a confined fetcher"
expect_content "$ROOT/etc/motd" confined
[ "$(stat -c %u "$STATE/cache.git")" = "$UID_U" ] || fail "cache.git belongs to $(stat -c %U "$STATE/cache.git"), not $U"
bad=$(find "$STATE/cache.git" ! -uid "$UID_U" ! -path '*/refs/plumb/anchor' | head -3)
[ -z "$bad" ] || fail "files in the cache not owned by $U: $bad"
expect_mode "$STATE" 711

# the fetcher caught in flight (a remote that never answers): its /proc status and fds
mk_tls "$T/tls"
python3 "$TESTS_DIR/lib/git_https_server.py" --stall --port-file "$T/port" --lifetime 30 2>"$T/server.log" &
SRV=$!
for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
URL=https://localhost:$(cat "$T/port")/b.git
write_cfg "  ca_file: $T/tls/ca.pem
  timeout: 5s
user: $U"
"$PLUMB" -c "$CFG" verify >"$T/vout" 2>"$T/verr" &
VP=$!
F=
for _ in $(seq 1 100); do F=$(pgrep -P "$VP" | head -1); [ -n "$F" ] && grep -q "^Seccomp:.*2" "/proc/$F/status" 2>/dev/null && break; sleep 0.05; done
[ -n "$F" ] || fail "no fetch child"
st=/proc/$F/status
uid=$(awk '/^Uid:/ {print $2 "," $3 "," $4}' "$st")
[ "$uid" = "$UID_U,$UID_U,$UID_U" ] || fail "fetcher uids $uid, expected $UID_U"
grep -q "^Gid:.*$(id -g "$U")" "$st" || fail "fetcher gid"
grep -Eq '^Groups:\s*$' "$st" || fail "fetcher kept supplementary groups: $(grep ^Groups "$st")"
grep -Eq '^NoNewPrivs:\s+1$' "$st" || fail "fetcher NoNewPrivs: $(grep NoNewPrivs "$st")"
grep -Eq '^Seccomp:\s+2$' "$st" || fail "fetcher Seccomp: $(grep ^Seccomp: "$st")"
note "fetcher $F: $(grep -E '^(Uid|NoNewPrivs|Seccomp):' "$st" | tr -s '\t ' ' ' | tr '\n' ';')"
fds=$(ls -l "/proc/$F/fd" | awk 'NR > 1 {print $NF}')
echo "$fds" | grep -Eq "$STATE/(lock|cache.lock)|$ROOT" && fail "fetcher holds a parent fd: $fds"
n=$(echo "$fds" | wc -l)
[ "$n" -le 6 ] || fail "fetcher holds $n fds: $fds"
kill "$SRV"; wait "$VP"; VP=

# what the fetcher's confinement allows (the probe: the same call, the same profile)
P() { "$PROBE" "$U" "$STATE/cache.git" "$@" 2>&1; }
echo secret > "$T/outside"; chmod 0644 "$T/outside"
out=$(P read:/etc/shadow write:"$T/written" write:"$STATE/evil" write:"$STATE/cache.git/probe-ok" \
	read:"$STATE/trust.json" unshare mount packet)
note "$(echo "$out" | tr '\n' ';')"
echo "$out" | grep -q "^read /etc/shadow: EACCES$" || fail "the fetcher could open /etc/shadow"
echo "$out" | grep -q "^write $T/written: EACCES$" || fail "the fetcher could write outside its cache"
echo "$out" | grep -q "^write $STATE/evil: EACCES$" || fail "the fetcher could write in state_dir"
echo "$out" | grep -q "^read $STATE/trust.json: EACCES$" || fail "the fetcher could read trust.json"
echo "$out" | grep -q "^write $STATE/cache.git/probe-ok: ok$" || fail "the fetcher cannot write its own cache"
echo "$out" | grep -q "^unshare user: EPERM$" || fail "unshare was not refused by seccomp"
echo "$out" | grep -q "^mount tmpfs: EPERM$" || fail "mount was not refused"
echo "$out" | grep -q "^socket AF_PACKET: EPERM$" || fail "a packet socket was not refused"
rm -f "$STATE/cache.git/probe-ok"
rc=0; (P exec:/bin/true >/dev/null) 2>/dev/null || rc=$?
[ "$rc" -eq 159 ] || fail "execve did not kill the probe with SIGSYS (exit $rc)"
# landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION): the ABI, or -1
abi=$(python3 -c 'import ctypes; print(ctypes.CDLL(None, use_errno=True).syscall(444, None, 0, 1))')
out=$(P read:"$ROOT/etc/motd" read:"$T/outside" read:/etc/passwd)
if [ "$abi" -gt 0 ]; then
	[ "$out" = "read $ROOT/etc/motd: EACCES
read $T/outside: EACCES
read /etc/passwd: EACCES" ] || fail "landlock ABI $abi, yet the fetcher reads outside its cache: $out"
	note "landlock ABI $abi: the managed root and world-readable files outside the cache are out of reach"
	# a fetch without TLS (this one: a local path) has no CA bundle to read
	CA=/etc/ssl/certs/ca-certificates.crt
	if [ -f "$CA" ]; then
		out=$("$PROBE" "plain:$U" "$STATE/cache.git" read:"$CA" read:/etc/ssl/openssl.cnf 2>&1)
		[ "$out" = "read $CA: EACCES
read /etc/ssl/openssl.cnf: ok" ] || fail "a fetch without TLS reads the CA bundle (or not OpenSSL's config): $out"
		[ "$(P read:"$CA")" = "read $CA: ok" ] || fail "a TLS fetch cannot read the CA bundle"
	fi
else
	note "no landlock in this kernel: world-readable files under the managed root stay readable by the fetcher"
fi

# without CAP_SYS_ADMIN (Docker's default): the same confinement, a fetch that works
URL=$REPO write_cfg "user: $U"
if command -v capsh >/dev/null; then
	rc=0; capsh --drop=cap_sys_admin -- -c "'$PLUMB' -c '$CFG' verify" >"$T/out" 2>"$T/err" || rc=$?
	expect_rc 0 "verify without CAP_SYS_ADMIN"
fi

# without the user: it still fetches, as root, and warns of weaker confinement
userdel "$U"
run_cfg verify
expect_rc 0 "verify when the user does not exist"
expect_err "user '$U' does not exist: the git fetch runs as root"
expect_err "weaker confinement"
