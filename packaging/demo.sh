#!/bin/bash
# demo.sh - the README's first command: applies baselines/ to a throwaway
# sandbox root under /tmp (never the real /etc), introduces drift, and shows
# plumb find and revert it. Needs a built ./build/plumb (make demo does it).
set -euo pipefail
cd "$(dirname "$0")/.."
PLUMB=${PLUMB:-$PWD/build/plumb}
D=$(mktemp -d /tmp/plumb-demo.XXXXXX)
mkdir -p "$D/root/etc" "$D/state"
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$D/root/etc/passwd"
printf 'root:x:0:\nshadow:x:42:\n' > "$D/root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$D/root/etc/shadow"; chmod 0666 "$D/root/etc/shadow"
echo 'evil.example.com root' > "$D/root/etc/hosts.equiv"
run() { echo; echo "\$ plumb $*"; "$PLUMB" --root "$D/root" --state-dir "$D/state" --baseline-dir baselines "$@" || echo "(exit $?)"; }

echo "== sandbox root: $D/root  (baseline: baselines/, UNSIGNED development mode)"
run check
run apply
echo; echo "== an intruder edits sshd hardening, opens shadow, replaces the motd"
echo 'PermitRootLogin yes' > "$D/root/etc/ssh/sshd_config.d/50-plumb-hardening.conf"
chmod 0644 "$D/root/etc/shadow"
echo 'pwned' > "$D/root/etc/motd"
run apply
echo; echo "== what the intruder wrote is kept for the SRE (root-only):"
ls -l "$D/state/quarantine"
run status
run apply
echo; echo "Done. Explore: $PLUMB --root $D/root --state-dir $D/state --baseline-dir baselines check --json"
echo "Clean up:  rm -rf $D"
