#!/usr/bin/env bash
# Installs Debian packages the tests and checks need, as root or through sudo:
#
#   scripts/apt-install.sh PACKAGE...
#
# The package lists may be missing or stale on a fresh machine: they are
# refreshed only when the first install attempt fails.
set -euo pipefail

die() {
    echo "[apt-install] error: $*" >&2
    exit 1
}

(($# > 0)) || die "usage: $0 PACKAGE..."
apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "installing $* needs root: apt-get install $*"
    apt=(sudo "${apt[@]}")
fi
command -v apt-get >/dev/null 2>&1 || die "$* missing and there is no apt-get"
echo "[apt-install] installing $* with apt-get" >&2
if ! "${apt[@]}" install -y --no-install-recommends "$@" >&2; then
    "${apt[@]}" update >&2 || die "apt-get update failed"
    "${apt[@]}" install -y --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
fi
