# gitsign.sh - signed baseline repositories for end-to-end tests: throwaway
# SSH keys, an allowed_signers file, commits signed by stock `git commit -S`
# (gpg.format=ssh), and an agent config pointing at the repository.
# Source after lib.sh.
KEYS=$T/keys REPO=$T/repo SIGNERS=$T/allowed_signers CFG=$T/agent.yaml
mkdir -p "$KEYS"
: > "$SIGNERS"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
# the cache belongs to the fetch user when it exists: let root's git read it
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
export GIT_AUTHOR_NAME=pipeline GIT_AUTHOR_EMAIL=pipeline@example.com
export GIT_COMMITTER_NAME=pipeline GIT_COMMITTER_EMAIL=pipeline@example.com

# mk_key NAME TYPE [BITS]
mk_key() { ssh-keygen -q -t "$2" ${3:+-b "$3"} -f "$KEYS/$1" -N '' -C "$1"; }
# allow PRINCIPAL KEYNAME [OPTIONS]
allow() { echo "$1 ${3:+$3 }$(cut -d' ' -f1,2 "$KEYS/$2.pub")" >> "$SIGNERS"; }
fingerprint() { ssh-keygen -lf "$KEYS/$1.pub" | cut -d' ' -f2; }

mk_repo() {
	git init -q -b main "$REPO"
	git -C "$REPO" config gpg.format ssh
	mkdir -p "$REPO/files"
}
# write_baseline SERIAL MOTD [EXTRA_YAML]: the repo's baseline.yaml and files/motd
write_baseline() {
	printf '%s\n' "$2" > "$REPO/files/motd"
	printf 'version: 1\nserial: %s\nfiles:\n  - path: /etc/motd\n    source: files/motd\n    mode: "0644"\n%s' \
		"$1" "${3:-}" > "$REPO/baseline.yaml"
	git -C "$REPO" add -A
}
# commit_signed KEY SERIAL MOTD [EXTRA_YAML]
commit_signed() {
	write_baseline "$2" "$3" "${4:-}"
	git -C "$REPO" -c user.signingkey="$KEYS/$1" commit -q -S --allow-empty -m "baseline $2"
}
commit_unsigned() { write_baseline "$1" "$2" "${3:-}"; git -C "$REPO" commit -q --allow-empty -m "baseline $1 (unsigned)"; }
head_commit() { git -C "$REPO" rev-parse "${1:-HEAD}"; }

# write_cfg [EXTRA_LINES]: agent config for the repo, the sandbox root and state
write_cfg() {
	cat > "$CFG" <<C
source:
  url: ${URL:-$REPO}
  allowed_signers: $SIGNERS
${1:-}
state_dir: $STATE
root: $ROOT
C
}
# run_cfg ARGS...: plumb -c $CFG; rc, $T/out, $T/err
run_cfg() { rc=0; "$PLUMB" -c "$CFG" "$@" >"$T/out" 2>"$T/err" || rc=$?; }
# oracle COMMIT: git's own verdict (0 good) with the same allowed_signers
oracle() { git -C "$REPO" -c gpg.ssh.allowedSignersFile="$SIGNERS" verify-commit "$1" >/dev/null 2>&1; }
# forge_commit RAWFILE: writes a commit object as given and points main at it
forge_commit() {
	local id
	id=$(git -C "$REPO" hash-object --literally -t commit -w "$1")
	git -C "$REPO" update-ref refs/heads/main "$id"
	echo "$id"
}
