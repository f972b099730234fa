#!/bin/bash
# source.ref: refs/tags/NAME: the annotated tag must be signed by an allowed
# signer and named NAME inside (a signed tag for another name, moved under
# this one, is refused); lightweight and unsigned tags are refused; and the
# commit it points at must be signed too (signed history: a signed tag on an
# unsigned commit is refused).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_key good ed25519; allow ci@example.com good
mk_repo
sign_tag() { git -C "$REPO" -c user.signingkey="$KEYS/good" tag -s -f "$1" -m "release $1" "${2:-HEAD}"; }
write_cfg "  ref: refs/tags/production"

# a signed tag on an unsigned commit: refused, nothing applied
commit_unsigned 1 "unsigned under a signed tag"
sign_tag production
git -C "$REPO" -c gpg.ssh.allowedSignersFile="$SIGNERS" verify-tag production >/dev/null 2>&1 || fail "oracle rejects the tag"
run_cfg verify
expect_rc 1 "verify a signed tag on an unsigned commit"
expect_err "commit $(head_commit | cut -c1-12): commit is not signed"
run_cfg apply
expect_rc 1 "apply a signed tag on an unsigned commit"
expect_missing "$ROOT/etc/motd"
expect_missing "$STATE/trust.json"

commit_signed good 1 "tagged one"

sign_tag production
git -C "$REPO" -c gpg.ssh.allowedSignersFile="$SIGNERS" verify-tag production >/dev/null 2>&1 || fail "oracle rejects the tag"
run_cfg verify
expect_rc 0 "verify a signed tag"
expect_out "commit      $(head_commit)"
run_cfg apply
expect_rc 2 "apply from a signed tag"
expect_content "$ROOT/etc/motd" "tagged one"

# a signed tag for another name, moved under refs/tags/production
commit_signed good 2 "staging build"
sign_tag staging
git -C "$REPO" update-ref refs/tags/production "$(git -C "$REPO" rev-parse staging)"
run_cfg apply
expect_rc 1 "renamed tag"
expect_err "is named 'staging' inside, not 'production'"
expect_content "$ROOT/etc/motd" "tagged one"

# an unsigned annotated tag, and a lightweight tag
git -C "$REPO" tag -f -a production -m unsigned HEAD
run_cfg verify
expect_rc 1 "unsigned tag"; expect_err "tag is not signed with an SSH key"
git -C "$REPO" tag -d production >/dev/null; git -C "$REPO" tag production HEAD
run_cfg verify
expect_rc 1 "lightweight tag"; expect_err "is not an annotated tag"

# a properly signed newer tag is accepted
git -C "$REPO" tag -d production >/dev/null; sign_tag production
run_cfg apply
expect_rc 2 "apply the newer signed tag"
expect_content "$ROOT/etc/motd" "staging build"

# a signed tag moved onto a signed commit whose parent is unsigned: the
# first-parent path from the anchor must be signed throughout
commit_unsigned 3 "unsigned step"
commit_signed good 4 "signed on top"
git -C "$REPO" tag -d production >/dev/null; sign_tag production
run_cfg apply
expect_rc 1 "a signed tag over an unsigned intermediate"
expect_err "commit $(head_commit HEAD~1 | cut -c1-12) (1 of 2 after the last applied"
expect_content "$ROOT/etc/motd" "staging build"
