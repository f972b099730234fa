#!/bin/bash
# Man pages against --help (issue 20, item 6): an option in one and not the
# other fails, for plumb, plumbd and plumb-hub; every plumb command has its
# exit status documented; bash completion offers exactly the options and
# commands --help lists; the pages render without a groff warning.
. "$(dirname "$0")/../lib/lib.sh"
SRC=$(cd "$TESTS_DIR/.." && pwd)
MAN=$SRC/packaging/man
: "${PLUMBD:=$(dirname "$PLUMB")/plumbd}" "${PLUMB_HUB:=$(dirname "$PLUMB")/plumb-hub}"

# opts: the option names in a text, one a line, sorted ("-c", "--config").
opts() {
	sed 's/\\-/-/g; s/\\f[BIRP]//g' | grep -oE '(^|[^A-Za-z0-9_-])(--[a-z][a-z0-9-]*|-[A-Za-z])($|[^A-Za-z0-9_-])' |
		sed -E 's/^[^-]*//; s/[^a-z0-9A-Z-]*$//' | LC_ALL=C sort -u
}
compare() {  # NAME HELP-FILE MAN-PAGE
	opts < "$2" > "$T/help.opts"
	# OPTIONS and SYNOPSIS of the page: prose elsewhere may name plumb's options
	sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p; /^\.SH OPTIONS/,/^\.SH [^O]/p' "$3" | opts > "$T/man.opts"
	only_help=$(comm -23 "$T/help.opts" "$T/man.opts" | tr '\n' ' ')
	only_man=$(comm -13 "$T/help.opts" "$T/man.opts" | tr '\n' ' ')
	[ -z "$only_help$only_man" ] || fail "$1: in --help only: ${only_help:-none}; in $(basename "$3") only: ${only_man:-none}"
	note "$1: $(wc -l < "$T/help.opts") options, the same in --help and $(basename "$3")"
}

"$PLUMB" --help > "$T/plumb.help" || fail "plumb --help"
compare plumb "$T/plumb.help" "$MAN/plumb.8"
"$PLUMBD" --help > "$T/plumbd.help" || fail "plumbd --help"
compare plumbd "$T/plumbd.help" "$MAN/plumbd.8"
"$PLUMB_HUB" --help > "$T/hub.help" 2>&1 || true
grep -q '^usage: plumb-hub' "$T/hub.help" || fail "plumb-hub --help: $(head -3 "$T/hub.help")"
compare plumb-hub "$T/hub.help" "$MAN/plumb-hub.8"

# Every command of plumb --help: in COMMANDS and in EXIT STATUS.
cmds=$(sed -n '/^commands:/,/^$/p' "$T/plumb.help" | sed -n 's/^  \([a-z][a-z-]*\( reset\| requeue\)\{0,1\}\)\( .*\)\{0,1\}$/\1/p')
[ "$(echo "$cmds" | wc -l)" -ge 8 ] || fail "read only these commands from --help: $cmds"
exits=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH [^E]/p' "$MAN/plumb.8")
coms=$(sed -n '/^\.SH COMMANDS/,/^\.SH [^C]/p' "$MAN/plumb.8")
while read -r c; do
	grep -qE "^\.BI? \"?$c( |\"|\$)" <<<"$exits" || fail "plumb.8 EXIT STATUS does not document '$c'"
	grep -qE "^\.BI? \"?$c( |\"|\$)" <<<"$coms" || fail "plumb.8 COMMANDS does not describe '$c'"
done <<<"$cmds"
grep -q '^\.SH EXIT STATUS' "$MAN/plumbd.8" || fail "plumbd.8 has no EXIT STATUS"

# Bash completion: the same options and commands.
COMP=$SRC/packaging/completion/plumb.bash
words() { sed -n "$1" "$COMP" | grep -oE "compgen -W '[^']*'" | head -1 | sed "s/compgen -W '//; s/'//" | tr ' ' '\n' | grep . | LC_ALL=C sort -u; }
words '/--json --diff/p' > "$T/comp.plumb"
grep -- '^--' "$T/help.opts" > /dev/null
opts < "$T/plumb.help" | grep '^--' > "$T/want.plumb"
cmp -s "$T/comp.plumb" "$T/want.plumb" || fail "completion of plumb options: $(diff "$T/want.plumb" "$T/comp.plumb" | grep '^[<>]' | tr '\n' ' ')"
words '/--once/p' > "$T/comp.plumbd"
opts < "$T/plumbd.help" | grep '^--' > "$T/want.plumbd"
cmp -s "$T/comp.plumbd" "$T/want.plumbd" || fail "completion of plumbd options: $(diff "$T/want.plumbd" "$T/comp.plumbd" | grep '^[<>]' | tr '\n' ' ')"
words '/check apply verify/p' > "$T/comp.cmds"
echo "$cmds" | sed 's/ reset$//; s/ requeue$//' | LC_ALL=C sort -u > "$T/want.cmds"
cmp -s "$T/comp.cmds" "$T/want.cmds" || fail "completion of plumb commands: $(diff "$T/want.cmds" "$T/comp.cmds" | grep '^[<>]' | tr '\n' ' ')"
bash -n "$COMP" || fail "the completion script does not parse"
if [ -f /usr/share/bash-completion/bash_completion ]; then
	out=$(bash -c '. /usr/share/bash-completion/bash_completion; . "$1"; COMP_WORDS=(plumb ch); COMP_CWORD=1; COMP_LINE="plumb ch"; COMP_POINT=8; _plumb plumb ch plumb; echo "${COMPREPLY[*]}"' _ "$COMP")
	[ "$out" = "check check-config" ] || fail "completing 'plumb ch' gives '$out'"
fi

for m in "$MAN"/*.[58]; do
	groff -man -ww -z "$m" 2>"$T/groff"; [ -s "$T/groff" ] && fail "$(basename "$m"): $(cat "$T/groff")"
done
exit 0
