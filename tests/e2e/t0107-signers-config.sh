#!/bin/bash
# Issue 14 items 5 and 8: one unusable allowed_signers line (a security key,
# DSA, a certificate, cert-authority) is skipped with a warning naming
# file:line and the other lines still verify; check-config loads
# allowed_signers and every file the configuration names, and fails on a
# missing or unusable one.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"

mk_repo
mk_key dev ed25519
commit_signed dev 1 "signed by dev"
write_cfg
# a developer's security key: only its public blob is needed to list it
sk=$(python3 -c 'import base64,os,struct
s=lambda b: struct.pack(">I",len(b))+b
print(base64.b64encode(s(b"sk-ssh-ed25519@openssh.com")+s(os.urandom(32))+s(b"ssh:")).decode())')
good="ci@example.com $(cut -d' ' -f1,2 "$KEYS/dev.pub")"

# item 5: a mixed file verifies, and says which line it skipped and why
printf 'alice@example.com sk-ssh-ed25519@openssh.com %s\n%s\n' "$sk" "$good" > "$SIGNERS"
oracle "$(head_commit)" || fail "git verify-commit rejects the mixed file"
run_cfg verify
expect_rc 0 "verify with an sk- line before the good one"
expect_out "signer      ci@example.com"
expect_err "$SIGNERS:1: line skipped: key type 'sk-ssh-ed25519@openssh.com' is not supported"
note "an sk- line is skipped with file:line, the good line verifies"
mk_key dsa dsa
mk_key rsa1024 rsa 1024
for k in dsa rsa1024; do
	printf 'old@example.com %s\n%s\n' "$(cut -d' ' -f1,2 "$KEYS/$k.pub")" "$good" > "$SIGNERS"
	run_cfg verify
	expect_rc 0 "verify with a $k line before the good one"
	expect_err "$SIGNERS:1: line skipped"
done
printf 'ci@example.com cert-authority %s\n%s\n' "$(cut -d' ' -f1,2 "$KEYS/dev.pub")" "$good" > "$SIGNERS"
run_cfg verify
expect_rc 0 "verify with a cert-authority line before the good one"
expect_err "$SIGNERS:1: line skipped: cert-authority is not supported"
note "DSA, RSA-1024 and cert-authority lines are skipped the same way"

# item 8: check-config reads allowed_signers
printf 'alice@example.com sk-ssh-ed25519@openssh.com %s\n%s\n' "$sk" "$good" > "$SIGNERS"
run_cfg check-config
expect_rc 0 "check-config with one skipped line"
expect_out "configuration OK: $CFG (1 warning)"
expect_err "$SIGNERS:1: line skipped"
rm -f "$SIGNERS"
run_cfg check-config
expect_rc 1 "check-config with allowed_signers missing"
expect_err "cannot open allowed signers '$SIGNERS'"
printf 'alice@example.com sk-ssh-ed25519@openssh.com %s\n# nothing else\n' "$sk" > "$SIGNERS"
run_cfg check-config
expect_rc 1 "check-config with no usable line"
expect_err "$SIGNERS: no usable line"
expect_err "$SIGNERS:1: line skipped"
run_cfg verify
expect_rc 1 "verify with no usable line"
: > "$SIGNERS"
run_cfg check-config
expect_rc 1 "check-config with an empty allowed_signers"
expect_err "$SIGNERS: no keys"
printf 'ci@example.com namespaces=git %s\n' "$(cut -d' ' -f1,2 "$KEYS/dev.pub")" > "$SIGNERS"
run_cfg check-config
expect_rc 1 "check-config with only a line OpenSSH rejects"
expect_err "$SIGNERS:1: line skipped: bad options: a value is not in double quotes"
printf 'source:\n  url: %s\nstate_dir: %s\n' "$REPO" "$STATE" > "$T/nosigners.yaml"
rc=0; "$PLUMB" -c "$T/nosigners.yaml" check-config >"$T/out" 2>"$T/err" || rc=$?
expect_rc 1 "check-config with source.url and no allowed_signers"
expect_err "source.allowed_signers is required with source.url"
note "check-config fails on a missing, empty or unusable allowed_signers"

# and the other files it names: secrets closed to group and others
echo "$good" > "$SIGNERS"
echo tok > "$T/token"; chmod 0644 "$T/token"
write_cfg "report:
  url: http://127.0.0.1:9/v1/reports
  token_file: $T/token"
run_cfg check-config
expect_rc 1 "check-config with a world-readable token file"
expect_err "report.token_file: '$T/token' is open to group or others (mode 0644)"
chmod 0600 "$T/token"
run_cfg check-config
expect_rc 0 "check-config with a 0600 token file"
expect_out "configuration OK: $CFG"
rm -f "$T/token"
run_cfg check-config
expect_rc 0 "check-config with the token not mounted yet"
expect_out "(1 warning)"
expect_err "report.token_file '$T/token' does not exist"
write_cfg "report:
  url: http://127.0.0.1:9/v1/reports
  ca_file: $T/no-ca.pem"
run_cfg check-config
expect_rc 1 "check-config with a missing report.ca_file"
expect_err "report.ca_file: cannot open '$T/no-ca.pem'"
note "token file modes, missing secrets (warning) and CA files (error)"
