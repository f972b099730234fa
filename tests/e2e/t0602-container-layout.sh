#!/bin/bash
# packaging/Containerfile cannot be built here (no container runtime, no
# registry), so this builds the same root filesystem: the agent's .deb
# (plumb, never plumb-hub: an image needs no hub libraries) unpacked
# (dpkg -x) plus every COPY line of the Containerfile, from a build context
# whose agent.yaml points at a local signed repository of the example
# baseline. Then, chrooted into that root (host libraries bind-mounted, a
# private mount and network namespace), it runs what the image runs:
# plumb check-config, plumb check (drift on a bare image), plumb apply, and
# plumb check again (compliant).
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
SRC=$(cd "$TESTS_DIR/.." && pwd)
command -v unshare >/dev/null || skip "no unshare"
deb=$(cd "$SRC" && packaging/mkdeb.sh 2>"$T/err" | grep '/plumb_[^/]*\.deb$') || fail "mkdeb.sh failed: $(tail -5 "$T/err")"
arg=$(sed -n 's/^ARG PLUMB_DEB=//p' "$SRC/packaging/Containerfile")
[ "$arg" = "$(basename "$deb")" ] || fail "the Containerfile installs $arg, make deb builds $(basename "$deb")"
grep -q 'plumb-hub' <(grep -E '^(COPY|RUN|ARG)' "$SRC/packaging/Containerfile") && fail "the Containerfile installs plumb-hub"
R=$T/image
dpkg -x "$SRC/$deb" "$R"
# What debian:12-slim brings that matters here: the usrmerge links and the
# account files. The package ships /lib/systemd/system; on the image's
# merged /usr, dpkg puts it under /usr/lib through the /lib link.
mkdir -p "$R/usr/lib"
if [ -d "$R/lib" ] && [ ! -L "$R/lib" ]; then cp -a "$R/lib/." "$R/usr/lib/"; rm -rf "$R/lib"; fi
ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"; mkdir -p "$R/usr/lib64" "$R/proc" "$R/dev" "$R/tmp" "$R/srv"
# debian:12-slim's /bin/sh is dash (the baseline's notify: commands need it).
[ -e "$R/bin" ] || ln -s usr/bin "$R/bin"
install -D -m 0755 "$(command -v dash)" "$R/usr/bin/dash"; ln -sf dash "$R/usr/bin/sh"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nshadow:x:42:\n' > "$R/etc/group"
printf 'root:*::\n' > "$R/etc/shadow"; printf 'root:*::\n' > "$R/etc/gshadow"
# ... and what the Containerfile's apt-get install adds beside the package:
# netbase's /etc/protocols and /etc/services (nft resolves "icmp", "tcp").
grep -q 'netbase' "$SRC/packaging/Containerfile" || fail "the Containerfile does not install netbase"
cp /etc/protocols /etc/services "$R/etc/"
# and cracklib-runtime, which the example baseline requires (packages:).
grep -q 'cracklib-runtime' "$SRC/packaging/Containerfile" || fail "the Containerfile does not install cracklib-runtime"
mkdir -p "$R/var/lib/dpkg"
printf 'Package: cracklib-runtime\nStatus: install ok installed\nVersion: 2.9.6-5+b1\nArchitecture: amd64\n\n' \
	> "$R/var/lib/dpkg/status"
# The image's kernel parameters are the host's: kernel.*, fs.* and vm.* go
# to copies (tests/lib/ksys-sandbox.sh makes them) bound over the image's
# /proc/sys, so the host's kernel is never changed; net.* is the namespace's.
"$TESTS_DIR/lib/ksys-sandbox.sh" "$T/ksys" true

# The build context: a signing key of our own, a signed repository of the
# example baseline inside the image (/srv/baselines.git), and agent.yaml.
CTX=$T/ctx; mkdir -p "$CTX"
mk_key release ed25519
allow release@example.com release 'namespaces="git"'
cp "$SIGNERS" "$CTX/allowed_signers"
IMGREPO=$R/srv/baselines.git
git init -q -b main "$IMGREPO"
cp -a "$SRC/baselines/." "$IMGREPO/"
git -C "$IMGREPO" add -A
git -C "$IMGREPO" -c gpg.format=ssh -c user.signingkey="$KEYS/release" commit -q -S -m "example baseline"
sed -e 's|^  url: https://git.example.com/infra/baselines.git|  url: /srv/baselines.git|' -e '/^report:/,$d' \
	"$SRC/packaging/container/agent.yaml" > "$CTX/agent.yaml"
grep -q '^  url: /srv/baselines.git' "$CTX/agent.yaml" || fail "could not point the image's agent.yaml at the test repository"
: > "$CTX/hub-ca.pem"
cp "$SRC/$deb" "$CTX/"

# Every COPY of the Containerfile, as the builder would do it.
n=0
while read -r _ chmod src dst; do
	case $chmod in --chmod=*) ;; *) fail "COPY without --chmod: $chmod $src $dst";; esac
	src=${src//\$\{PLUMB_DEB\}/$(basename "$deb")}; dst=${dst//\$\{PLUMB_DEB\}/$(basename "$deb")}
	install -D -m "${chmod#--chmod=}" "$CTX/$src" "$R$dst"
	n=$((n + 1))
done < <(grep -E '^COPY --chmod=' "$SRC/packaging/Containerfile")
[ "$n" -ge 3 ] || fail "found only $n COPY --chmod lines in the Containerfile"

# Inside the image: a private mount and network namespace, host libraries
# bind-mounted read-only (the image would have its own).
cat > "$T/inside.sh" <<'S'
set -e
R=$1 K=$2; shift 2
for d in usr/lib/x86_64-linux-gnu usr/lib64; do
	mkdir -p "$R/$d"; mount --bind -o ro "/$d" "$R/$d"
done
touch "$R/etc/ld.so.cache"; mount --bind -o ro /etc/ld.so.cache "$R/etc/ld.so.cache"
mount -t proc proc "$R/proc"
for d in kernel fs vm; do mount --bind "$K/$d" "$R/proc/sys/$d"; done
mount --bind /dev "$R/dev"
ip link set lo up 2>/dev/null || true
exec chroot "$R" "$@"
S
NS=plumb-t0602-$$
ip netns add "$NS" 2>/dev/null || skip "cannot create a network namespace"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
inimage() {
	rc=0
	ip netns exec "$NS" unshare --mount --propagation private bash "$T/inside.sh" "$R" "$T/ksys" "$@" >"$T/out" 2>"$T/err" || rc=$?
}

inimage /usr/bin/plumb check-config
expect_rc 0 "plumb check-config in the image"
inimage /usr/bin/plumb verify
expect_rc 0 "plumb verify in the image"
expect_out "release@example.com"
inimage /usr/bin/plumb check
expect_rc 2 "plumb check on a bare image"
inimage /usr/bin/plumb apply
expect_rc 2 "plumb apply in the image"
expect_out " 0 failed"
inimage /usr/bin/plumb check
expect_rc 0 "plumb check after apply"
cmp -s "$R/etc/login.defs" "$SRC/baselines/files/login/login.defs" || fail "login.defs not in the image"
[ "$(stat -c %a "$R/etc/shadow")" = 640 ] || fail "shadow mode in the image"
[ "$(stat -c %a "$R/var/lib/plumb")" = 711 ] || fail "/var/lib/plumb is not 0711 (searchable only: the fetch user reaches cache.git)"
