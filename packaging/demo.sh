#!/bin/bash
# demo.sh - the README's first command (after make builds everything): a
# signed baseline repository made from baselines/ with a throwaway key,
# plumb-hub on SQLite, and plumbd enforcing it on a sandbox root under /tmp
# inside a network namespace of its own (never the real /etc, never the
# host firewall, never the host's kernel parameters). Drift is reverted in milliseconds and shows in the hub; an
# unsigned push is refused. Cleans up at the end (interactive runs wait for
# Enter first, so the hub page can be explored).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${PLUMB_BUILD:-$PWD/build}
PLUMB=$B/plumb PLUMBD=$B/plumbd HUB=$B/plumb-hub
for b in "$PLUMB" "$PLUMBD" "$HUB"; do [ -x "$b" ] || { echo "demo: $b is missing; run make" >&2; exit 1; }; done
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (a network namespace for the firewall table)" >&2; exit 1; }

D=$(mktemp -d /tmp/plumb-demo.XXXXXX)
NS=plumb-demo-$$ VETH=pdemo$$ NET=
# A /30 no interface uses yet (a leftover from a killed run must not clash).
for n in $(seq 77 99); do
	ip -o addr show | grep -q "inet 10\.254\.$n\." || { NET=10.254.$n; break; }
done
[ -n "$NET" ] || { echo "demo: no free 10.254.77-99.0/30 subnet" >&2; exit 1; }
HUBPID= AGENTPID=
cleanup() {
	set +e
	[ -n "$AGENTPID" ] && kill -TERM "$AGENTPID" 2>/dev/null && wait "$AGENTPID" 2>/dev/null
	[ -n "$HUBPID" ] && kill -TERM "$HUBPID" 2>/dev/null && wait "$HUBPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null       # takes the veth pair with it
	ip link del "$VETH" 2>/dev/null
	if [ -n "${PLUMB_DEMO_KEEP:-}" ]; then echo "demo: kept $D"; else rm -rf "$D"; fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=pipeline GIT_AUTHOR_EMAIL=pipeline@example.com
export GIT_COMMITTER_NAME=pipeline GIT_COMMITTER_EMAIL=pipeline@example.com
say() { printf '\n== %s\n' "$*"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# wait_for SECONDS CMD...: polls every 10 ms until CMD succeeds.
wait_for() {
	local end=$(( $(date +%s) + $1 )); shift
	until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.01; done
}
api() { curl -sf --cacert "$D/tls/ca.pem" -H "Authorization: Bearer $VIEWER" "$HUBURL$1"; }

say "1. the pipeline: a signing key, allowed_signers, a signed baseline repository"
ssh-keygen -q -t ed25519 -N '' -C pipeline -f "$D/pipeline-key"
echo "pipeline@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$D/pipeline-key.pub")" > "$D/allowed_signers"
git init -q -b main "$D/baselines.git"
cp -a baselines/. "$D/baselines.git/"
git -C "$D/baselines.git" add -A
git -C "$D/baselines.git" -c gpg.format=ssh -c user.signingkey="$D/pipeline-key" commit -q -S -m "baseline 1"
echo "signed commit $(git -C "$D/baselines.git" rev-parse --short HEAD): $(grep -c '^  - path:' baselines/baseline.yaml) paths and an nftables table"

say "2. the control plane: plumb-hub (SQLite, HTTPS) on $NET.1, reachable from the host and the sandbox"
ip link add "$VETH" type veth peer name eth0 netns "$(ip netns add "$NS" && echo "$NS")"
ip addr add "$NET.1/30" dev "$VETH"; ip link set "$VETH" up
ip -n "$NS" addr add "$NET.2/30" dev eth0; ip -n "$NS" link set eth0 up; ip -n "$NS" link set lo up
mkdir -p "$D/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=plumb demo CA" \
	-keyout "$D/tls/ca.key" -out "$D/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=plumb-hub demo" \
	-keyout "$D/tls/hub.key" -out "$D/tls/hub.csr" 2>/dev/null
printf 'subjectAltName=IP:%s.1\nextendedKeyUsage=serverAuth\n' "$NET" > "$D/tls/ext"
openssl x509 -req -in "$D/tls/hub.csr" -CA "$D/tls/ca.pem" -CAkey "$D/tls/ca.key" -CAcreateserial -days 2 \
	-extfile "$D/tls/ext" -out "$D/tls/hub.pem" 2>/dev/null
"$HUB" --db "$D/hub.db" --listen "$NET.1:0" --port-file "$D/hub.port" --tls-cert "$D/tls/hub.pem" \
	--tls-key "$D/tls/hub.key" --heartbeat 1m 2>"$D/hub.log" &
HUBPID=$!
wait_for 10 test -s "$D/hub.port" || { cat "$D/hub.log"; exit 1; }
HUBURL=https://$NET.1:$(cat "$D/hub.port")
HOST=$(hostname)
"$HUB" --db "$D/hub.db" token add "$HOST" > "$D/agent.token" 2>/dev/null
VIEWER=$("$HUB" --db "$D/hub.db" token add --viewer demo 2>/dev/null)
echo "hub at $HUBURL; agent token for host '$HOST' in $D/agent.token"

say "3. a host: sandbox root $D/root (a base system's account files only), plumbd in namespace $NS"
mkdir -p "$D/root/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$D/root/etc/passwd"
printf 'root:x:0:\nshadow:x:42:\n' > "$D/root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$D/root/etc/shadow"; printf 'root:*::\n' > "$D/root/etc/gshadow"
chmod 0644 "$D/root/etc/shadow" "$D/root/etc/gshadow"
echo 'evil.example.com root' > "$D/root/etc/hosts.equiv"
# the image's package database: what the baseline needs is installed
mkdir -p "$D/root/var/lib/dpkg"
printf 'Package: cracklib-runtime\nStatus: install ok installed\nVersion: 2.9.6-5+b1\nArchitecture: amd64\n\n' \
	> "$D/root/var/lib/dpkg/status"
cat > "$D/agent.yaml" <<C
source:
  url: $D/baselines.git
  allowed_signers: $D/allowed_signers
state_dir: $D/state
root: $D/root
interval:
  poll: 2s
report:
  url: $HUBURL/v1/reports
  token_file: $D/agent.token
  ca_file: $D/tls/ca.pem
  heartbeat: 1m
C
# kernel-wide sysctl keys (kernel.*, fs.*, vm.*) go to copies of /proc/sys in
# a mount namespace of plumbd's own: the host's kernel values are untouched.
ip netns exec "$NS" tests/lib/ksys-sandbox.sh "$D/ksys" "$PLUMBD" -c "$D/agent.yaml" 2>"$D/plumbd.log" &
AGENTPID=$!
wait_for 30 test -s "$D/state/plumb.prom" || { tail "$D/plumbd.log"; exit 1; }
grep -m1 'enforcing commit' "$D/plumbd.log" | sed 's/^plumbd: info: //'
echo "catch-up at start: $(grep -c ': reverted ' "$D/plumbd.log") resources put right (the firewall table included)"
wait_for 10 sh -c "ip netns exec '$NS' nft list table inet plumb >/dev/null 2>&1"
echo "firewall in the sandbox's namespace (the host's is untouched):"
ip netns exec "$NS" nft list table inet plumb | sed -n '1,4p'
echo "	..."

say "4. an intruder: root login in sshd, /etc/shadow opened up, a cron.deny planted, the motd replaced"
F=$D/root/etc/ssh/sshd_config.d/00-plumb-hardening.conf
t0=$(date +%s%N)
echo 'PermitRootLogin yes' >> "$F"
wait_for 5 sh -c "! grep -q 'PermitRootLogin yes' '$F'" && echo "sshd drop-in reverted after $(ms "$t0") ms"
t0=$(date +%s%N)
chmod 0666 "$D/root/etc/shadow"
wait_for 5 sh -c "[ \$(stat -c %a '$D/root/etc/shadow') = 640 ]" && echo "/etc/shadow back to 0640 after $(ms "$t0") ms"
t0=$(date +%s%N)
echo 'nobody' > "$D/root/etc/cron.deny"
wait_for 5 sh -c "[ ! -e '$D/root/etc/cron.deny' ]" && echo "/etc/cron.deny removed after $(ms "$t0") ms"
t0=$(date +%s%N)
echo 'pwned by mallory' > "$D/root/etc/motd"
wait_for 5 sh -c "grep -q 'Authorized use only' '$D/root/etc/motd'" && echo "/etc/motd restored after $(ms "$t0") ms"
echo "what the intruder wrote is kept, root-only, in $D/state/quarantine:"
ls "$D/state/quarantine" | sed 's/^/  /'
# (world-readable files come with a diff; the 0600 sshd drop-in with digests only)
ev() { api "/v1/events?resource=file:/etc/motd&action=reverted" | grep -qF '+pwned by mallory'; }
t0=$(date +%s%N)
wait_for 20 ev && echo "the hub has the events, the motd's with its diff, $(ms "$t0") ms later:"
api "/v1/events?limit=4" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    print("  %s  %-14s %-48s %s" % (e["at"], e["action"], e["resource"], ",".join(e["drift"])))'

say "5. someone pushes an UNSIGNED baseline that allows root login"
sed -i 's/^PermitRootLogin prohibit-password/PermitRootLogin yes/' "$D/baselines.git/files/ssh/00-plumb-hardening.conf"
sed -i 's/^serial: 1/serial: 2/' "$D/baselines.git/baseline.yaml"
git -C "$D/baselines.git" commit -q -am "baseline 2 (unsigned)"
refused() { api "/v1/events?resource=baseline&action=refused" | grep -q '"refused"'; }
wait_for 30 refused && echo "plumbd refused it; the hub shows:"
api "/v1/events?resource=baseline&limit=1" | python3 -c '
import json, sys
e = json.load(sys.stdin)["events"][0]; print("  %s  %s: %s" % (e["at"], e["action"], e.get("error", "")))'
grep -q '^PermitRootLogin prohibit-password' "$F" && echo "and the host still has: PermitRootLogin prohibit-password"

say "6. the fleet, as the hub's API shows it"
api /v1/hosts | python3 -c '
import json, sys
d = json.load(sys.stdin)
for h in d["hosts"]:
    b = h["baseline"]
    print("  %-20s %-10s serial %s signed by %s, %d reverted, last seen %s" % (h["host"], h["status"], b["serial"], b["signer"], h["counts"]["reverted"], h["last_seen"]))
    if h.get("reason"):
        print("  %-20s %-10s why: %s" % ("", "", h["reason"]))'

echo
echo "Hub page: $HUBURL/#token=$VIEWER"
echo "  (a throwaway CA signed its certificate: $D/tls/ca.pem; your browser will ask to trust it)"
if [ -t 0 ] && [ -z "${PLUMB_DEMO_NONINTERACTIVE:-}" ]; then
	read -r -t 900 -p "Press Enter to stop plumbd and plumb-hub and remove $D ... " _ || true
fi
echo "demo: done; cleaning up $D, namespace $NS"
