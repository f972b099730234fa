#!/bin/sh
# deps.sh - installs the Debian packages plumb's build and tests need, and
# only when one is missing (so `make check` stays fast on a ready machine).
set -eu
PKGS="build-essential pkg-config libyaml-dev libjansson-dev libssl-dev libgit2-dev libcurl4-openssl-dev libseccomp-dev libnftables1 nftables iptables libcmocka-dev
      python3 python3-jsonschema git openssh-client openssh-server openssl iproute2 procps curl
      libmicrohttpd-dev libsqlite3-dev libpq-dev postgresql chromium
      libgnutls28-dev dpkg-dev debhelper lintian mmdebstrap systemd bash-completion groff-base acl strace prometheus
      prometheus-alertmanager"
# The hub's browser test drives Debian's chromium with playwright-core (npm).
# Node may come from Debian or elsewhere; only install Debian's if absent.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
browser() {
	dir=$(dirname "$0")/../tests/browser
	[ -d "$dir/node_modules/playwright-core" ] && return 0
	echo "deps: npm install playwright-core (tests/browser)"
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
}
if [ -z "$missing" ]; then
	browser
	exit 0
fi
echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root, or: sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
browser
