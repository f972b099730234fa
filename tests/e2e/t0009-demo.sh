#!/bin/bash
# The README's first command ends in packaging/demo.sh: it must run to its
# end, non-interactively, in bounded time, and show what it promises: a
# signed baseline enforced by plumbd in a namespace, drift reverted, the
# events in plumb-hub, an unsigned push refused. It cleans up after itself.
. "$(dirname "$0")/../lib/lib.sh"
REPO=$(cd "$TESTS_DIR/.." && pwd)
rc=0
PLUMB_BUILD=$(dirname "$PLUMB") PLUMB_DEMO_NONINTERACTIVE=1 timeout 120 bash "$REPO/packaging/demo.sh" \
	</dev/null >"$T/out" 2>"$T/err" || rc=$?
expect_rc 0 "demo.sh"
expect_out "enforcing commit"
expect_out "signed by pipeline@example.com"
expect_out "policy drop;"
expect_out "sshd drop-in reverted after"
expect_out "/etc/shadow back to 0640 after"
expect_out "/etc/cron.deny removed after"
expect_out "/etc/motd restored after"
expect_out "the hub has the events, the motd's with its diff"
expect_out "refused: commit"
expect_out "commit is not signed"
expect_out "and the host still has: PermitRootLogin prohibit-password"
# the unsigned push was refused: the hub says so, with the reason (issue 16)
expect_out "refused    serial 1 signed by pipeline@example.com"
expect_out "why: baseline refused: commit"
expect_out "Hub page: https://10.254."
d=$(sed -n 's/^demo: done; cleaning up \([^,]*\),.*/\1/p' "$T/out")
[ -n "$d" ] && [ ! -e "$d" ] || fail "demo left $d behind"
ip netns list | grep -q plumb-demo && fail "demo left a network namespace"
exit 0
