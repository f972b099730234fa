#!/bin/bash
# The Makefile (issue 20, item 7): `make install PREFIX=/usr` after a plain
# `make` rebuilds what compiles the prefix in (plumb-send's directory), and
# an unchanged prefix rebuilds nothing; `make deps` (run by make check and
# make demo) calls neither apt-get nor npm when everything is installed.
. "$(dirname "$0")/../lib/lib.sh"
SRC=$(cd "$TESTS_DIR/.." && pwd)
unset MAKEFLAGS MAKELEVEL MFLAGS SANITIZE
B=$T/build
mk() { make -C "$SRC" --no-print-directory BUILD="$B" "$@" >"$T/make.out" 2>&1 || fail "make $*: $(tail -5 "$T/make.out")"; }

mk -j2 all
strings "$B/plumbd" | grep -qx /usr/local/libexec/plumb || fail "a plain make does not look in /usr/local/libexec/plumb"
mk -j2 PREFIX=/usr DESTDIR="$T/dest" install
grep -q 'helper\.c' "$T/make.out" || fail "a new PREFIX did not rebuild src/helper.o"
strings "$T/dest/usr/sbin/plumbd" | grep -qx /usr/libexec/plumb || fail "installed plumbd does not look in /usr/libexec/plumb"
strings "$T/dest/usr/sbin/plumbd" | grep -q /usr/local/libexec && fail "installed plumbd still looks in /usr/local/libexec"
strings "$T/dest/usr/bin/plumb" | grep -qx /usr/libexec/plumb || fail "installed plumb does not look in /usr/libexec/plumb"
[ -x "$T/dest/usr/libexec/plumb/plumb-send" ] || fail "plumb-send not installed in /usr/libexec/plumb"
[ -x "$T/dest/usr/libexec/plumb/plumb-fetch" ] || fail "plumb-fetch not installed in /usr/libexec/plumb"
[ -f "$T/dest/usr/share/bash-completion/completions/plumb" ] || fail "bash completion not installed"
mk PREFIX=/usr all
grep -q '^cc \|-o ' "$T/make.out" && fail "an unchanged PREFIX rebuilt: $(head -3 "$T/make.out")"

# deps.sh with apt-get, npm and sudo replaced by recorders.
mkdir -p "$T/bin"
for c in apt-get npm; do printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$c" "$T" > "$T/bin/$c"; chmod +x "$T/bin/$c"; done
command -v npm >/dev/null || skip "npm is not installed, so deps.sh would rightly install it"
rc=0; PATH=$T/bin:$PATH "$SRC/packaging/deps.sh" >"$T/out" 2>&1 || rc=$?
[ ! -s "$T/calls" ] || fail "deps.sh on a ready machine ran: $(cat "$T/calls") ($(cat "$T/out"))"
expect_rc 0 "deps.sh on a ready machine"
exit 0
