#!/bin/bash
# demo.sh - the README's first command: builds a throwaway signing key and a
# signed local git repository from baselines/, then runs plumb against a
# sandbox root under /tmp (never the real /etc): verify, apply, drift
# reverted, an unsigned push refused. Needs ./build/plumb (make demo builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
PLUMB=${PLUMB:-$PWD/build/plumb}
D=$(mktemp -d /tmp/plumb-demo.XXXXXX)
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=pipeline GIT_AUTHOR_EMAIL=pipeline@example.com
export GIT_COMMITTER_NAME=pipeline GIT_COMMITTER_EMAIL=pipeline@example.com

say() { printf '\n== %s\n' "$*"; }
run() { echo "\$ plumb $*"; "$PLUMB" -c "$D/agent.yaml" "$@" || echo "(exit $?)"; }

say "a change-control pipeline: signing key, allowed_signers, signed baseline repository"
ssh-keygen -q -t ed25519 -N '' -C pipeline -f "$D/pipeline-key"
echo "pipeline@example.com namespaces=\"git\" $(cut -d' ' -f1,2 "$D/pipeline-key.pub")" > "$D/allowed_signers"
git init -q -b main "$D/baselines.git"
cp -a baselines/. "$D/baselines.git/"
git -C "$D/baselines.git" add -A
git -C "$D/baselines.git" -c gpg.format=ssh -c user.signingkey="$D/pipeline-key" commit -q -S -m "baseline 1"
git -C "$D/baselines.git" log --show-signature -1 -c gpg.ssh.allowedSignersFile="$D/allowed_signers" 2>&1 | head -3 || true

say "a host: sandbox root $D/root with its own users, and an agent config"
mkdir -p "$D/root/etc"
printf 'root:x:0:0:root:/root:/bin/bash\n' > "$D/root/etc/passwd"
printf 'root:x:0:\nshadow:x:42:\n' > "$D/root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$D/root/etc/shadow"; chmod 0666 "$D/root/etc/shadow"
echo 'evil.example.com root' > "$D/root/etc/hosts.equiv"
cat > "$D/agent.yaml" <<C
source:
  url: $D/baselines.git
  allowed_signers: $D/allowed_signers
state_dir: $D/state
root: $D/root
C
cat "$D/agent.yaml"

say "verify the signed tip, then check and apply it"
run verify
run check
run apply

say "an intruder edits the sshd hardening, opens /etc/shadow, replaces the motd"
echo 'PermitRootLogin yes' > "$D/root/etc/ssh/sshd_config.d/50-plumb-hardening.conf"
chmod 0644 "$D/root/etc/shadow"
echo 'pwned' > "$D/root/etc/motd"
run apply
echo "what the intruder wrote is kept, root-only:"
ls -l "$D/state/quarantine"

say "someone pushes an UNSIGNED baseline that opens root login"
sed -i 's/^PermitRootLogin no/PermitRootLogin yes/' "$D/baselines.git/files/ssh/50-plumb-hardening.conf"
sed -i 's/^serial: 1/serial: 2/' "$D/baselines.git/baseline.yaml"
git -C "$D/baselines.git" commit -q -am "baseline 2 (unsigned)"
echo 'PermitRootLogin yes' > "$D/root/etc/ssh/sshd_config.d/50-plumb-hardening.conf"
run apply
grep PermitRootLogin "$D/root/etc/ssh/sshd_config.d/50-plumb-hardening.conf"

say "the last run, as plumb status shows it"
run status
echo
echo "Explore: $PLUMB -c $D/agent.yaml status --json"
echo "Clean up:  rm -rf $D"
