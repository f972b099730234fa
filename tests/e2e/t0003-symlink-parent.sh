#!/bin/bash
# A symlink planted in a parent component is never followed: the write that
# would land outside the root does not happen, the resource fails clearly,
# and the other resources are still enforced.
. "$(dirname "$0")/../lib/lib.sh"

mkdir -p "$T/outside/ssh"
echo 'outside original' > "$T/outside/ssh/sshd_config"
ln -s "$T/outside/ssh" "$ROOT/etc/ssh"          # absolute, out of the root
mkdir -p "$ROOT/etc/cron.d"
ln -s ../../outside "$ROOT/etc/cron.d/sub"       # relative, climbing out
cat > "$BL/baseline.yaml" <<'Y'
version: 1
files:
  - path: /etc/ssh/sshd_config
    content: "PermitRootLogin no\n"
  - path: /etc/cron.d/sub/ssh/sshd_config
    content: "PermitRootLogin no\n"
  - path: /etc/ssh/newdir/file
    content: "x\n"
  - path: /etc/motd
    content: "hello\n"
Y
plumb_bl apply
expect_rc 6 "apply with unsafe paths"
expect_out "file:/etc/ssh/sshd_config: failed: '/etc/ssh' is a symlink; refusing to follow it"
expect_out "file:/etc/cron.d/sub/ssh/sshd_config: failed: '/etc/cron.d/sub' is a symlink; refusing to follow it"
expect_out "file:/etc/ssh/newdir/file: failed: '/etc/ssh' is a symlink"
expect_content "$T/outside/ssh/sshd_config" "outside original"
expect_missing "$T/outside/ssh/newdir"
expect_content "$ROOT/etc/motd" "hello"
[ -z "$(find "$T/outside" -newer "$BL/baseline.yaml")" ] || fail "something outside the root changed"
plumb_bl check
expect_rc 2 "check reports unsafe paths"
