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

# git_repo DIR: a signed repository of DIR/bl (once), an allowed_signers file
# and an agent config for it; prints the config path.
git_repo() {
	local d=$1
	if [ ! -d "$d/git" ]; then
		echo "committing $(basename "$d") to a signed git repository..." >&2
		ssh-keygen -q -t ed25519 -N '' -f "$d/key" -C bench
		echo "bench@example.com $(cut -d' ' -f1,2 "$d/key.pub")" > "$d/allowed_signers"
		git init -q -b main "$d/git"
		cp -a "$d/bl/." "$d/git/"
		git -C "$d/git" add -A
		GIT_CONFIG_GLOBAL=/dev/null git -C "$d/git" -c user.name=bench -c user.email=bench@example.com \
			-c gpg.format=ssh -c user.signingkey="$d/key" commit -q -S -m "bench baseline"
	fi
	printf 'source:\n  url: %s\n  allowed_signers: %s\n  max_size: 4G\n  timeout: 10m\nstate_dir: %s\nroot: %s\n' \
		"$d/git" "$d/allowed_signers" "$d/gstate" "$d/root" > "$d/agent.yaml"
	echo "$d/agent.yaml"
}

git_case() { # title dir
	local d=$2 cfg o2 p v g
	cfg=$(git_repo "$d")
	"$PLUMB" -c "$cfg" -q check >/dev/null || { echo "plumb check (git) did not find the tree compliant" >&2; exit 1; }
	o2=$(best_of sh -c "xargs -0 -n $(( ($(tr -cd '\0' < "$d/list0" | wc -c) + 1) / 2 )) -P2 openssl dgst -sha256 < '$d/list0'")
	p=$(best_of "$PLUMB" -c "$cfg" -q check)
	printf '\n%s, git source (files compared by git blob id; blobs never read):\n' "$1"
	printf '  %-34s %8s s\n  %-34s %8s s  %8s KiB\n' "openssl dgst -sha256 (xargs -P2)" ${o2%% *} \
		"plumb check (fetch+verify+load+check)" ${p%% *} ${p#* }
	printf '  plumb / openssl -P2: %s   peak RSS %s MiB\n' "$(ratio ${p%% *} ${o2%% *})" \
		"$(awk -v k=${p#* } 'BEGIN{printf "%.1f", k/1024}')"
}

verify_case() { # dir (a 1,000-file baseline repository)
	local d=$1 cfg v g f c
	cfg=$(git_repo "$d")
	"$PLUMB" -c "$cfg" -q verify >/dev/null || { echo "plumb verify failed" >&2; exit 1; }
	v=$(best_of "$PLUMB" -c "$cfg" -q verify)
	g=$(best_of git -C "$d/git" -c gpg.ssh.allowedSignersFile="$d/allowed_signers" verify-commit HEAD)
	f=$(best_of sh -c "rm -rf '$d/fresh' && '$PLUMB' -c '$cfg' --state-dir '$d/fresh' -q check")
	c=$(best_of sh -c "rm -rf '$d/clone.git' && git clone -q --bare --no-local '$d/git' '$d/clone.git'")
	printf '\nsigned tip, %s baseline files:\n' "$(grep -c '^  - path:' "$d/bl/baseline.yaml")"
	printf '  %-44s %8s s\n' "plumb verify, warm cache (fetch+verify)" ${v%% *} \
		"git verify-commit (reference)" ${g%% *} \
		"plumb check, empty cache (fetch+verify+load)" ${f%% *} \
		"git clone --bare --no-local (reference)" ${c%% *}
	printf '  verify: %.1f ms (target < 20 ms), %s git verify-commit; cold fetch+verify+load+check: %s git clone --bare --no-local\n' \
		"$(awk -v s=${v%% *} 'BEGIN{print s*1000}')" "$(ratio ${v%% *} ${g%% *})" "$(ratio ${f%% *} ${c%% *})"
}

# daemon_case DIR: plumbd on 10,000 managed files: RSS, full-scan time, idle
# CPU, and drift-to-revert latency over 1,000 writes to distinct files.
daemon_case() {
	local d=$1 pid idle=${BENCH_IDLE_SECONDS:-60} c0 c1 hz
	rm -rf "$d/dstate"; mkdir -p "$d/dstate"
	xargs -0 cat < "$d/list0" > /dev/null   # warm cache, as for the other cases
	"$PLUMBD" --root "$d/root" --state-dir "$d/dstate" --baseline-dir "$d/bl" -q >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 500); do [ -s "$d/dstate/plumb.prom" ] && break; sleep 0.02; done
	hz=$(getconf CLK_TCK)
	c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	sleep "$idle"
	c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
	printf '\nplumbd, %s managed files (target: p99 < 100 ms, RSS < 16 MiB):\n' "$(tr -cd '\0' < "$d/list0" | wc -c)"
	printf '  idle CPU over %s s: %s ticks of %s/s = %s%%\n' "$idle" $((c1 - c0)) "$hz" \
		"$(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$idle" 'BEGIN{printf "%.3f", t * 100 / hz / s}')"
	printf '  full scan: %s s (plumb_last_full_scan_seconds)\n' "$(awk '/^plumb_last_full_scan_seconds/{print $2}' "$d/dstate/plumb.prom")"
	python3 "$HERE/latency.py" "$d/list0" 1000
	printf '  RSS: %s\n' "$(awk '/VmRSS|VmHWM/{printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$pid/status")"
	kill "$pid"; wait "$pid" 2>/dev/null || true
}

# attacker_case: a hostile local user against plumbd (issue 12): time to
# revert other drift while a 15 TiB sparse file sits in a managed path, and
# plumbd's CPU during mkdir/rmdir storms in a watched directory, of one
# nothing is managed under and of one above a managed path.
attacker_case() {
	local d=$BENCH_DIR/attacker pid
	rm -rf "$d"; mkdir -p "$d/root/etc" "$d/root/srv/app/cache" "$d/bl" "$d/state"
	printf 'root:x:0:0::/root:/bin/sh\n' > "$d/root/etc/passwd"; printf 'root:x:0:\n' > "$d/root/etc/group"
	{ echo 'version: 1'; echo 'files:'
	  for i in $(seq 0 39); do printf '  - path: /etc/m%d\n    content: "hello %d\\n"\n' "$i" "$i"; done; } > "$d/bl/baseline.yaml"
	cat >> "$d/bl/baseline.yaml" <<'Y'
  - path: /srv/app/big
    content: "small\n"
  - path: /srv/app/sub/x
    state: absent
Y
	"$PLUMBD" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 500); do [ -s "$d/state/plumb.prom" ] && break; sleep 0.02; done
	printf '\nplumbd against a hostile local user:\n'
	python3 "$HERE/attacker.py" sparse "$d/root" 20
	python3 "$HERE/attacker.py" storm "$pid" "$d/root/srv/app/cache/x" 10000
	python3 "$HERE/attacker.py" storm "$pid" "$d/root/srv/app/sub" 10000
	kill "$pid"; wait "$pid" 2>/dev/null || true
	rm -rf "$d"
}

# reports_case: delivery of a 10,000-report spool to an HTTPS server on
# loopback, against a keep-alive Python client posting the same files.
reports_case() {
	local d=$BENCH_DIR/reports n=${BENCH_REPORTS:-10000} port p c size hb
	rm -rf "$d"; mkdir -p "$d/root/etc" "$d/bl" "$d/state" "$d/copies"
	( . "$HERE/../lib/tls.sh"; mk_tls "$d/tls" )
	printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "Authorized use only\\n"\n' > "$d/bl/baseline.yaml"
	printf 'report:\n  url: https://localhost:1/v1/reports\n  ca_file: %s\n' "$d/tls/ca.pem" > "$d/dead.yaml"
	echo "PermitRootLogin yes" > "$d/root/etc/motd"
	"$PLUMB" -c "$d/dead.yaml" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q apply >/dev/null 2>&1 || true
	"$PLUMB" -c "$d/dead.yaml" --root "$d/root" --state-dir "$d/hbstate" --baseline-dir "$d/bl" -q apply >/dev/null 2>&1 || true
	size=$(stat -c %s "$(ls "$d"/state/spool/*-d-*.json | head -1)")
	hb=$(stat -c %s "$(ls "$d"/hbstate/spool/*-h-*.json | head -1)")
	python3 - "$d/state/spool" "$d/copies" "$n" <<'P'
import glob, os, re, sys, uuid
spool, copies, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmpl = open(glob.glob(os.path.join(spool, "*-d-*.json"))[0]).read()
old = re.search(r'"id":"([0-9a-f-]{36})"', tmpl).group(1)
for f in glob.glob(os.path.join(spool, "*.json")):
    if re.match(r"^\d{20}-", os.path.basename(f)):
        os.unlink(f)
with open(os.path.join(copies, "list"), "w") as lst:
    for i in range(n):
        u = str(uuid.uuid4())
        body = tmpl.replace(old, u)
        name = "%011d%09d-d-%s.json" % (1700000000 + i, 0, u)
        open(os.path.join(spool, name), "w").write(body)
        open(os.path.join(copies, u), "w").write(body)
        lst.write(os.path.join(copies, u) + "\n")
P
	python3 "$HERE/../lib/report_server.py" --cert "$d/tls/server.pem" --key "$d/tls/server.key" \
		--port-file "$d/port" --log "$d/hub.log" --lifetime 600 2>/dev/null &
	p=$!
	for _ in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	port=$(cat "$d/port")
	printf 'report:\n  url: https://localhost:%s/v1/reports\n  ca_file: %s\n' "$port" "$d/tls/ca.pem" > "$d/live.yaml"
	local t0 t1 t2
	t0=$(date +%s%N)
	"$PLUMB" -c "$d/live.yaml" --state-dir "$d/state" -q deliver >/dev/null &
	local dpid=$! keeper=0 net=0 sp np h
	# the peak RSS (VmHWM) of plumb-send and of its network child, sampled every 10 ms
	while kill -0 "$dpid" 2>/dev/null; do
		for sp in $(pgrep -P "$dpid" -x plumb-send); do
			h=$(awk '/VmHWM/{print $2}' "/proc/$sp/status" 2>/dev/null || echo 0)
			[ "${h:-0}" -gt "$keeper" ] && keeper=$h
			for np in $(pgrep -P "$sp" -x plumb-send); do
				h=$(awk '/VmHWM/{print $2}' "/proc/$np/status" 2>/dev/null || echo 0)
				[ "${h:-0}" -gt "$net" ] && net=$h
			done
		done
		sleep 0.01
	done
	wait "$dpid"
	t1=$(date +%s%N)
	python3 "$HERE/post_client.py" localhost "$port" "$d/tls/ca.pem" "$d/copies/list"
	t2=$(date +%s%N)
	kill "$p"; wait "$p" 2>/dev/null || true
	printf '\nreport delivery, %s spooled drift reports to an HTTPS server on loopback:\n' "$n"
	printf '  typical report: %s bytes with one reverted event and its diff; heartbeat: %s bytes\n' "$size" "$hb"
	awk -v a=$((t1 - t0)) -v b=$((t2 - t1)) -v n="$n" 'BEGIN{
		printf "  plumb deliver: %.2f s = %.0f reports/s; keep-alive python client, same files and server: %.2f s = %.0f/s; ratio %.2fx\n",
		a/1e9, n/(a/1e9), b/1e9, n/(b/1e9), a/b }'
	printf '  RSS while delivering (VmHWM, sampled every 10 ms): plumb-send %.1f MiB, its network child %.1f MiB\n' \
		"$(awk -v k="$keeper" 'BEGIN{print k/1024}')" "$(awk -v k="$net" 'BEGIN{print k/1024}')"
}

# firewall_case: an owned nftables table of 1,000 rules in a namespace the
# bench creates: plumb check and repair against nft -j list of that table.
firewall_case() {
	local d=$BENCH_DIR/fw ns=plumbbench-$$ c r l
	command -v nft >/dev/null && [ "$(id -u)" -eq 0 ] || { echo "firewall: skipped (needs root and nft)"; return 0; }
	ip netns add "$ns" 2>/dev/null || { echo "firewall: skipped (no network namespaces)"; return 0; }
	rm -rf "$d"; mkdir -p "$d/bl/firewall" "$d/root" "$d/state"
	{ echo "table inet plumb {"; echo "	chain input {"; echo "		type filter hook input priority 0; policy accept;"
	  for i in $(seq 1 1000); do echo "		tcp dport $i accept"; done; echo "	}"; echo "}"; } > "$d/bl/firewall/plumb.nft"
	printf 'version: 1\nfirewall:\n  backend: nftables\n  tables: ["inet plumb"]\n  ruleset: firewall/plumb.nft\n' > "$d/bl/baseline.yaml"
	ip netns exec "$ns" "$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q apply >/dev/null || true
	l=$(best_of ip netns exec "$ns" nft -j list table inet plumb)
	c=$(best_of ip netns exec "$ns" "$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" -q check)
	r=$(best_of ip netns exec "$ns" sh -c "nft add rule inet plumb input tcp dport 5000 accept && '$PLUMB' --root '$d/root' --state-dir '$d/state' --baseline-dir '$d/bl' -q apply")
	ip netns del "$ns"
	printf '\nfirewall, an owned nftables table of 1,000 rules (in a throwaway namespace):\n'
	printf '  %-44s %8s s\n' "nft -j list table inet plumb (reference)" ${l%% *} \
		"plumb check (load in a scratch netns + compare)" ${c%% *} "nft add rule + plumb apply (repair)" ${r%% *}
	printf '  check: %s the listing; repair: %s\n' "$(ratio ${c%% *} ${l%% *})" "$(ratio ${r%% *} ${l%% *})"
}

# hub_case: plumb-hub ingest (reports/s from 8 concurrent keep-alive
# clients, on SQLite and on a PostgreSQL server started here) against the
# same generator posting to a server that parses and stores nothing; the
# SQLite ingest again with 200 uploads held open in the background; and
# the fleet page's reads (GET /v1/hosts) at 10,000 and 100,000 hosts.
hub_case() {
	local d=$BENCH_DIR/hub n=${BENCH_HUB_REPORTS:-4000} hubp ref sq pg h
	: "${PLUMB_HUB:=$(dirname "$PLUMB")/plumb-hub}"
	rm -rf "$d"; mkdir -p "$d/root/etc" "$d/bl" "$d/state"
	printf 'version: 1\nfiles:\n  - path: /etc/motd\n    content: "hello\\n"\n  - path: /etc/issue\n    content: "x\\n"\n' > "$d/bl/baseline.yaml"
	"$PLUMB" --root "$d/root" --state-dir "$d/state" --baseline-dir "$d/bl" check --json > "$d/template.json" 2>/dev/null || true
	start() { # DB -> sets hubp, url
		rm -f "$d/port"
		"$PLUMB_HUB" --db "$1" --listen 127.0.0.1:0 --port-file "$d/port" --threads 4 2>>"$d/hub.log" &
		hubp=$!
		for _ in $(seq 1 200); do [ -s "$d/port" ] && break; sleep 0.05; done
		url=http://127.0.0.1:$(cat "$d/port")
	}
	tokens() { # DB
		: > "$d/tokens"
		for i in 1 2 3 4 5 6 7 8; do echo "bench-$i $("$PLUMB_HUB" --db "$1" token add "bench-$i" 2>/dev/null)" >> "$d/tokens"; done
		VT=$("$PLUMB_HUB" --db "$1" token add --viewer bench 2>/dev/null)
	}
	python3 "$HERE/hub_load.py" serve "$d/refport" & ref=$!
	for _ in $(seq 1 100); do [ -s "$d/refport" ] && break; sleep 0.05; done
	echo "x ref" > "$d/reftokens"
	r=$(python3 "$HERE/hub_load.py" ingest "http://127.0.0.1:$(cat "$d/refport")" "$d/reftokens" "$d/template.json" "$n" 8)
	kill "$ref" 2>/dev/null; wait "$ref" 2>/dev/null || true
	rm -f "$d/hub.db"*; tokens "$d/hub.db"; start "$d/hub.db"
	sq=$(python3 "$HERE/hub_load.py" ingest "$url" "$d/tokens" "$d/template.json" "$n" 8)
	# The same ingest while one host's token holds 200 uploads of 4 MiB - 1
	# byte open (issue 16.9): rate and the hub's RSS beside the run above.
	local rss0 rss1 held hold_pid hq
	rss0=$(awk '/VmRSS/{print $2}' "/proc/$hubp/status")
	rm -f "$d/held"
	python3 "$HERE/hub_load.py" hold "$url" "$("$PLUMB_HUB" --db "$d/hub.db" token add holder 2>/dev/null)" 200 \
		$((4 << 20)) "$d/held" & hold_pid=$!
	for _ in $(seq 1 1200); do [ -s "$d/held" ] && break; sleep 0.1; done
	held=$(cat "$d/held" 2>/dev/null || echo 0)
	hq=$(python3 "$HERE/hub_load.py" ingest "$url" "$d/tokens" "$d/template.json" "$n" 8)
	rss1=$(awk '/VmRSS/{print $2}' "/proc/$hubp/status")
	kill "$hold_pid" 2>/dev/null; wait "$hold_pid" 2>/dev/null || true
	# The fleet page's reads at 10,000 and then 100,000 hosts (rows written
	# directly, as ingest leaves them): GET /v1/hosts first page (the API's
	# default, 500 hosts) and the page's own query (100 hosts, most urgent
	# first), p50/p99 over 200 requests each. Reference, measured here on
	# the same rows: Python's sqlite3 + json reading and encoding the same
	# first 500 hosts in-process (no HTTP, no status, no totals), median of
	# 20; and the whole list, as the hub sent it before paging.
	local sizes="10000 100000" have=8 nh pg_ref full_ref p_api p_page
	[ -n "${BENCH_HUB_PAGE_HOSTS:-}" ] && sizes=$BENCH_HUB_PAGE_HOSTS
	page_lines=()
	for nh in $sizes; do
		python3 - "$d/hub.db" "$have" "$nh" <<'P'
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1]); now = int(time.time()); lo, hi = int(sys.argv[2]), int(sys.argv[3])
c.executemany("INSERT INTO hosts (host, first_seen, last_seen, last_finished, commit_id, serial, signer, mode, agent_version, unresolved, reports, events, base_rank) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [("fleet-%06d" % i, now, now - i % 3600, now, "%040x" % i, 42, "release", "enforce", "0.1.0", int(i % 7 == 0), 100, 10, 1 if i % 7 == 0 else 5) for i in range(lo, hi)])
c.commit()
P
		have=$nh
		read -r pg_ref full_ref < <(python3 - "$d/hub.db" <<'P'
import json, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1]); c.row_factory = sqlite3.Row
def med(q):
    ts = []
    for _ in range(20):
        t0 = time.perf_counter()
        json.dumps({"hosts": [dict(r) for r in c.execute(q)]})
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[10] * 1e3
print("%.2f %.2f" % (med("SELECT * FROM hosts ORDER BY host LIMIT 500"), med("SELECT * FROM hosts ORDER BY host")))
P
)
		p_api=$(python3 "$HERE/hub_load.py" hosts "$url" "$VT" 200 /v1/hosts)
		p_page=$(python3 "$HERE/hub_load.py" hosts "$url" "$VT" 200 "/v1/hosts?limit=100&sort=status")
		page_lines+=("$(printf '  %7s hosts: GET /v1/hosts (500, %s bytes) p50 %s ms p99 %s ms; the page'"'"'s query (100, most urgent first) p50 %s ms p99 %s ms\n           reference: 500 rows read + encoded in-process %s ms (p99 ratio %s), the whole list %s ms' \
			"$nh" "$(echo "$p_api" | cut -d' ' -f3)" "$(echo "$p_api" | cut -d' ' -f1)" "$(echo "$p_api" | cut -d' ' -f2)" \
			"$(echo "$p_page" | cut -d' ' -f1)" "$(echo "$p_page" | cut -d' ' -f2)" "$pg_ref" \
			"$(ratio "$(echo "$p_api" | cut -d' ' -f2)" "$pg_ref")" "$full_ref")")
	done
	kill "$hubp"; wait "$hubp" 2>/dev/null || true
	printf '\nplumb-hub, %s reports (%s bytes each) from 8 concurrent keep-alive clients on loopback:\n' "$n" "$(stat -c %s "$d/template.json")"
	printf '  %-58s %8s reports/s\n' "reference: same generator, server parses and stores nothing" "${r##* }" \
		"plumb-hub on SQLite (WAL, synchronous=FULL)" "${sq##* }" \
		"the same, while one token holds $held uploads of 4 MiB - 1" "${hq##* }"
	printf '  hub RSS before the held uploads %s MiB, after them and the ingest %s MiB (ratio of rates %s)\n' \
		"$((rss0 / 1024))" "$((rss1 / 1024))" "$(ratio "${hq##* }" "${sq##* }")"
	if T=$d PG_FSYNC=on; . "$HERE/../lib/hub.sh" && pg_start; then
		tokens "$PG_URI"; start "$PG_URI"
		pg=$(python3 "$HERE/hub_load.py" ingest "$url" "$d/tokens" "$d/template.json" "$n" 8)
		kill "$hubp"; wait "$hubp" 2>/dev/null || true
		printf '  %-58s %8s reports/s\n' "plumb-hub on PostgreSQL 15 (local socket, fsync on)" "${pg##* }"
		pg_stop
	else
		echo "  plumb-hub on PostgreSQL: skipped ($PG_WHY)"
	fi
	printf '  ratios to the reference: SQLite %s' "$(ratio "${sq##* }" "${r##* }")"
	[ -n "${pg:-}" ] && printf ', PostgreSQL %s' "$(ratio "${pg##* }" "${r##* }")"
	printf '\n  the fleet page (SQLite; target: first page p99 <= 20 ms at 100,000 hosts):\n'
	printf '%b\n' "${page_lines[@]}"
}

. "$HERE/effective.sh"
# BENCH_ONLY=verify: the 1,000-file verify case alone.
verify_only_case() { verify_case "$(tree thousand 1000 4000000 0)"; objects_case "$BENCH_DIR/thousand"; }

# objects_case DIR: the parent reads raw objects from plumb-fetch (issue 15):
# warm verify and an empty-store check against main's way (PLUMB_REF: a
# plumb built from main, whose fork of itself fetches and whose parent reads
# the cache with libgit2), measured in the same run; and, whatever
# PLUMB_REF, against git cat-file --batch of the same objects.
objects_case() {
	local d=$1 cfg v f r rf g
	cfg=$(git_repo "$d")
	"$PLUMB" -c "$cfg" -q verify >/dev/null || { echo "plumb verify failed" >&2; exit 1; }
	v=$(best_of "$PLUMB" -c "$cfg" -q verify)
	f=$(best_of sh -c "rm -rf '$d/fresh' && '$PLUMB' -c '$cfg' --state-dir '$d/fresh' -q check")
	git -C "$d/git" rev-list --objects HEAD | cut -d' ' -f1 > "$d/objects.list"
	g=$(best_of sh -c "git -C '$d/git' cat-file --batch < '$d/objects.list'")
	printf '
raw objects over the pipe, %s objects of the tip:
' "$(wc -l < "$d/objects.list")"
	printf '  %-52s %8s s
' "plumb verify, warm (this branch)" ${v%% *} 		"plumb check, empty state (this branch)" ${f%% *} 		"git cat-file --batch of the tip's objects (reference)" ${g%% *}
	if [ -n "${PLUMB_REF:-}" ]; then
		sed "s|state_dir: .*|state_dir: $d/gstate-ref|" "$cfg" > "$d/agent-ref.yaml"
		"$PLUMB_REF" -c "$d/agent-ref.yaml" -q verify >/dev/null || { echo "reference plumb verify failed" >&2; exit 1; }
		r=$(best_of "$PLUMB_REF" -c "$d/agent-ref.yaml" -q verify)
		rf=$(best_of sh -c "rm -rf '$d/fresh-ref' && '$PLUMB_REF' -c '$d/agent-ref.yaml' --state-dir '$d/fresh-ref' -q check")
		printf '  %-52s %8s s
' "plumb verify, warm ($PLUMB_REF)" ${r%% *} \
			"plumb check, empty state ($PLUMB_REF)" ${rf%% *}
		printf '  verify: %s of main'"'"'s way (target <= 1.2x); empty-state check: %s of main'"'"'s way
' \
			"$(ratio ${v%% *} ${r%% *})" "$(ratio ${f%% *} ${rf%% *})"
	fi
	printf '  empty-state check / git cat-file --batch: %s
' "$(ratio ${f%% *} ${g%% *})"
}

# rss_case DIR: peak RSS (VmHWM) of plumbd and of its plumb-fetch child with
# a 10,000-file signed baseline (target: plumbd <= 10 MiB).
rss_case() {
	local d=$1 cfg pid fpid fh=0 h
	cfg=$(git_repo "$d")
	rm -rf "$d/rstate"
	sed -e "s|state_dir: .*|state_dir: $d/rstate|" "$cfg" > "$d/agent-rss.yaml"
	printf 'interval:
  poll: 1h
' >> "$d/agent-rss.yaml"
	xargs -0 cat < "$d/list0" > /dev/null
	"$PLUMBD" -c "$d/agent-rss.yaml" -q >/dev/null 2>&1 &
	pid=$!
	# the fetcher's VmHWM, sampled until it is gone (its peak is near its end)
	for _ in $(seq 1 3000); do
		fpid=$(pgrep -P "$pid" -x plumb-fetch | head -1 || true)
		if [ -n "$fpid" ]; then
			h=$(awk '/VmHWM/{print $2}' "/proc/$fpid/status" 2>/dev/null || echo 0)
			[ "${h:-0}" -gt "$fh" ] && fh=$h
		elif [ -s "$d/rstate/trust.json" ]; then
			break
		fi
		sleep 0.01
	done
	for _ in $(seq 1 500); do [ -s "$d/rstate/plumb.prom" ] && break; sleep 0.02; done
	sleep 1
	printf '
RSS with a %s-file signed baseline (target: plumbd <= 10 MiB):
' "$(grep -c '^  - path:' "$d/bl/baseline.yaml")"
	printf '  plumbd: %s
' "$(awk '/VmRSS|VmHWM/{printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$pid/status")"
	printf '  plumb-fetch (sampled every 10 ms): VmHWM %.1f MiB
' "$(awk -v k="$fh" 'BEGIN{print k/1024}')"
	kill "$pid"; wait "$pid" 2>/dev/null || true
	# Again with the store filled: plumbd enforces the anchor from its store
	# while the first fetch runs, then judges that fetch's tip (the same
	# commit) while it holds the anchor.
	"$PLUMBD" -c "$d/agent-rss.yaml" -q >/dev/null 2>&1 &
	pid=$!
	local seen=0
	for _ in $(seq 1 3000); do
		if pgrep -P "$pid" -x plumb-fetch >/dev/null; then seen=1; elif [ $seen = 1 ]; then break; fi
		sleep 0.01
	done
	sleep 2
	printf '  plumbd after a restart, its first fetch judged: %s
' "$(awk '/VmRSS|VmHWM/{printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$pid/status")"
	kill "$pid"; wait "$pid" 2>/dev/null || true
}
rss_only_case() { rss_case "$(tree tenk 10000 40000000 0)"; }
objects_only_case() { objects_case "$(tree thousand 1000 4000000 0)"; }

# hung_fetch_case: plumbd while its git remote accepts and never answers
# (source.timeout 20s, poll 5s, a 4 s watchdog: issue 15's setup): the
# watchdog's longest gap and drift-to-revert p50/p99 over 100 drifts.
hung_fetch_case() {
	local d=$BENCH_DIR/hung pid srv lis out
	rm -rf "$d"; mkdir -p "$d/root/etc" "$d/state" "$d/git"
	ssh-keygen -q -t ed25519 -N '' -f "$d/key" -C bench
	echo "bench@example.com $(cut -d' ' -f1,2 "$d/key.pub")" > "$d/allowed_signers"
	git init -q -b main "$d/git"
	# 100 files, each drifted once: one file drifted again and again would be
	# (rightly) backed off as contested
	{ printf 'version: 1\nserial: 1\nfiles:\n'
	  for i in $(seq 0 99); do printf '  - path: /etc/f%d\n    content: "hello\\n"\n' "$i"; done; } > "$d/git/baseline.yaml"
	git -C "$d/git" add -A
	GIT_CONFIG_GLOBAL=/dev/null git -C "$d/git" -c user.name=bench -c user.email=bench@example.com \
		-c gpg.format=ssh -c user.signingkey="$d/key" commit -q -S -m "bench baseline"
	printf 'source:\n  url: %s\n  allowed_signers: %s\nstate_dir: %s\nroot: %s\n' "$d/git" "$d/allowed_signers" \
		"$d/state" "$d/root" > "$d/agent.yaml"
	"$PLUMB" -c "$d/agent.yaml" -q apply >/dev/null || true
	python3 "$HERE/../lib/git_https_server.py" --stall --port-file "$d/port" --lifetime 120 2>/dev/null &
	srv=$!
	for _ in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
		-days 1 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
	printf 'source:\n  url: https://localhost:%s/b.git\n  allowed_signers: %s\n  ca_file: %s\n  timeout: 20s\ninterval:\n  poll: 5s\nstate_dir: %s\nroot: %s\n' \
		"$(cat "$d/port")" "$d/allowed_signers" "$d/ca.pem" "$d/state" "$d/root" > "$d/agent.yaml"
	python3 "$HERE/../lib/notify_listen.py" "$d/notify.sock" "$d/notify.log" 50 &
	lis=$!
	for _ in $(seq 1 100); do [ -S "$d/notify.sock" ] && break; sleep 0.05; done
	NOTIFY_SOCKET=$d/notify.sock WATCHDOG_USEC=4000000 "$PLUMBD" -c "$d/agent.yaml" -q >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 200); do grep -q READY=1 "$d/notify.log" 2>/dev/null && break; sleep 0.05; done
	out=$(python3 - "$d/root/etc" <<'P'
import sys, time
lat = []
for i in range(100):
    p = "%s/f%d" % (sys.argv[1], i)
    t0 = time.monotonic()
    with open(p, "w") as f:
        f.write("drift %d\n" % i)
    while True:
        try:
            if open(p).read() == "hello\n":
                break
        except OSError:
            pass
        if time.monotonic() - t0 > 5:
            break
        time.sleep(0.001)
    lat.append((time.monotonic() - t0) * 1000)
    time.sleep(0.25)
lat.sort()
print("%.1f %.1f %.1f" % (lat[49], lat[98], lat[-1]))
P
)
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
	kill "$srv" "$lis" 2>/dev/null; wait "$srv" "$lis" 2>/dev/null || true
	printf '\nplumbd during a hung git fetch (remote accepts, never answers; timeout 20s, poll 5s, watchdog 4s):\n'
	awk '$2 == "WATCHDOG=1" || $2 == "READY=1" { if (p) { g = $1 - p; if (g > m) m = g } p = $1; n++ }
		END { printf "  watchdog: %d pings, longest gap %.2f s (pinged every 2 s; issue 15 measured 21.1 s on main)\n", n, m }' "$d/notify.log"
	printf '  drift-to-revert over 100 drifts: p50 %s ms, p99 %s ms, max %s ms\n' $out
}

# alerts_case: drift-to-alert latency at the hub (SQLite): report POST
# answered -> the alert at a loopback webhook, p50/p99 over 200 transitions
# (drift and clean alternate), beside the POST round trip of the same run.
alerts_case() {
	local d=$BENCH_DIR/alerts port tok pid out
	rm -rf "$d"; mkdir -p "$d"
	tok=$("$PLUMB_HUB" --db "$d/hub.db" token add bench1 2>/dev/null)
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	printf 'receivers:\n  - {name: bench, type: webhook, url: "http://127.0.0.1:%s/"}\n' "$port" > "$d/alerts.yml"
	"$PLUMB_HUB" --db "$d/hub.db" --listen 127.0.0.1:0 --port-file "$d/port" --alerts "$d/alerts.yml" 2>"$d/log" &
	pid=$!
	for _ in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.05; done
	out=$(python3 "$HERE/alert_latency.py" "http://127.0.0.1:$(cat "$d/port")" "$tok" "$port" 200) || out="failed"
	kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
	printf '\ndrift-to-alert at the hub (SQLite, webhook on loopback, 200 transitions):\n'
	if [ "$out" = failed ]; then echo "  failed: $(tail -3 "$d/log")"; return; fi
	set -- $out
	printf '  report answered -> alert received: p50 %s ms, p99 %s ms (target p99 <= 2000 ms)\n' "$1" "$2"
	printf '  reference: the POST round trip itself: p50 %s ms, p99 %s ms (alert p99 / POST p99: %s)\n' "$3" "$4" \
		"$(ratio "$2" "$4")"
}

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# BENCH_ONLY=hub (or reports, firewall, ...) runs one case.
if [ -n "${BENCH_ONLY:-}" ]; then "${BENCH_ONLY}_case"; exit; fi
echo "plumb check compares each managed file with its source (size, then bytes); both trees are read."
run_case "small tree (config-sized files)" "$(tree small 2000 8000000 0)"
run_case "large tree (with large binaries)" "$(tree large 20000 1073741824 10)"
git_case "small tree (config-sized files)" "$BENCH_DIR/small"
[ -n "${BENCH_SKIP_LARGE_GIT:-}" ] || git_case "large tree (with large binaries)" "$BENCH_DIR/large"
verify_case "$(tree thousand 1000 4000000 0)"
objects_case "$BENCH_DIR/thousand"
hung_fetch_case
daemon_case "$(tree tenk 10000 40000000 0)"
rss_case "$BENCH_DIR/tenk"
attacker_case
reports_case
firewall_case
effective_case
hub_case
alerts_case
