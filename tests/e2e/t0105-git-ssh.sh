#!/bin/bash
# Fetch over ssh:// from a real sshd on a loopback port (its own config,
# host key and authorized_keys; nothing under /etc): the pinned host key is
# accepted, a different pin or no pin is refused before any data is read.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
[ -x /usr/sbin/sshd ] || skip "sshd (openssh-server) is not installed"
[ "$(id -u)" -eq 0 ] || skip "sshd needs root"

mk_key good ed25519; allow ci@example.com good
mk_key client ed25519
mk_repo
commit_signed good 1 "over ssh"
git clone -q --bare "$REPO" "$T/srv/baselines.git"

S=$T/sshd
mkdir -p "$S" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$S/hostkey"
cp "$KEYS/client.pub" "$S/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$S/config" <<C
Port $PORT
ListenAddress 127.0.0.1
HostKey $S/hostkey
PidFile $S/pid
AuthorizedKeysFile $S/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
C
/usr/sbin/sshd -D -e -f "$S/config" 2>"$S/log" &
SSHD=$!
trap 'kill $SSHD 2>/dev/null; wait $SSHD 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
PIN=$(ssh-keygen -lf "$S/hostkey.pub" | cut -d' ' -f2)
URL=ssh://root@localhost:$PORT$T/srv/baselines.git

write_cfg "  ssh_key: $KEYS/client
  ssh_host_key: $PIN
  timeout: 20s"
run_cfg verify
expect_rc 0 "verify over ssh"
expect_out "signer      ci@example.com"
run_cfg apply
expect_rc 2 "apply over ssh"
expect_content "$ROOT/etc/motd" "over ssh"

# a different pinned key: refused
write_cfg "  ssh_key: $KEYS/client
  ssh_host_key: SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
  timeout: 20s"
run_cfg verify
expect_rc 1 "wrong host key"
expect_err "key $PIN is not the pinned SHA256:AAAA"
# no pin at all: refused (never trust on first use)
write_cfg "  ssh_key: $KEYS/client
  timeout: 20s"
run_cfg verify
expect_rc 1 "no pinned host key"
expect_err "no pinned host key (set source.ssh_host_key)"
# a key the server does not accept
mk_key other ed25519
write_cfg "  ssh_key: $KEYS/other
  ssh_host_key: $PIN
  timeout: 20s"
run_cfg verify
expect_rc 1 "unauthorized client key"
expect_err "(source.ssh_key was refused)"
